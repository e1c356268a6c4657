// The capacity search's strategy with made-up step outcomes
// (capacity/search.h): no traffic, no clock.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "capacity/search.h"

namespace loadpilot::capacity {
namespace {

struct Ran {
  double rps;
  StepKind kind;
};

// Runs the search against a target that passes every step below `truth`
// (and fails at or above it), each step taking options.step_s. `judge`
// may override an outcome (e.g. a confirm that fails).
std::vector<Ran> drive(Search& search, double truth,
                       std::function<StepOutcome(const Step&, StepOutcome)> judge = nullptr) {
  std::vector<Ran> ran;
  double elapsed = 0;
  while (auto step = search.next(elapsed)) {
    ran.push_back({step->rps, step->kind});
    StepOutcome o = step->rps < truth ? StepOutcome::kPass : StepOutcome::kFail;
    if (judge) o = judge(*step, o);
    search.record(o);
    elapsed += search.options().step_s;
    if (ran.size() > 200) break;
  }
  return ran;
}

TEST(CapacitySearch, BracketsGeometricallyThenBisectsAndConfirms) {
  Search s({.rps_min = 100, .rps_max = 100'000, .precision = 0.05, .budget_s = 1e9});
  auto ran = drive(s, 450);
  ASSERT_GE(ran.size(), 5u);
  EXPECT_EQ(ran[0].rps, 100);
  EXPECT_EQ(ran[1].rps, 200);
  EXPECT_EQ(ran[2].rps, 400);
  EXPECT_EQ(ran[3].rps, 800);  // the first failure: the bracket is [400, 800)
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ran[i].kind, StepKind::kBracket);
  EXPECT_EQ(ran[4].rps, 600);
  EXPECT_EQ(ran[4].kind, StepKind::kBisect);
  EXPECT_EQ(ran.back().kind, StepKind::kConfirm);
  EXPECT_EQ(ran.back().rps, s.answer().capacity);
  ASSERT_TRUE(s.done());
  const Answer& a = s.answer();
  EXPECT_TRUE(a.found);
  EXPECT_TRUE(a.confirmed);
  EXPECT_EQ(a.limit, "target");
  EXPECT_LT(a.capacity, 450);
  EXPECT_GE(a.failed_above, 450);
  EXPECT_LE(a.precision, 0.05);
  EXPECT_GE(a.capacity, 450 / 1.05);
}

TEST(CapacitySearch, StopsAtThePrecision) {
  for (double precision : {0.2, 0.05, 0.01}) {
    Search s({.rps_min = 10, .rps_max = 1e6, .precision = precision, .budget_s = 1e9});
    drive(s, 1234);
    const Answer& a = s.answer();
    EXPECT_TRUE(a.found) << precision;
    EXPECT_LE(a.precision, precision);
    // One bisection fewer would not have been enough: no wasted step.
    EXPECT_GT(2 * a.precision, precision) << precision;
    EXPECT_LT(a.capacity, 1234);
    EXPECT_GE(a.failed_above, 1234);
  }
}

TEST(CapacitySearch, BudgetStopsBeforeAStepThatWouldNotFit) {
  // 10 s steps and a 35 s budget: three steps fit, a fourth would end at 40.
  Search s({.rps_min = 100, .rps_max = 1e6, .budget_s = 35, .step_s = 10});
  auto ran = drive(s, 1e5);
  EXPECT_EQ(ran.size(), 3u);
  const Answer& a = s.answer();
  EXPECT_EQ(a.limit, "budget");
  EXPECT_TRUE(a.found);  // 400/s passed, though the search did not finish
  EXPECT_FALSE(a.confirmed);
  EXPECT_EQ(a.capacity, 400);
  EXPECT_EQ(a.failed_above, 0);
}

TEST(CapacitySearch, BudgetTooShortForOneStepFindsNothing) {
  Search s({.rps_min = 100, .budget_s = 3, .step_s = 4});
  EXPECT_TRUE(drive(s, 1e5).empty());
  EXPECT_FALSE(s.answer().found);
  EXPECT_EQ(s.answer().limit, "budget");
}

TEST(CapacitySearch, RpsMinFailingIsNotFound) {
  Search s({.rps_min = 100, .rps_max = 1000});
  auto ran = drive(s, 50);
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_FALSE(s.answer().found);
  EXPECT_EQ(s.answer().limit, "rps_min");
  EXPECT_EQ(s.answer().capacity, 0);
}

TEST(CapacitySearch, ConfirmThatFailsMovesTheBracketDown) {
  // The first confirm fails (the target is noisy at that rate): the
  // search must not report it, but bisect below it and confirm again.
  Search s({.rps_min = 100, .rps_max = 1e6, .precision = 0.05, .budget_s = 1e9});
  int confirms = 0;
  double first_confirm = 0;
  auto ran = drive(s, 450, [&](const Step& step, StepOutcome o) {
    if (step.kind != StepKind::kConfirm) return o;
    if (++confirms == 1) {
      first_confirm = step.rps;
      return StepOutcome::kFail;
    }
    return o;
  });
  EXPECT_EQ(confirms, 2);
  const Answer& a = s.answer();
  EXPECT_TRUE(a.found);
  EXPECT_TRUE(a.confirmed);
  EXPECT_LT(a.capacity, first_confirm);
  EXPECT_EQ(a.failed_above <= first_confirm, true);
  EXPECT_LE(a.precision, 0.05);
}

TEST(CapacitySearch, ConfirmFailingAtRpsMinIsNotFound) {
  // rps_min passes once, everything above fails, and the repeat of rps_min
  // fails too: no rate held twice.
  Search s({.rps_min = 100, .rps_max = 1e6, .precision = 0.5});
  drive(s, 101, [](const Step& step, StepOutcome o) {
    return step.kind == StepKind::kConfirm ? StepOutcome::kFail : o;
  });
  EXPECT_FALSE(s.answer().found);
  EXPECT_EQ(s.answer().limit, "rps_min");
}

TEST(CapacitySearch, RpsMaxPassingIsAtLeastRpsMax) {
  Search s({.rps_min = 100, .rps_max = 300});
  auto ran = drive(s, 1e9);
  ASSERT_EQ(ran.size(), 4u);  // 100, 200, 300 (capped), confirm 300
  EXPECT_EQ(ran[2].rps, 300);
  EXPECT_EQ(ran[3].kind, StepKind::kConfirm);
  EXPECT_TRUE(s.answer().found);
  EXPECT_EQ(s.answer().limit, "rps_max");
  EXPECT_EQ(s.answer().capacity, 300);
}

TEST(CapacitySearch, GeneratorLimitedStepEndsTheSearchWithALowerBound) {
  Search s({.rps_min = 100, .rps_max = 1e6});
  auto ran = drive(s, 1e9, [](const Step& step, StepOutcome o) {
    return step.rps >= 800 ? StepOutcome::kGeneratorLimited : o;
  });
  EXPECT_EQ(ran.size(), 4u);
  EXPECT_TRUE(s.answer().found);
  EXPECT_EQ(s.answer().limit, "generator");
  EXPECT_EQ(s.answer().capacity, 400);
}

TEST(CapacitySearch, WithoutConfirmTheBisectionIsTheAnswer) {
  Search s({.rps_min = 100, .rps_max = 1e6, .precision = 0.05, .budget_s = 1e9, .confirm = false});
  auto ran = drive(s, 450);
  for (const Ran& r : ran) EXPECT_NE(r.kind, StepKind::kConfirm);
  EXPECT_TRUE(s.answer().found);
  EXPECT_FALSE(s.answer().confirmed);
}

TEST(CapacitySearch, RefusesBadOptionsAndMisuse) {
  EXPECT_THROW(Search({.rps_min = 0}), std::invalid_argument);
  EXPECT_THROW(Search({.rps_min = 10, .rps_max = 5}), std::invalid_argument);
  EXPECT_THROW(Search({.precision = 0}), std::invalid_argument);
  EXPECT_THROW(Search({.growth = 1}), std::invalid_argument);
  Search s({});
  EXPECT_THROW(s.record(StepOutcome::kPass), std::logic_error);
  ASSERT_TRUE(s.next(0));
  EXPECT_THROW(s.next(0), std::logic_error);
}

}  // namespace
}  // namespace loadpilot::capacity
