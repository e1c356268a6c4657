#include "metrics/thresholds.h"

#include <gtest/gtest.h>

#include <cmath>

namespace loadpilot::metrics {
namespace {

RunTotals totals() {
  RunTotals t;
  t.p50_ms = 12.5;
  t.p95_ms = 40;
  t.p99_ms = 80;
  t.max_ms = 300;
  t.error_rate = 0.5;
  return t;
}

TEST(Thresholds, ResultsFollowThePlanKeyOrder) {
  // std::map iterates alphabetically (error_rate first); results must not.
  const auto r = evaluate_thresholds(
      {{"error_rate", 1}, {"max_ms", 500}, {"p99_ms", 50}, {"p50_ms", 20}, {"p95_ms", 40}},
      totals());
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].key, "p50_ms");
  EXPECT_EQ(r[1].key, "p95_ms");
  EXPECT_EQ(r[2].key, "p99_ms");
  EXPECT_EQ(r[3].key, "max_ms");
  EXPECT_EQ(r[4].key, "error_rate");
  EXPECT_EQ(r[0].actual, 12.5);
  EXPECT_EQ(r[0].limit, 20);
  EXPECT_TRUE(r[0].passed);
  EXPECT_TRUE(r[1].passed) << "actual == limit passes";
  EXPECT_FALSE(r[2].passed);
  EXPECT_EQ(r[2].actual, 80);
  EXPECT_TRUE(r[3].passed);
  EXPECT_EQ(r[4].actual, 0.5);
  EXPECT_TRUE(r[4].passed);
  EXPECT_FALSE(all_passed(r));
}

TEST(Thresholds, UnknownKeysAreIgnored) {
  const auto r = evaluate_thresholds({{"p42_ms", 1}, {"error_rate", 0.1}}, totals());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].key, "error_rate");
  EXPECT_FALSE(r[0].passed);
}

TEST(Thresholds, AllPassed) {
  EXPECT_TRUE(all_passed({}));
  EXPECT_TRUE(evaluate_thresholds({}, totals()).empty());
  EXPECT_TRUE(all_passed(evaluate_thresholds({{"p99_ms", 80}, {"max_ms", 1e9}}, totals())));
  EXPECT_FALSE(all_passed(evaluate_thresholds({{"max_ms", 299.9}}, totals())));
}

TEST(Thresholds, NanActualFails) {
  RunTotals t = totals();
  t.error_rate = std::nan("");
  EXPECT_FALSE(all_passed(evaluate_thresholds({{"error_rate", 100}}, t)));
}

}  // namespace
}  // namespace loadpilot::metrics
