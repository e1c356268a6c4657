// Custom metrics (metrics/custom_metrics.h): exact merges across workers
// and agents, the agents' wire form, the refusals, and the threshold keys
// that name them (plan/custom_keys.h, metrics/custom_thresholds.h).
#include "metrics/custom_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/custom_thresholds.h"
#include "metrics/stats.h"
#include "plan/custom_keys.h"
#include "plan/plan.h"

namespace loadpilot::metrics {
namespace {

using plan::CustomMetricSpec;

// Adds VALUES to NAME of KIND in M, at 1 s, 2 s, ...
void add_all(CustomMetrics& m, const std::string& name, CustomKind kind,
             const std::vector<double>& values, double first_at_s = 1) {
  const std::size_t slot = m.slot(name, kind);
  ASSERT_NE(slot, CustomMetrics::npos);
  double at = first_at_s;
  for (double v : values) {
    ASSERT_EQ(CustomMetrics::refusal(kind, v), "");
    m.add(slot, v, at++);
  }
}

TEST(CustomMetrics, MergeEqualsRecordingEverythingInOne) {
  // Three "workers" (or agents), each with part of the values, in another
  // order of declaration: the merge equals one that saw them all.
  CustomMetrics a, b, c, all;
  add_all(a, "cart", CustomKind::kTrend, {1, 2, 3.5});
  add_all(a, "orders", CustomKind::kCounter, {1, 1, 2});
  add_all(b, "orders", CustomKind::kCounter, {5});
  add_all(b, "cart", CustomKind::kTrend, {4000.25, 0.001});
  add_all(b, "hit", CustomKind::kRate, {1, 0, 1});
  add_all(c, "hit", CustomKind::kRate, {0, 1});
  add_all(all, "cart", CustomKind::kTrend, {1, 2, 3.5, 4000.25, 0.001});
  add_all(all, "orders", CustomKind::kCounter, {1, 1, 2, 5});
  add_all(all, "hit", CustomKind::kRate, {1, 0, 1, 0, 1});

  CustomMetrics merged;
  for (const CustomMetrics* m : {&a, &b, &c}) merged.merge(*m);
  ASSERT_EQ(merged.size(), 3u);
  for (const char* name : {"cart", "orders", "hit"}) {
    SCOPED_TRACE(name);
    ASSERT_NE(merged.find(name), nullptr);
    EXPECT_EQ(custom_stat_json(*merged.find(name)), custom_stat_json(*all.find(name)));
  }
  EXPECT_TRUE(merged.find("cart")->trend == all.find("cart")->trend);
  const nlohmann::json orders = custom_stat_json(*merged.find("orders"));
  EXPECT_EQ(orders["count"], 9.0);
  EXPECT_EQ(orders["adds"], 4u);
  const nlohmann::json hit = custom_stat_json(*merged.find("hit"));
  EXPECT_EQ(hit["trues"], 3u);
  EXPECT_EQ(hit["total"], 5u);
  EXPECT_DOUBLE_EQ(hit["rate"].get<double>(), 0.6);
}

TEST(CustomMetrics, TrendKeepsThousandthsExactlyBelowFourAndClampsPastItsRange) {
  CustomMetrics m;
  add_all(m, "t", CustomKind::kTrend, {0.001, 0.5, 4.095, 3'600'000, 5'000'000});
  const nlohmann::json j = custom_stat_json(m.at(0));
  EXPECT_EQ(j["min"], 0.001);
  EXPECT_EQ(j["p50"], 4.095);
  EXPECT_EQ(j["max"], 3'600'000.0);
  EXPECT_EQ(j["clamped"], 1u);
  EXPECT_EQ(j["count"], 5u);
}

TEST(CustomMetrics, GaugeKeepsTheLatestValueWhateverTheMergeOrder) {
  CustomMetrics early, late;
  add_all(early, "queue", CustomKind::kGauge, {7, -3, 9}, /*first_at_s=*/1);  // 9 at 3 s
  add_all(late, "queue", CustomKind::kGauge, {4, 2}, /*first_at_s=*/2);       // 2 at 3 s
  // Both last values came at 3 s: the larger wins, in either order.
  for (bool flip : {false, true}) {
    CustomMetrics m;
    m.merge(flip ? late : early);
    m.merge(flip ? early : late);
    const nlohmann::json j = custom_stat_json(*m.find("queue"));
    EXPECT_EQ(j["value"], 9.0);
    EXPECT_EQ(j["min"], -3.0);
    EXPECT_EQ(j["max"], 9.0);
    EXPECT_EQ(j["count"], 5u);
  }
  CustomMetrics later;
  add_all(later, "queue", CustomKind::kGauge, {1}, /*first_at_s=*/10);
  CustomMetrics m;
  m.merge(later);
  m.merge(early);
  EXPECT_EQ(custom_stat_json(*m.find("queue"))["value"], 1.0);
}

TEST(CustomMetrics, RefusesNanInfinityAndNegativeTrendOrCounterValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (CustomKind k :
       {CustomKind::kTrend, CustomKind::kCounter, CustomKind::kRate, CustomKind::kGauge}) {
    EXPECT_NE(CustomMetrics::refusal(k, nan), "") << name(k);
    EXPECT_NE(CustomMetrics::refusal(k, inf), "") << name(k);
    EXPECT_NE(CustomMetrics::refusal(k, -inf), "") << name(k);
  }
  EXPECT_EQ(CustomMetrics::refusal(CustomKind::kTrend, -1), "a trend takes values >= 0 (got -1)");
  EXPECT_NE(CustomMetrics::refusal(CustomKind::kCounter, -1), "");
  EXPECT_EQ(CustomMetrics::refusal(CustomKind::kGauge, -1), "");
  EXPECT_EQ(CustomMetrics::refusal(CustomKind::kRate, -1), "");
}

TEST(CustomMetrics, ANameKeepsItsKind) {
  CustomMetrics m;
  EXPECT_EQ(m.slot("x", CustomKind::kTrend), 0u);
  EXPECT_EQ(m.slot("x", CustomKind::kCounter), CustomMetrics::npos);
  EXPECT_EQ(m.slot("x", CustomKind::kTrend), 0u);
  // fresh() keeps names and slots, not values.
  add_all(m, "y", CustomKind::kCounter, {3});
  const CustomMetrics f = m.fresh();
  EXPECT_EQ(f.size(), 2u);
  EXPECT_EQ(f.name_of(1), "y");
  EXPECT_EQ(f.at(1).count, 0u);
}

TEST(CustomMetrics, WireFormRoundTripsInIntervalStats) {
  IntervalStats s(1);
  add_all(s.custom, "cart", CustomKind::kTrend, {1, 2.5, 700});
  add_all(s.custom, "orders", CustomKind::kCounter, {2});
  add_all(s.custom, "hit", CustomKind::kRate, {1, 0});
  add_all(s.custom, "queue", CustomKind::kGauge, {-4, 8});
  const IntervalStats back = IntervalStats::from_json(nlohmann::json::parse(s.to_json().dump()));
  ASSERT_EQ(back.custom.size(), 4u);
  EXPECT_EQ(back.custom.to_json(), s.custom.to_json());
  EXPECT_TRUE(back.custom.find("cart")->trend == s.custom.find("cart")->trend);
}

TEST(CustomMetrics, AFrameWithoutCustomMetricsIsFine) {
  // An agent of an older version, or a scenario without custom metrics.
  IntervalStats s(1);
  nlohmann::json j = s.to_json();
  EXPECT_FALSE(j.contains("custom"));
  IntervalStats back = IntervalStats::from_json(j);
  EXPECT_TRUE(back.custom.empty());
  // Merging one with metrics into one without keeps them.
  IntervalStats with(1);
  add_all(with.custom, "orders", CustomKind::kCounter, {4});
  back.merge(with);
  EXPECT_EQ(back.custom.find("orders")->sum, 4);
}

TEST(CustomMetrics, BadWireFormsAreRefusedNamingTheField) {
  const auto refused = [](const nlohmann::json& custom) {
    nlohmann::json j = IntervalStats(1).to_json();
    j["custom"] = custom;
    try {
      IntervalStats::from_json(j);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(refused(nlohmann::json::object()), "stats: custom: must be an array");
  EXPECT_NE(refused({{{"name", "x"}, {"kind", "histogram"}, {"count", 0}}}).find("kind"),
            std::string::npos);
  EXPECT_NE(
      refused({{{"name", "x"}, {"kind", "rate"}, {"count", 1u}, {"trues", 2u}}}).find("trues"),
      std::string::npos);
  EXPECT_NE(refused({{{"name", "x"}, {"kind", "counter"}, {"count", 1u}, {"sum", -1}}}).find("sum"),
            std::string::npos);
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 1001; ++i)
    many.push_back(
        {{"name", "m" + std::to_string(i)}, {"kind", "counter"}, {"count", 0u}, {"sum", 0}});
  EXPECT_NE(refused(many).find("more than 1000"), std::string::npos);
}

TEST(CustomThresholds, KeysMapToTheirStatistic) {
  const std::vector<CustomMetricSpec> declared = {{"cart", "trend", "s.py:3"},
                                                  {"orders", "counter", "s.py:4"},
                                                  {"hit", "rate", "s.py:5"},
                                                  {"queue", "gauge", "s.py:6"},
                                                  {"idle", "trend", "s.py:7"}};
  CustomMetrics m;
  std::vector<double> cart;
  for (int i = 1; i <= 100; ++i) cart.push_back(i);
  add_all(m, "cart", CustomKind::kTrend, cart);
  add_all(m, "orders", CustomKind::kCounter, {3, 4});
  add_all(m, "hit", CustomKind::kRate, {1, 1, 1, 0});
  add_all(m, "queue", CustomKind::kGauge, {5, 1, 3});
  const auto value = [&](const char* key) { return custom_metric_value(key, declared, m); };
  EXPECT_EQ(value("cart.p95"), 95);
  EXPECT_EQ(value("cart.count"), 100);
  EXPECT_EQ(value("cart.max"), 100);
  EXPECT_EQ(value("cart.mean"), 50.5);
  EXPECT_EQ(value("orders.count"), 7);
  EXPECT_EQ(value("hit.rate"), 0.75);
  EXPECT_EQ(value("queue.value"), 3);
  EXPECT_EQ(value("queue.max"), 5);
  EXPECT_FALSE(value("p99_ms"));
  EXPECT_FALSE(value("cart.p97"));
  EXPECT_FALSE(value("nothing.p95"));
  // No values: no limit passes.
  EXPECT_TRUE(std::isnan(*value("idle.p95")));

  const auto results = evaluate_custom_thresholds(
      {{"cart.p95", 94}, {"hit.rate", 0.8}, {"idle.max", 1}, {"p99_ms", 5}}, declared, m);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].key, "cart.p95");
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[1].key, "hit.rate");
  EXPECT_TRUE(results[1].passed);
  EXPECT_EQ(results[2].key, "idle.max");
  EXPECT_FALSE(results[2].passed);
}

