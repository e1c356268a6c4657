// CoordinatorWatch (cluster/agent/coordinator_watch.h): an agent that was itself
// suspended asks its coordinator before giving up its share.
#include "cluster/agent/coordinator_watch.h"

#include <gtest/gtest.h>

using loadpilot::agents::CoordinatorWatch;
using Verdict = CoordinatorWatch::Verdict;
using namespace std::chrono_literals;

namespace {

CoordinatorWatch::Clock::time_point at(std::chrono::milliseconds ms) {
  return CoordinatorWatch::Clock::time_point(100s) + ms;
}

CoordinatorWatch watch() { return CoordinatorWatch(at(0ms), 5s, 1s, 3s); }

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
