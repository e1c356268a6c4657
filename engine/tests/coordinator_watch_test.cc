// CoordinatorWatch (cluster/agent/coordinator_watch.h): an agent that was itself
// suspended, or cut off from the NATS server, asks its coordinator before
// giving up its share; cut off, it keeps its schedule for a bounded time.
#include "cluster/agent/coordinator_watch.h"

#include <gtest/gtest.h>

using loadpilot::agents::CoordinatorWatch;
using Verdict = CoordinatorWatch::Verdict;
using namespace std::chrono_literals;

namespace {

CoordinatorWatch::Clock::time_point at(std::chrono::milliseconds ms) {
  return CoordinatorWatch::Clock::time_point(100s) + ms;
}

CoordinatorWatch watch() { return CoordinatorWatch(at(0ms), 5s, 1s, 3s, 30s); }

}  // namespace

TEST(CoordinatorWatch, ASilentCoordinatorIsGivenUpAfterTheSilence) {
  CoordinatorWatch w = watch();
  for (auto t = 250ms; t < 5000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kFine);
  EXPECT_EQ(w.check(at(5000ms)), Verdict::kGiveUp);
}

// Suspended for 6 s while its coordinator was alive: the heartbeats sent
// meanwhile come after the agent's own first check.
TEST(CoordinatorWatch, AfterAPauseItAsksAndAnAnswerKeepsTheShare) {
  CoordinatorWatch w = watch();
  EXPECT_EQ(w.check(at(250ms)), Verdict::kFine);
  EXPECT_EQ(w.check(at(6250ms)), Verdict::kAsk);
  EXPECT_EQ(w.check(at(6500ms)), Verdict::kWait);
  w.beat(at(6600ms));
  EXPECT_EQ(w.check(at(6750ms)), Verdict::kFine);
  for (auto t = 7000ms; t < 11000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kFine);
}

TEST(CoordinatorWatch, AfterAPauseWithNoAnswerItGivesUpWithinTheGrace) {
  CoordinatorWatch w = watch();
  EXPECT_EQ(w.check(at(250ms)), Verdict::kFine);
  EXPECT_EQ(w.check(at(6250ms)), Verdict::kAsk);
  auto t = 6500ms;
  for (; t < 9250ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kWait);
  EXPECT_EQ(w.check(at(9250ms)), Verdict::kGiveUp);
}

TEST(CoordinatorWatch, AShortPauseWithRecentBeatsIsFine) {
  CoordinatorWatch w = watch();
  w.beat(at(1000ms));
  EXPECT_EQ(w.check(at(3000ms)), Verdict::kFine);  // a 3 s gap, beat 2 s ago
}

// Its link to the server goes down 1 s in, for 8 s: the silence is its
// own link's, so it keeps its schedule; back on the server it asks, and
// the coordinator's answer keeps its share.
TEST(CoordinatorWatch, CutOffFromTheServerItKeepsItsScheduleAndAsksWhenBack) {
  CoordinatorWatch w = watch();
  w.beat(at(900ms));
  auto t = 250ms;
  for (; t < 1000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kFine);
  for (; t < 5900ms; t += 250ms) EXPECT_EQ(w.check(at(t), false), Verdict::kFine) << t.count();
  for (; t < 9000ms; t += 250ms) EXPECT_EQ(w.check(at(t), false), Verdict::kUnlinked) << t.count();
  EXPECT_EQ(w.check(at(9000ms)), Verdict::kAsk);
  EXPECT_EQ(w.check(at(9250ms)), Verdict::kWait);
  w.beat(at(9300ms));
  for (t = 9500ms; t < 14000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kFine);
}

TEST(CoordinatorWatch, BackOnTheServerWithNoAnswerItGivesUpWithinTheGrace) {
  CoordinatorWatch w = watch();
  auto t = 250ms;
  for (; t < 10000ms; t += 250ms) EXPECT_NE(w.check(at(t), false), Verdict::kGiveUp);
  EXPECT_EQ(w.check(at(10000ms)), Verdict::kAsk);
  for (t = 10250ms; t < 13000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kWait);
  EXPECT_EQ(w.check(at(13000ms)), Verdict::kGiveUp);
}

// No agent loads a target unwatched for ever: cut off for the whole limit,
// it gives up.
TEST(CoordinatorWatch, CutOffForTheWholeLimitItGivesUp) {
  CoordinatorWatch w = watch();
  auto t = 250ms;
  for (; t < 30000ms; t += 250ms) EXPECT_NE(w.check(at(t), false), Verdict::kGiveUp) << t.count();
  EXPECT_EQ(w.check(at(30000ms), false), Verdict::kGiveUp);
}

// A link that flaps without a heartbeat between: the silence counts from
// the last heartbeat, not from the last time it was cut off.
TEST(CoordinatorWatch, ReachingTheServerButHearingNothingStillGivesUpAfterTheSilence) {
  CoordinatorWatch w = watch();
  EXPECT_EQ(w.check(at(250ms), false), Verdict::kFine);
  EXPECT_EQ(w.check(at(500ms)), Verdict::kFine);  // back, heard 0.5 s ago: nothing to ask
  for (auto t = 750ms; t < 5000ms; t += 250ms) EXPECT_EQ(w.check(at(t)), Verdict::kFine);
  EXPECT_EQ(w.check(at(5000ms)), Verdict::kGiveUp);
}
