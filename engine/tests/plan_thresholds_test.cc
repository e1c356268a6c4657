#include <gtest/gtest.h>

#include "plan/plan.h"
#include "plan/thresholds.h"

namespace loadpilot::plan {
namespace {

Plan shop() {
  Plan p;
  p.name = "Shop";
  p.target = "http://127.0.0.1:8000";
  p.tasks.push_back({"checkout", 1, "python", "", std::nullopt});
  p.tasks.push_back({"search", 3, "python", "", std::nullopt});
  return p;
}

std::vector<std::string> threshold_errors(const Plan& p) {
  std::vector<std::string> out;
  for (std::string& e : validate(p))
    if (e.find("thresholds") != std::string::npos || e.starts_with("--threshold"))
      out.push_back(std::move(e));
  return out;
}

TEST(PlanThresholds, KeysSplitAtTheLastDot) {
  EXPECT_EQ(split_threshold_key("p99_ms").scope, "");
  EXPECT_EQ(split_threshold_key("p99_ms").metric, "p99_ms");
  EXPECT_EQ(split_threshold_key("checkout.p99_ms").scope, "checkout");
  EXPECT_EQ(split_threshold_key("Browse.checkout.p99_ms").scope, "Browse.checkout");
  EXPECT_EQ(split_threshold_key("Browse.checkout.p99_ms").metric, "p99_ms");
}

TEST(PlanThresholds, TaskKeysAreValid) {
  Plan p = shop();
  Threshold w(300);
  w.over_s = 60;
  w.abort_on_fail = true;
  w.abort_after_s = 30;
  p.thresholds = {{"p99_ms", 500}, {"checkout.p99_ms", w}, {"search.error_rate", 0.1}};
  EXPECT_EQ(threshold_errors(p), std::vector<std::string>{});
}

TEST(PlanThresholds, AMisspeltMetricOfATaskSuggestsTheKey) {
  Plan p = shop();
  p.thresholds = {{"checkout.p99", 300}};
  EXPECT_EQ(threshold_errors(p),
            std::vector<std::string>{
                "thresholds.checkout.p99: unknown metric p99; did you mean checkout.p99_ms?; use "
                "one of p50_ms, p95_ms, p99_ms, max_ms, error_rate (got 300)"});
}

TEST(PlanThresholds, AnUnknownTaskSuggestsTheNearestTask) {
  Plan p = shop();
  p.thresholds = {{"chekout.p99_ms", 300}};
  EXPECT_EQ(threshold_errors(p),
            std::vector<std::string>{"thresholds.chekout.p99_ms: no task chekout in scenario "
                                     "Shop; did you mean checkout.p99_ms? (tasks: checkout, "
                                     "search) (got 300)"});
  // Both wrong: both corrected.
  p.thresholds = {{"serch.p99", 300}};
  EXPECT_NE(threshold_errors(p)[0].find("did you mean search.p99_ms?"), std::string::npos)
      << threshold_errors(p)[0];
}

TEST(PlanThresholds, AnUnknownWholeRunKeySuggestsAMetric) {
  Plan p = shop();
  p.thresholds = {{"p99", 300}};
  EXPECT_EQ(threshold_errors(p),
            std::vector<std::string>{
                "thresholds.p99: unknown threshold; did you mean p99_ms?; use one of p50_ms, "
                "p95_ms, p99_ms, max_ms, error_rate, alone or after a task's name (TASK.p99_ms) "
                "(got 300)"});
  p.thresholds = {{"checkout", 300}};
  EXPECT_NE(threshold_errors(p)[0].find("checkout is a task: name one of its metrics, e.g. "
                                        "checkout.p99_ms"),
            std::string::npos);
}

TEST(PlanThresholds, MessagesLeadWithWhereTheThresholdWasWritten) {
  Plan p = shop();
  Threshold file(300);
  file.origin = "shop.py:12";
  Threshold flag(300);
  flag.origin = "--threshold chekout.p99_ms=300";
  p.thresholds = {{"checkout.p99", file}, {"chekout.p99_ms", flag}};
  const auto errors = threshold_errors(p);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_TRUE(
      errors[0].starts_with("shop.py:12: thresholds.checkout.p99: unknown metric p99; "
                            "did you mean checkout.p99_ms?"))
      << errors[0];
  EXPECT_TRUE(
      errors[1].starts_with("--threshold chekout.p99_ms=300: no task chekout in scenario "
                            "Shop; did you mean checkout.p99_ms?"))
      << errors[1];
}

TEST(PlanThresholds, WindowsAreWholeSecondsAndTheGraceNeedsTheAbort) {
  Plan p = shop();
  Threshold half(300), long_(300), grace(300);
  half.over_s = 0.5;
  long_.over_s = 7200;
  grace.abort_after_s = 5;
  p.thresholds = {{"p50_ms", half}, {"p95_ms", long_}, {"p99_ms", grace}};
  const auto errors = threshold_errors(p);
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("thresholds.p50_ms: over: must be whole seconds from 1s to 3600s"),
            std::string::npos)
      << errors[0];
  EXPECT_NE(errors[1].find("thresholds.p95_ms: over: must be whole seconds"), std::string::npos);
  EXPECT_NE(errors[2].find("thresholds.p99_ms: abort_after: is the grace of abort_on_fail=True"),
            std::string::npos)
      << errors[2];
}

TEST(PlanThresholds, JsonKeepsPlainLimitsAsNumbers) {
  Plan p = shop();
  Threshold w(300);
  w.over_s = 60;
  w.abort_on_fail = true;
  p.thresholds = {{"p99_ms", 500}, {"checkout.p99_ms", w}};
  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["thresholds"]["p99_ms"], 500.0);
  EXPECT_EQ(j["thresholds"]["checkout.p99_ms"],
            (nlohmann::json{{"limit", 300.0}, {"over_s", 60.0}, {"abort_on_fail", true}}));
  const Plan back = Plan::from_json(j);
  EXPECT_EQ(back.thresholds, p.thresholds);
  nlohmann::json bad = j;
  bad["thresholds"]["checkout.p99_ms"] = {{"limit", 1}, {"window", 3}};
  EXPECT_THROW(Plan::from_json(bad), PlanError);
}

TEST(PlanThresholds, WholeRunLimitsAreThePlainOnes) {
  Threshold w(300);
  w.over_s = 60;
  const Thresholds t = {{"p99_ms", 500}, {"checkout.p99_ms", 300}, {"p95_ms", w}};
  EXPECT_EQ(whole_run_limits(t), (std::map<std::string, double>{{"p99_ms", 500}}));
}

}  // namespace
}  // namespace loadpilot::plan
