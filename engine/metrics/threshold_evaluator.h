#pragma once
// ThresholdEvaluator: judges a run's thresholds (plan/thresholds.h) — per
// scope (the whole run or one task), over the whole run or over windows —
// live, once a second, and at the end.
//
// Windows. A threshold with over = N seconds is judged on every window of N
// consecutive collection rounds (the Collector's one-second intervals; the
// run's last round, cut short at its end, counts as one). Windows slide by
// one round: the first is judged at the end of round N, the next at the end
// of round N + 1, and so on. Its actual value is the worst window's, and
// the result names that window ([start_s, end_s] since the run's start). A
// run of fewer than N rounds is judged as one window of all its rounds. A
// window without requests has no latency to judge and passes; without
// attempts, no error rate.
//
// Live (abort_on_fail). At each round, a whole-run threshold is judged on
// the run's numbers so far and a windowed one on its latest full window.
// It breaks when actual > limit (NaN breaks too) and recovers when it is
// back within; one that has stayed broken for abort_after seconds, from the
// round it first broke in to the round judged now, breaks for good: abort()
// then names it, once, and the caller ends the run. Rounds without a sample
// leave the state as it was.
//
// At the end, results() judges whole-run thresholds on the final numbers
// the summary shows (which count iterations cut off at the end as errors)
// and windowed ones on their worst window, in the plan's key order with
// the run's keys first, then each task's in the plan's task order.
//
// Thread-safety: none; used on the engine's collector thread, then by the
// run's end on the main thread after Engine::run() returned.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "metrics/snapshot.h"
#include "metrics/stats.h"
#include "metrics/thresholds.h"
#include "plan/plan.h"

namespace loadpilot::metrics {

enum class ThresholdMetric { kP50, kP95, kP99, kMax, kErrorRate };

// What a threshold is judged on, for one scope over some span.
struct ScopeNumbers {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  std::uint64_t latency_samples = 0;
  double error_rate = 0;  // percent of attempts
  std::uint64_t attempts = 0;
  // The value of METRIC, or nullopt with no sample to judge.
  std::optional<double> value(ThresholdMetric metric) const;
  static ScopeNumbers of(const Histogram& latency, std::uint64_t errors, std::uint64_t attempts);
  // From the figures a summary shows (the same percentiles).
  static ScopeNumbers of(const LatencySummary& latency, double error_rate, std::uint64_t attempts);
};

// One threshold resolved against the run's metric rows.
struct Gate {
  std::string key;              // as written: "checkout.p99_ms"
  std::string task;             // "" for the whole run
  std::size_t row = kWholeRun;  // the task's index in IntervalStats::tasks
  ThresholdMetric metric = ThresholdMetric::kP99;
  plan::Threshold spec;
  static constexpr std::size_t kWholeRun = static_cast<std::size_t>(-1);
};

// The plan's thresholds as gates, rows found by task name in ROWS (the
// Collector's task_names()). Keys plan::validate() refuses are left out.
std::vector<Gate> gates_of(const plan::Plan& plan, const std::vector<std::string>& rows);

class ThresholdEvaluator {
 public:
  explicit ThresholdEvaluator(std::vector<Gate> gates);
  ThresholdEvaluator(const plan::Plan& plan, const std::vector<std::string>& rows)
      : ThresholdEvaluator(gates_of(plan, rows)) {}

  const std::vector<Gate>& gates() const { return gates_; }

  // One collection round, ending END_S seconds after the run's start:
  // ROUND its statistics alone, CUMULATIVE the run's so far and
  // RUN_LATENCY the run's latency so far, all tasks merged.
  void add_round(const IntervalStats& round, const IntervalStats& cumulative,
                 const Histogram& run_latency, double end_s);

  // The threshold that broke for good, from the round that decided it on.
  struct Abort {
    std::string key;
    double broken_at_s = 0;   // the end of the round it first broke in
    double decided_at_s = 0;  // the end of the round that ended its grace
    double actual = 0, limit = 0;
    double abort_after_s = 0;
    double over_s = 0;
    // "threshold checkout.p99_ms broke at 5.0 s (actual 812.00 ms > limit
    // 300 ms) and stayed broken past its 2 s grace: abort_on_fail stopped
    // the run at 7.0 s"
    std::string describe() const;
  };
  const std::optional<Abort>& abort() const { return abort_; }

  // The final verdict of every gate. RUN: the whole run's numbers; TASKS:
  // each row's, indexed like Gate::row (rows without numbers: none).
  std::vector<ThresholdResult> results(const ScopeNumbers& run,
                                       const std::vector<ScopeNumbers>& tasks) const;

 private:
  struct Round {
    double start_s = 0, end_s = 0;
    Histogram latency;
    std::uint64_t errors = 0, attempts = 0;
  };
  struct State {
    std::deque<Round> rounds;  // windowed: the latest over_s rounds
    bool judged_window = false;
    double worst = 0;  // the worst full window's value so far
    bool has_worst = false;
    double worst_start_s = 0, worst_end_s = 0;
    std::optional<double> broken_since;  // live: start of the current breach
  };
  std::optional<double> window_value(const Gate& g, const State& s, double* start_s,
                                     double* end_s) const;

  std::vector<Gate> gates_;
  std::vector<State> states_;
  std::optional<Abort> abort_;
  double last_end_s_ = 0;
};

}  // namespace loadpilot::metrics
