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

TEST(Thresholds, K6ExpressionsMapOntoOurKeys) {
  std::string error;
  auto l = from_k6("p(95)<200", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->key, "p95_ms");
  EXPECT_EQ(l->limit, 200);
  l = from_k6("p(99) <= 1500.5", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->key, "p99_ms");
  EXPECT_EQ(l->limit, 1500.5);
  l = from_k6("med<40", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->key, "p50_ms");
  l = from_k6("p(50)<40", &error);
  ASSERT_TRUE(l && l->key == "p50_ms") << error;
  l = from_k6("max<900", &error);
  ASSERT_TRUE(l && l->key == "max_ms" && l->limit == 900) << error;
  // http_req_failed is a rate (0..1); error_rate is a percentage.
  l = from_k6("http_req_failed<0.01", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->key, "error_rate");
  EXPECT_DOUBLE_EQ(l->limit, 1);
  l = from_k6("rate<0.05", &error);
  ASSERT_TRUE(l && l->key == "error_rate") << error;
  EXPECT_DOUBLE_EQ(l->limit, 5);
}

TEST(Thresholds, K6ExpressionsThatDoNotMapSayWhy) {
  std::string error;
  EXPECT_FALSE(from_k6("p99_ms=50", &error));
  EXPECT_EQ(error, "") << "not k6's spelling at all: the caller explains";
  EXPECT_FALSE(from_k6("p(90)<200", &error));
  EXPECT_EQ(error,
            "p(90) has no threshold here; k6's p(50), p(95), p(99), med, max and "
            "http_req_failed map onto ours");
  EXPECT_FALSE(from_k6("p(95)>200", &error));
  EXPECT_EQ(error, "only upper limits (< or <=) are thresholds here");
  EXPECT_FALSE(from_k6("p(95)<fast", &error));
  EXPECT_EQ(error, "the limit must be a number >= 0 (got \"fast\")");
  EXPECT_FALSE(from_k6("http_req_failed<2", &error));
  EXPECT_EQ(error, "http_req_failed is a rate from 0 to 1 (got 2)");
}

}  // namespace
}  // namespace loadpilot::metrics
