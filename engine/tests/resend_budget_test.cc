// ResendBudget (cluster/agent/resend_budget.h): a flood of `resend` requests for
// one run republishes at most the budget per window.
#include "cluster/agent/resend_budget.h"

#include <gtest/gtest.h>

using loadpilot::agents::ResendBudget;
using namespace std::chrono_literals;

TEST(ResendBudget, AFloodGetsTheWindowsBudgetAndTheRestIsCounted) {
  ResendBudget budget(60, 1s);
  const auto t0 = ResendBudget::Clock::time_point(100s);
  // 50 requests of 600 frames each within one second: 30,000 frames asked.
  std::size_t sent = 0;
  for (int i = 0; i < 50; ++i) sent += budget.take(600, t0 + i * 10ms);
  EXPECT_EQ(sent, 60u);
  EXPECT_EQ(budget.refused(), 50u * 600 - 60);
}

TEST(ResendBudget, ARealCoordinatorsRequestsPass) {
  ResendBudget budget;
  const auto t0 = ResendBudget::Clock::time_point(100s);
  // Once a second, the few rounds a broker restart lost.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(budget.take(3, t0 + i * 1s), 3u);
  EXPECT_EQ(budget.refused(), 0u);
  // A long outage: a minute of rounds at once, then the rest a second later.
  EXPECT_EQ(budget.take(90, t0 + 20s), 60u);
  EXPECT_EQ(budget.take(30, t0 + 21s), 30u);
}
