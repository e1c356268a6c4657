#include "metrics/threshold_evaluator.h"

#include <gtest/gtest.h>

#include "plan/plan.h"

namespace loadpilot::metrics {
namespace {

plan::Plan shop() {
  plan::Plan p;
  p.name = "Shop";
  p.tasks.push_back({"checkout", 1, "python", "", std::nullopt});
  p.tasks.push_back({"search", 3, "python", "", std::nullopt});
  return p;
}

const std::vector<std::string> kRows = {"checkout", "search"};

// A round where each task's requests took `checkout_ms` / `search_ms`;
// `errors` of search's failed.
IntervalStats round_of(int checkout_n, double checkout_ms, int search_n, double search_ms,
                       int search_errors = 0) {
  IntervalStats r(2);
  r.tasks[0].requests = checkout_n;
  r.tasks[0].latency.record(static_cast<std::uint64_t>(checkout_ms * 1000), checkout_n);
  r.tasks[1].requests = search_n;
  r.tasks[1].errors = search_errors;
  r.tasks[1].latency.record(static_cast<std::uint64_t>(search_ms * 1000), search_n);
  return r;
}

// Feeds rounds one second apart, as the collector would.
struct Feed {
  explicit Feed(ThresholdEvaluator& evaluator) : e(evaluator) {}
  ThresholdEvaluator& e;
  IntervalStats cumulative{2};
  Histogram run;
  double t = 0;
  void add(const IntervalStats& r) {
    cumulative.merge(r);
    for (const TaskStats& ts : r.tasks) run.merge(ts.latency);
    t += 1;
    e.add_round(r, cumulative, run, t);
  }
  std::vector<ThresholdResult> results() {
    std::vector<ScopeNumbers> tasks;
    std::uint64_t errors = 0, attempts = 0;
    for (const TaskStats& ts : cumulative.tasks) {
      tasks.push_back(ScopeNumbers::of(ts.latency, ts.errors, ts.attempts()));
      errors += ts.errors;
      attempts += ts.attempts();
    }
    return e.results(ScopeNumbers::of(run, errors, attempts), tasks);
  }
};

TEST(ThresholdEvaluator, PerTaskKeysJudgeTheirTaskAlone) {
  plan::Plan p = shop();
  p.thresholds = {{"p99_ms", 500}, {"checkout.p99_ms", 300}, {"search.error_rate", 0.1}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(100, 400, 100, 10, 1));
  const auto r = f.results();
  ASSERT_EQ(r.size(), 3u);
  // The run's first, then tasks in plan order.
  EXPECT_EQ(r[0].key, "p99_ms");
  EXPECT_EQ(r[0].task, "");
  EXPECT_TRUE(r[0].passed);
  EXPECT_EQ(r[1].key, "checkout.p99_ms");
  EXPECT_EQ(r[1].task, "checkout");
  EXPECT_EQ(r[1].metric, "p99_ms");
  EXPECT_NEAR(r[1].actual, 400, 1);
  EXPECT_FALSE(r[1].passed) << "checkout's 400 ms breaks its 300 ms";
  EXPECT_EQ(r[2].key, "search.error_rate");
  EXPECT_DOUBLE_EQ(r[2].actual, 1.0);  // 1 of 100
  EXPECT_FALSE(r[2].passed);
}

TEST(ThresholdEvaluator, AScopeWithoutSamplesPasses) {
  plan::Plan p = shop();
  p.thresholds = {{"search.p99_ms", 1}, {"search.error_rate", 0}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(10, 50, 0, 0));
  for (const auto& r : f.results()) EXPECT_TRUE(r.passed) << r.key;
}

TEST(ThresholdEvaluator, KeysTheValidatorRefusesAreLeftOut) {
  plan::Plan p = shop();
  p.thresholds = {{"chekout.p99_ms", 1}, {"checkout.p99", 1}, {"p99_ms", 1}};
  EXPECT_EQ(gates_of(p, kRows).size(), 1u);
}

TEST(ThresholdEvaluator, AWindowFailsWhenAnyOneWindowBreaksIt) {
  // Over the whole run checkout's p99 is fine; seconds 4..6 are slow.
  plan::Plan p = shop();
  plan::Threshold t(300);
  t.over_s = 3;
  p.thresholds = {{"checkout.p99_ms", t}, {"checkout.max_ms", 10'000}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  for (int s = 1; s <= 10; ++s) f.add(round_of(100, s >= 4 && s <= 6 ? 900 : 10, 0, 0));
  const auto r = f.results();
  ASSERT_EQ(r.size(), 2u);
  const ThresholdResult& w = r[0].key == "checkout.p99_ms" ? r[0] : r[1];
  EXPECT_FALSE(w.passed);
  EXPECT_EQ(w.over_s, 3);
  EXPECT_NEAR(w.actual, 900, 1);
  // The worst window: the first that holds a slow second (ties keep the
  // first), rounds 2..4, i.e. [1 s, 4 s].
  EXPECT_DOUBLE_EQ(w.window_start_s, 1);
  EXPECT_DOUBLE_EQ(w.window_end_s, 4);
  EXPECT_EQ(w.label(), "checkout.p99_ms over 3s");
}

TEST(ThresholdEvaluator, AWindowIsNConsecutiveRoundsNotTheRunsPercentile) {
  // One slow second in ten: p99 of the run is slow (10% slow), but with a
  // window of 5 the p99 of every window including it is slow too; with a
  // limit on p50, only a window where slow seconds are the majority breaks.
  plan::Plan p = shop();
  plan::Threshold t(100);
  t.over_s = 5;
  p.thresholds = {{"checkout.p50_ms", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  for (int s = 1; s <= 10; ++s) f.add(round_of(100, s == 5 ? 900 : 10, 0, 0));
  const auto r = f.results();
  EXPECT_TRUE(r[0].passed) << "one slow second of five is not a slow median";
  EXPECT_NEAR(r[0].actual, 10, 0.1);
}

TEST(ThresholdEvaluator, ARunShorterThanTheWindowIsOneWindow) {
  plan::Plan p = shop();
  plan::Threshold t(1);
  t.over_s = 60;
  p.thresholds = {{"error_rate", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(0, 0, 100, 10, 0));
  f.add(round_of(0, 0, 100, 10, 4));
  const auto r = f.results();
  EXPECT_DOUBLE_EQ(r[0].actual, 2.0);  // 4 of 200
  EXPECT_FALSE(r[0].passed);
  EXPECT_DOUBLE_EQ(r[0].window_start_s, 0);
  EXPECT_DOUBLE_EQ(r[0].window_end_s, 2);
}

TEST(ThresholdEvaluator, ErrorRateWindowsCountTheirOwnAttempts) {
  plan::Plan p = shop();
  plan::Threshold t(5);
  t.over_s = 2;
  p.thresholds = {{"search.error_rate", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(0, 0, 100, 10, 0));
  f.add(round_of(0, 0, 100, 10, 0));
  f.add(round_of(0, 0, 100, 10, 30));  // window [1, 3]: 30 of 200 = 15%
  f.add(round_of(0, 0, 100, 10, 0));
  const auto r = f.results();
  EXPECT_DOUBLE_EQ(r[0].actual, 15);
  EXPECT_DOUBLE_EQ(r[0].window_start_s, 1);
  EXPECT_DOUBLE_EQ(r[0].window_end_s, 3);
}

TEST(ThresholdEvaluator, AbortWithoutGraceDecidesInTheRoundItBreaks) {
  plan::Plan p = shop();
  plan::Threshold t(300);
  t.abort_on_fail = true;
  p.thresholds = {{"checkout.p99_ms", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  for (int s = 1; s <= 4; ++s) f.add(round_of(100, 10, 10, 10));
  EXPECT_FALSE(e.abort());
  f.add(round_of(100, 2000, 10, 10));  // 100 of 500 slow: p99 2 s
  ASSERT_TRUE(e.abort());
  EXPECT_EQ(e.abort()->key, "checkout.p99_ms");
  EXPECT_DOUBLE_EQ(e.abort()->broken_at_s, 5);
  EXPECT_DOUBLE_EQ(e.abort()->decided_at_s, 5);
  const auto r = f.results();
  EXPECT_TRUE(r[0].aborted);
  EXPECT_FALSE(r[0].passed);
  EXPECT_DOUBLE_EQ(r[0].broken_at_s, 5);
  EXPECT_NE(e.abort()->describe().find("threshold checkout.p99_ms broke at 5.0 s"),
            std::string::npos)
      << e.abort()->describe();
}

TEST(ThresholdEvaluator, AbortWaitsForTheGraceAndABreachThatRecoversStartsAgain) {
  plan::Plan p = shop();
  plan::Threshold t(100);
  t.over_s = 1;  // each second judged alone
  t.abort_on_fail = true;
  t.abort_after_s = 2;
  p.thresholds = {{"p99_ms", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(100, 500, 100, 500));  // 1: broken
  f.add(round_of(100, 500, 100, 500));  // 2: broken for 1 s
  f.add(round_of(100, 10, 100, 10));    // 3: recovered
  EXPECT_FALSE(e.abort());
  f.add(round_of(100, 500, 100, 500));  // 4: broken again
  f.add(round_of(100, 500, 100, 500));  // 5
  EXPECT_FALSE(e.abort()) << "1 s into a 2 s grace";
  f.add(round_of(100, 500, 100, 500));  // 6: 2 s since 4
  ASSERT_TRUE(e.abort());
  EXPECT_DOUBLE_EQ(e.abort()->broken_at_s, 4);
  EXPECT_DOUBLE_EQ(e.abort()->decided_at_s, 6);
  EXPECT_NE(e.abort()->describe().find("past its 2 s grace"), std::string::npos);
}

TEST(ThresholdEvaluator, RoundsWithoutSamplesLeaveTheBreachAsItWas) {
  plan::Plan p = shop();
  plan::Threshold t(1);
  t.over_s = 1;
  t.abort_on_fail = true;
  t.abort_after_s = 2;
  p.thresholds = {{"search.error_rate", t}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(10, 10, 100, 10, 50));  // 1: broken
  f.add(round_of(10, 10, 0, 0));         // 2: no search attempt
  f.add(round_of(10, 10, 100, 10, 50));  // 3: still broken, 2 s since 1
  ASSERT_TRUE(e.abort());
  EXPECT_DOUBLE_EQ(e.abort()->broken_at_s, 1);
}

TEST(ThresholdEvaluator, OnlyTheFirstBreachForGoodIsTheAbort) {
  plan::Plan p = shop();
  plan::Threshold a(1), b(1);
  a.abort_on_fail = b.abort_on_fail = true;
  p.thresholds = {{"checkout.p99_ms", a}, {"search.p99_ms", b}};
  ThresholdEvaluator e(p, kRows);
  Feed f(e);
  f.add(round_of(10, 10, 10, 10));
  ASSERT_TRUE(e.abort());
  EXPECT_EQ(e.abort()->key, "checkout.p99_ms");
  const auto r = f.results();
  EXPECT_TRUE(r[0].aborted);
  EXPECT_FALSE(r[1].aborted);
  EXPECT_FALSE(r[1].passed);
}

TEST(ThresholdEvaluator, ResultsJsonNamesTaskAndWindow) {
  ThresholdResult r{"checkout.p99_ms", 300, 412.5, false};
  r.task = "checkout";
  r.metric = "p99_ms";
  r.over_s = 60;
  r.window_start_s = 12;
  r.window_end_s = 72;
  const auto j = r.to_json();
  EXPECT_EQ(j["task"], "checkout");
  EXPECT_EQ(j["metric"], "p99_ms");
  EXPECT_EQ(j["over_s"], 60);
  EXPECT_EQ(j["window"]["start_s"], 12);
  EXPECT_EQ(j["window"]["end_s"], 72);
  EXPECT_EQ(j["aborted"], false);
  ThresholdResult whole{"p99_ms", 50, 10, true};
  EXPECT_TRUE(whole.to_json()["task"].is_null());
  EXPECT_TRUE(whole.to_json()["window"].is_null());
}

}  // namespace
}  // namespace loadpilot::metrics