plan::Plan plan_with(std::map<std::string, double> thresholds) {
  plan::Plan p;
  p.name = "S";
  p.target = "http://127.0.0.1:1";
  plan::TaskSpec t;
  t.name = "checkout";
  t.runtime = "python";
  p.tasks.push_back(t);
  for (const auto& [key, limit] : thresholds) p.thresholds[key] = limit;
  p.custom_metrics = {{"cart_items", "trend", "s.py:3"}, {"cache_hit", "rate", "s.py:4"}};
  return p;
}

TEST(CustomThresholds, BadKeysAreErrorsBeforeTheRunNamingWhere) {
  EXPECT_TRUE(plan::validate(plan_with({{"cart_items.p95", 10}, {"cache_hit.rate", 0.5}})).empty());
  std::vector<std::string> e = plan::validate(plan_with({{"cart_items.p95_ms", 10}}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0],
            "thresholds.cart_items.p95_ms: trend cart_items (s.py:3) has no statistic p95_ms; did "
            "you mean cart_items.p95? use one of count, min, mean, p50, p90, p95, p99, p999, max");
  e = plan::validate(plan_with({{"cart_items.avg", 10}}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("has no statistic avg; use one of count, min, mean"), std::string::npos)
      << e[0];
  e = plan::validate(plan_with({{"cart_itmes.p95", 10}}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("did you mean cart_items.p95?"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("declared: cart_items, cache_hit"), std::string::npos) << e[0];
  e = plan::validate(plan_with({{"cache_hit.rate", 50}}));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "thresholds.cache_hit.rate: a rate is a share from 0 to 1 (got 50)");

  plan::Plan clash = plan_with({});
  clash.custom_metrics.push_back({"checkout", "counter", "s.py:9"});
  e = plan::validate(clash);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("custom_metrics.checkout: checkout has the name of a task"),
            std::string::npos)
      << e[0];
}

TEST(CustomThresholds, ThePlanCarriesTheDeclaredMetrics) {
  const plan::Plan p = plan_with({{"cart_items.p95", 10}});
  const plan::Plan back = plan::Plan::from_json(p.to_json());
  ASSERT_EQ(back.custom_metrics.size(), 2u);
  EXPECT_EQ(back.custom_metrics[0].name, "cart_items");
  EXPECT_EQ(back.custom_metrics[0].kind, "trend");
  EXPECT_EQ(back.custom_metrics[0].where, "s.py:3");
  // A plan without them (an older coordinator's) has none.
  nlohmann::json j = p.to_json();
  j.erase("custom_metrics");
  EXPECT_TRUE(plan::Plan::from_json(j).custom_metrics.empty());
}

}  // namespace
}  // namespace loadpilot::metrics
