// The books checked at the end of every run (report/books.h): counts that
// do not add up are a problem that fails the run, never silent.
#include "report/books.h"

#include <gtest/gtest.h>

using loadpilot::report::check_books;
using loadpilot::report::Summary;

namespace {

Summary books(double planned, std::uint64_t started, std::uint64_t dropped,
              std::uint64_t not_started, std::uint64_t finished, std::uint64_t cut_off) {
  Summary s;
  s.planned_iterations = planned;
  s.started = started;
  s.dropped = dropped;
  s.not_started = not_started;
  s.iterations = finished;
  s.cut_off = cut_off;
  return s;
}

}  // namespace

TEST(Books, HoldForARunThatAddsUp) {
  EXPECT_TRUE(check_books(books(600, 590, 6, 4, 588, 2), true).empty());
  // A planned count H(total) that is not whole rounds up.
  EXPECT_TRUE(check_books(books(599.5, 600, 0, 0, 600, 0), true).empty());
}

// A frame counted twice once read "started 626 of 600 planned" and passed.
TEST(Books, MoreStartedThanPlannedFailsTheRun) {
  const auto out = check_books(books(600, 626, 0, 0, 626, 0), true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("626 iterations started of 600 planned"), std::string::npos) << out[0];
}

TEST(Books, PlannedMustBeStartedPlusDroppedPlusNotStarted) {
  const auto out = check_books(books(600, 500, 90, 0, 500, 0), true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("planned 600 != started 500 + dropped 90 + not started 0"),
            std::string::npos)
      << out[0];
}

TEST(Books, StartedMustBeFinishedPlusCutOff) {
  const auto out = check_books(books(40, 40, 0, 0, 40, 3), true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("started 40 != finished 40 + cut off 3"), std::string::npos) << out[0];
}

TEST(Books, AClosedLoopHasNoPlanToCheck) {
  EXPECT_TRUE(check_books(books(0, 900, 0, 0, 899, 1), false).empty());
  EXPECT_EQ(check_books(books(0, 900, 0, 0, 890, 1), false).size(), 1u);
}

TEST(Books, AViolationIsAFailingProblem) {
  Summary s = books(600, 626, 0, 0, 626, 0);
  for (std::string& p : check_books(s, true)) s.add_problem(std::move(p));
  EXPECT_FALSE(s.passed);
  EXPECT_EQ(s.problems.size(), 1u);
}

namespace {

// A run whose books hold, with one task row.
Summary with_task(std::uint64_t requests, std::uint64_t iterations, std::uint64_t wire) {
  Summary s = books(600, 600, 0, 0, 600, 0);
  loadpilot::report::TaskSummary t;
  t.name = "buy";
  t.requests = requests;
  t.iterations = iterations;
  t.wire_iterations = wire;
  s.tasks.push_back(t);
  return s;
}

}  // namespace

// Per task: every iteration that reached the wire counted its request(s).
TEST(Books, FewerRequestsThanIterationsThatSentOneFailsTheRun) {
  Summary s = with_task(590, 600, 600);
  const auto out = check_books(s, true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].find("task buy counted 590 requests but 600 iterations that sent at least one"),
            std::string::npos)
      << out[0];
  for (std::string p : out) s.add_problem(std::move(p));
  EXPECT_FALSE(s.passed);
}

TEST(Books, MoreRequestsThanIterationsHold) {
  // Several requests per iteration, and iterations that sent none.
  EXPECT_TRUE(check_books(with_task(1800, 600, 600), true).empty());
  EXPECT_TRUE(check_books(with_task(300, 600, 300), true).empty());
}

// A Python task that only computes: 0 requests, 600 iterations, none of
// which reached the wire. Not a violation.
TEST(Books, ATaskThatSendsNothingHolds) {
  EXPECT_TRUE(check_books(with_task(0, 600, 0), true).empty());
}

// An agent of an older version did not report the count: not checked.
TEST(Books, AnUnknownWireCountIsNotChecked) {
  Summary s = with_task(0, 600, 600);
  s.tasks[0].wire_known = false;
  EXPECT_TRUE(check_books(s, true).empty());
}

// The results file carries the count per task; null when not known.
TEST(Books, TheResultsFileCarriesWireIterationsPerTask) {
  Summary s = with_task(1200, 600, 600);
  EXPECT_EQ(s.to_json()["tasks"][0]["wire_iterations"], 600u);
  s.tasks[0].wire_known = false;
  EXPECT_TRUE(s.to_json()["tasks"][0]["wire_iterations"].is_null());
}
