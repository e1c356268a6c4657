#pragma once
// Knee point of a step run: the highest load the target sustained within
// its limits before it first broke them.
//
// Definition. Steps are judged in order, each on its own requests (not the
// run's totals): a step meets the limits when its p99 latency <= the p99
// limit and its error rate <= the error-rate limit. The knee is the last
// step of the unbroken run of passing steps that starts at step 1, i.e. the
// step just before the first failing one. A later step that passes again
// (a lucky second) does not move the knee. When step 1 already fails there
// is no knee (found = false); when every step passes, the knee is the last
// step and `saturated` is false: the limit lies above the tested range.
//
// Limits. The scenario's thresholds p99_ms and error_rate are used when set.
// Without a p99_ms threshold the limit is derived from step 1, the lightest
// load: kDerivedP99Factor times its p99, but at least kDerivedP99FloorMs (so
// sub-millisecond loopback jitter is not read as a knee). Without an
// error_rate threshold the limit is kDefaultErrorRate percent. Which source
// each limit came from is reported alongside it.
//
// Steps with no finished requests are not judged (they say nothing about
// the target) and are left out.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "load/profile.h"
#include "metrics/histogram.h"
#include "metrics/snapshot.h"

namespace loadpilot::report {

inline constexpr double kDerivedP99Factor = 3.0;
inline constexpr double kDerivedP99FloorMs = 5.0;
inline constexpr double kDefaultErrorRate = 1.0;  // percent

struct StepResult {
  int index = 0;      // 1-based, as in "step 2/5"
  std::string label;  // the profile's phase name
  double start_s = 0, end_s = 0;
  double target_rps = 0;  // the step's arrival rate
  double actual_rps = 0;  // requests finished per second during the step
  std::uint64_t requests = 0, errors = 0;
  double error_rate = 0;  // percent
  double p99_ms = 0;
  bool passed = false;  // filled in by find_knee
};

struct Knee {
  bool found = false;
  bool saturated = false;  // some step failed: the knee is a real limit
  int step = 0;            // index of the knee step when found
  double target_rps = 0, actual_rps = 0, p99_ms = 0, error_rate = 0;
  double p99_limit_ms = 0;
  std::string p99_limit_source;  // "threshold" | "derived"
  double error_rate_limit = 0;
  std::string error_rate_limit_source;  // "threshold" | "default"
  std::vector<StepResult> steps;        // judged, with `passed` set

  nlohmann::json to_json() const;
};

// Judges `steps` against `thresholds` (Plan::thresholds) as described above.
Knee find_knee(std::vector<StepResult> steps, const std::map<std::string, double>& thresholds);

// One line for the terminal summary.
std::string describe_knee(const Knee& knee);

// Splits a step run into steps while it runs. Each snapshot's interval is
// attributed to the step that contains its midpoint (collection rounds are
// 1 s apart, so a step boundary blurs by at most one round). Per-step p99 is
// exact for the requests attributed: the step's latency histogram is the
// difference of the run's cumulative histogram at its two ends.
// Thread-safety: none; fed on the engine's collector thread.
class StepTracker {
 public:
  // Steps are the profile's segments, in order; for a non-step profile the
  // tracker is inactive and results() is empty.
  explicit StepTracker(const load::Profile& profile, bool step_mode);

  // `cumulative` is the run's whole latency histogram after this snapshot
  // (metrics::Collector::total_latency()).
  void add(const metrics::Snapshot& s, const metrics::Histogram& cumulative);
  bool active() const { return !bounds_.empty(); }

  std::vector<StepResult> results() const;

 private:
  // The step being filled, with the run's state when it began.
  struct Open {
    int step = -1;  // index into bounds_
    double start_s = 0;
    std::uint64_t requests_at_start = 0, errors_at_start = 0, attempts_at_start = 0;
    metrics::Histogram latency_at_start;
  };
  // The open step as it stands, ending at the last snapshot seen.
  StepResult close_open() const;

  std::vector<StepResult> bounds_;  // label, start, end, target rate per step
  std::vector<StepResult> done_;
  Open open_;
  double last_t_ = 0;
  std::uint64_t last_requests_ = 0, last_errors_ = 0, last_attempts_ = 0;
  metrics::Histogram last_latency_;
};

// p-th percentile (0..100) of the values recorded in `later` but not in
// `earlier`, where `earlier` is an earlier state of the same cumulative
// histogram; in ms. 0 when nothing was recorded in between.
double percentile_between(const metrics::Histogram& earlier, const metrics::Histogram& later,
                          double percentile);

}  // namespace loadpilot::report
