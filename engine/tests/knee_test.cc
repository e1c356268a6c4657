// Knee point on synthetic step runs: the judging rule (first unbroken run of
// passing steps), the limits' sources, and StepTracker's per-step numbers
// against histograms built from the same values.
#include "report/knee.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace loadpilot::report {
namespace {

StepResult step(int index, double rps, double p99_ms, std::uint64_t requests,
                std::uint64_t errors) {
  StepResult s;
  s.index = index;
  s.label = "step " + std::to_string(index) + "/5";
  s.target_rps = rps;
  s.actual_rps = rps;
  s.requests = requests;
  s.errors = errors;
  s.error_rate = requests ? 100.0 * errors / requests : 0;
  s.p99_ms = p99_ms;
  return s;
}

TEST(Knee, LastStepBeforeTheFirstBreach) {
  // Step 3 breaks p99; step 4 passes again by luck and must not move the knee.
  const std::vector<StepResult> steps = {step(1, 100, 10, 1000, 0), step(2, 200, 20, 2000, 0),
                                         step(3, 300, 80, 3000, 0), step(4, 400, 30, 4000, 0),
                                         step(5, 500, 200, 5000, 0)};
  const Knee k = find_knee(steps, {{"p99_ms", 50}, {"error_rate", 1}});
  ASSERT_TRUE(k.found);
  EXPECT_TRUE(k.saturated);
  EXPECT_EQ(k.step, 2);
  EXPECT_EQ(k.target_rps, 200);
  EXPECT_EQ(k.p99_limit_source, "threshold");
  EXPECT_EQ(k.error_rate_limit_source, "threshold");
  ASSERT_EQ(k.steps.size(), 5u);
  EXPECT_TRUE(k.steps[0].passed && k.steps[1].passed && k.steps[3].passed);
  EXPECT_FALSE(k.steps[2].passed || k.steps[4].passed);
}

TEST(Knee, ErrorRateBreaksToo) {
  const std::vector<StepResult> steps = {step(1, 100, 1, 1000, 0), step(2, 200, 1, 1000, 5),
                                         step(3, 300, 1, 1000, 20)};
  const Knee k = find_knee(steps, {{"p99_ms", 50}, {"error_rate", 1}});
  ASSERT_TRUE(k.found);
  EXPECT_EQ(k.step, 2);  // 0.5% errors is within 1%
  EXPECT_NEAR(k.error_rate, 0.5, 1e-9);
  EXPECT_FALSE(k.steps[2].passed);  // 2% is not
}

TEST(Knee, LimitIsAtOrAboveTheActual) {
  // "met the thresholds" means actual <= limit, like the run's thresholds.
  const Knee k = find_knee({step(1, 100, 50, 100, 1), step(2, 200, 50.001, 100, 0)},
                           {{"p99_ms", 50}, {"error_rate", 1}});
  EXPECT_EQ(k.step, 1);
}

TEST(Knee, EveryStepPassedMeansNotSaturated) {
  const Knee k = find_knee({step(1, 100, 1, 10, 0), step(2, 200, 2, 10, 0)}, {{"p99_ms", 50}});
  ASSERT_TRUE(k.found);
  EXPECT_FALSE(k.saturated);
  EXPECT_EQ(k.step, 2);
  EXPECT_NE(describe_knee(k).find("every step passed"), std::string::npos);
}

TEST(Knee, FirstStepFailingMeansNoKnee) {
  const Knee k = find_knee({step(1, 100, 90, 10, 0), step(2, 200, 10, 10, 0)}, {{"p99_ms", 50}});
  EXPECT_FALSE(k.found);
  EXPECT_TRUE(k.saturated);
  const nlohmann::json j = k.to_json();
  EXPECT_FALSE(j["found"].get<bool>());
  EXPECT_FALSE(j.contains("step"));
  EXPECT_NE(describe_knee(k).find("none"), std::string::npos);
}

TEST(Knee, WithoutThresholdsTheLimitsAreDerivedFromStepOne) {
  // Step 1's p99 is 10 ms: the derived limit is 3 x 10 = 30 ms; the error
  // rate limit is the 1% default.
  const Knee k = find_knee(
      {step(1, 100, 10, 1000, 0), step(2, 200, 29, 1000, 0), step(3, 300, 31, 1000, 0)}, {});
  EXPECT_EQ(k.p99_limit_source, "derived");
  EXPECT_DOUBLE_EQ(k.p99_limit_ms, 30);
  EXPECT_EQ(k.error_rate_limit_source, "default");
  EXPECT_DOUBLE_EQ(k.error_rate_limit, kDefaultErrorRate);
  EXPECT_EQ(k.step, 2);
}

TEST(Knee, DerivedLimitHasAFloor) {
  // Sub-millisecond loopback latencies: 3 x 0.1 ms would make 0.4 ms a knee.
  const Knee k =
      find_knee({step(1, 100, 0.1, 10, 0), step(2, 200, 0.4, 10, 0), step(3, 300, 6, 10, 0)},
                {{"error_rate", 5}});
  EXPECT_DOUBLE_EQ(k.p99_limit_ms, kDerivedP99FloorMs);
  EXPECT_EQ(k.step, 2);
}

TEST(Knee, StepsWithoutRequestsAreNotJudged) {
  const Knee k = find_knee({step(1, 100, 1, 10, 0), step(2, 200, 0, 0, 0)}, {{"p99_ms", 5}});
  EXPECT_EQ(k.steps.size(), 1u);
  EXPECT_EQ(k.step, 1);
  EXPECT_EQ(find_knee({}, {}).steps.size(), 0u);
  EXPECT_NE(describe_knee(find_knee({}, {})).find("no step"), std::string::npos);
}

TEST(PercentileBetween, EqualsAHistogramOfOnlyTheNewValues) {
  metrics::Histogram cumulative, only_new;
  for (std::uint64_t v = 1; v <= 5000; ++v) cumulative.record(v * 3);
  const metrics::Histogram before = cumulative;
  for (std::uint64_t v = 1; v <= 1000; ++v) {
    cumulative.record(100'000 + v * 17);
    only_new.record(100'000 + v * 17);
  }
  for (double p : {1.0, 50.0, 90.0, 99.0, 100.0})
    EXPECT_DOUBLE_EQ(percentile_between(before, cumulative, p),
                     static_cast<double>(only_new.value_at_percentile(p)) / 1000.0)
        << p;
  EXPECT_EQ(percentile_between(cumulative, cumulative, 99), 0);
}

// A step run of 3 steps x 2 s at 10, 20, 30 iterations/s, fed one snapshot
// per second; step k's requests all take k ms (and step 3 has errors).
TEST(StepTracker, SplitsTheRunIntoSteps) {
  plan::ProfileSpec spec;
  spec.mode = plan::Mode::kStep;
  spec.rps = 30;
  spec.duration_s = 6;
  spec.steps = 3;
  const load::Profile profile = load::Profile::from_spec(spec);
  StepTracker tracker(profile, true);
  ASSERT_TRUE(tracker.active());
  metrics::Histogram cumulative;
  metrics::Snapshot s;
  for (int sec = 1; sec <= 6; ++sec) {
    const int k = (sec + 1) / 2;  // step of the second that just ended
    const std::uint64_t n = 10 * k;
    for (std::uint64_t i = 0; i < n; ++i) cumulative.record(1000 * k);
    s.elapsed_s = sec + 0.002;  // collection rounds land just after the second
    s.requests += n;
    s.attempts += n;
    if (k == 3) s.errors += 3;
    tracker.add(s, cumulative);
  }
  const std::vector<StepResult> r = tracker.results();
  ASSERT_EQ(r.size(), 3u);
  for (int k = 1; k <= 3; ++k) {
    SCOPED_TRACE(k);
    const StepResult& st = r[k - 1];
    EXPECT_EQ(st.index, k);
    EXPECT_EQ(st.label, "step " + std::to_string(k) + "/3");
    EXPECT_DOUBLE_EQ(st.target_rps, 10.0 * k);
    EXPECT_EQ(st.requests, 20u * k);
    EXPECT_NEAR(st.actual_rps, 10.0 * k, 0.1);
    EXPECT_DOUBLE_EQ(st.p99_ms, 1.0 * k);
  }
  EXPECT_EQ(r[2].errors, 6u);
  EXPECT_DOUBLE_EQ(r[2].error_rate, 10.0);
  const Knee knee = find_knee(r, {{"p99_ms", 2.5}});
  EXPECT_EQ(knee.step, 2);
  EXPECT_DOUBLE_EQ(knee.target_rps, 20);
}

TEST(StepTracker, InactiveOutsideStepMode) {
  plan::ProfileSpec spec;
  spec.mode = plan::Mode::kConstant;
  StepTracker tracker(load::Profile::from_spec(spec), false);
  EXPECT_FALSE(tracker.active());
  tracker.add(metrics::Snapshot{}, metrics::Histogram{});
  EXPECT_TRUE(tracker.results().empty());
}

}  // namespace
}  // namespace loadpilot::report
