// How a capacity search judges one step's hold (capacity/step.h), from
// constructed stats and rounds.
#include <gtest/gtest.h>

#include "capacity/step.h"

namespace loadpilot::capacity {
namespace {

HoldWindow hold_of(int requests, std::uint64_t latency_us, int errors = 0) {
  HoldWindow h;
  h.stats = metrics::IntervalStats(1);
  metrics::TaskStats& t = h.stats.tasks[0];
  t.requests = static_cast<std::uint64_t>(requests);
  t.errors = static_cast<std::uint64_t>(errors);
  t.latency.record(latency_us, static_cast<std::uint64_t>(requests));
  h.stats.iterations_started = static_cast<std::uint64_t>(requests);
  h.seconds = 2;
  h.max_connections = 100;
  metrics::Round r;
  r.end_s = 2;
  r.interval_s = 1;
  r.started = static_cast<std::uint64_t>(requests) / 2;
  h.rounds = {r, r};
  return h;
}

TEST(CapacityStep, PassesWhenEveryThresholdHoldsAndNothingDropped) {
  const StepResult r = judge_step(hold_of(800, 20'000), {{"p99_ms", 100}, {"error_rate", 1}});
  EXPECT_EQ(r.outcome, StepOutcome::kPass);
  EXPECT_EQ(r.requests, 800u);
  EXPECT_DOUBLE_EQ(r.started_rps, 400);
  EXPECT_NEAR(r.latency.p99_ms, 20, 0.1);
  EXPECT_TRUE(r.reason.empty());
}

TEST(CapacityStep, FailsOnTheFirstBrokenThreshold) {
  const StepResult r = judge_step(hold_of(800, 412'000), {{"p99_ms", 250}, {"error_rate", 1}});
  EXPECT_EQ(r.outcome, StepOutcome::kFail);
  ASSERT_NE(r.first_failed(), nullptr);
  EXPECT_EQ(r.first_failed()->key, "p99_ms");
  EXPECT_EQ(r.reason, "p99 412 ms > 250 ms");
  const StepResult e = judge_step(hold_of(800, 1'000, 80), {{"error_rate", 1}});
  EXPECT_EQ(e.outcome, StepOutcome::kFail);
  EXPECT_EQ(e.reason, "errors 10.00% > 1%");
}

TEST(CapacityStep, DroppedArrivalsFailTheStep) {
  HoldWindow h = hold_of(800, 20'000);
  h.stats.dropped = 12;
  h.rounds[1].dropped = 12;
  // The target's fault: every connection busy with requests in flight.
  h.rounds[1].health.connections_busy = 100;
  const StepResult r = judge_step(h, {{"p99_ms", 100}});
  EXPECT_EQ(r.outcome, StepOutcome::kFail);
  EXPECT_EQ(r.reason, "12 arrivals dropped");
}

TEST(CapacityStep, AFailureWhileTheGeneratorStalledIsNotTheTargets) {
  HoldWindow h = hold_of(800, 150'000);
  h.stats.late = 200;
  h.rounds[1].late = 200;
  h.rounds[1].health.lag_max_ms = 115;  // a stall of the generator's machine
  const StepResult r = judge_step(h, {{"p99_ms", 100}});
  EXPECT_EQ(r.outcome, StepOutcome::kGeneratorLimited);
  EXPECT_EQ(r.held_back_by, "machine");
  EXPECT_NE(r.reason.find("p99 150 ms > 100 ms"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("generator's machine"), std::string::npos) << r.reason;
  // The same stall in a hold that met its thresholds: the step passed.
  const StepResult ok = judge_step(h, {{"p99_ms", 200}});
  EXPECT_EQ(ok.outcome, StepOutcome::kPass);
}

// A generator starved of CPU by other processes (its threads waited on a
// run queue most of the second, its loop lag under the stall mark): any
// failure of the hold is the generator's machine, as for a saturated
// generator, since its own wait sits inside every latency it measured.
TEST(CapacityStep, AFailureWhileTheGeneratorWaitedForCpuIsNotTheTargets) {
  HoldWindow h = hold_of(800, 1'264'000);
  h.stats.late = 300;
  h.rounds[1].late = 300;
  h.rounds[1].health.lag_max_ms = 9;
  h.rounds[1].health.connections_busy = 100;  // responses unread: all "busy"
  h.rounds[1].health.cpu_wait = 0.55;
  const StepResult r = judge_step(h, {{"p99_ms", 100}});
  EXPECT_EQ(r.outcome, StepOutcome::kGeneratorLimited);
  EXPECT_EQ(r.held_back_by, "machine");
  EXPECT_NE(r.reason.find("waited for CPU 55%"), std::string::npos) << r.reason;
  EXPECT_DOUBLE_EQ(r.cpu_wait_max, 0.55);
  // A short wait is a busy machine's ordinary share: the target's failure.
  h.rounds[1].health.cpu_wait = 0.05;
  EXPECT_EQ(judge_step(h, {{"p99_ms", 100}}).outcome, StepOutcome::kFail);
}

// A stall cannot explain more latency than its own length: a hold whose
// p99 is far above the limit failed at the target, stall or not (a busy
// CI machine stalls 50-150 ms now and then).
TEST(CapacityStep, AStallTooShortToExplainTheFailureLeavesItTheTargets) {
  HoldWindow h = hold_of(800, 1'264'000);
  h.stats.late = 200;
  h.rounds[1].late = 200;
  h.rounds[1].health.lag_max_ms = 52;
  const StepResult r = judge_step(h, {{"p99_ms", 100}});
  EXPECT_EQ(r.outcome, StepOutcome::kFail) << r.reason;
  EXPECT_EQ(r.reason, "p99 1264 ms > 100 ms");
  EXPECT_EQ(r.held_back_by, "machine");  // still recorded as evidence
  // Errors are not made by a stall either.
  HoldWindow e = hold_of(800, 20'000, 80);
  e.stats.late = 200;
  e.rounds[1].late = 200;
  e.rounds[1].health.lag_max_ms = 115;
  EXPECT_EQ(judge_step(e, {{"error_rate", 1}}).outcome, StepOutcome::kFail);
  // A saturated generator explains anything: its steps do not judge the target.
  HoldWindow g = hold_of(800, 1'264'000);
  g.stats.late = 200;
  g.rounds[1].late = 200;
  g.rounds[1].health.busy = 0.99;
  EXPECT_EQ(judge_step(g, {{"p99_ms", 100}}).outcome, StepOutcome::kGeneratorLimited);
}

TEST(CapacityStep, NoRequestFinishedIsAFailure) {
  HoldWindow h = hold_of(0, 0);
  const StepResult r = judge_step(h, {{"p99_ms", 100}});
  EXPECT_EQ(r.outcome, StepOutcome::kFail);
  EXPECT_EQ(r.reason, "no request finished in the hold");
}

TEST(CapacityStep, Labels) {
  EXPECT_EQ(threshold_label("p99_ms", 250), "p99 ≤ 250 ms");
  EXPECT_EQ(threshold_label("error_rate", 1), "errors ≤ 1%");
  EXPECT_EQ(actual_label("p99_ms", 412.4), "p99 412 ms");
}

}  // namespace
}  // namespace loadpilot::capacity
