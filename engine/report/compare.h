#pragma once
// Comparison of two results files (a baseline and a current run), as
// `loadpilot compare` prints it and judges it.
//
// Metrics and direction: RPS actual (lower is worse); p50, p95, p99 and max
// latency and error rate (higher is worse). diff % = (current - baseline) /
// baseline. A metric regressed when it moved the worse way by more than the
// threshold percent *and* by more than its noise floor. Special cases, so
// that tiny or zero baselines and run-to-run noise do not produce absurd
// verdicts (docs/report.md#baselines-and-loadpilot-compare):
//  * latency: a change smaller than min_change_ms (default 1 ms) never
//    counts; such a row is marked "within noise" (0.23 -> 0.27 ms is +17%
//    but no regression).
//  * error rate: it also has to rise by more than kErrorRateFloor percentage
//    points. With a 0 % baseline the relative change is undefined: any
//    current rate above the floor is a regression (0 % -> 0.05 % is not,
//    0 % -> 0.5 % is).
//  * a baseline of 0 for RPS or latency (a run without requests) cannot be
//    compared with a non-zero current value: no verdict, shown as "n/a".
//    0 against 0 is unchanged (+0.0%).
//
// A run of several scenarios (docs/scenarios.md#several-scenarios-in-one-run)
// is compared as a run, then each scenario present in both files (matched
// by name) as a run, then each of its tasks present in both (matched by
// name) by p99 and error rate; what is in one file only is a note.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace loadpilot::report {

inline constexpr double kErrorRateFloor = 0.1;  // percentage points
inline constexpr double kDefaultMinChangeMs = 1.0;

struct MetricComparison {
  std::string name;  // "RPS actual", "p50", ...
  std::string unit;  // "req/s", "ms", "%"
  bool higher_is_worse = true;
  double baseline = 0, current = 0;
  std::optional<double> diff_pct;  // nullopt when the baseline is 0 and current is not
  bool regressed = false;
  bool improved = false;  // moved the better way by more than the threshold
  // Moved past the threshold percent, but by less than the noise floor.
  bool within_noise = false;
};

struct Comparison {
  std::vector<MetricComparison> metrics;
  std::vector<std::string> notes;  // e.g. different scenarios or targets
  bool regressed() const;
};

// Both objects must have passed check_results().
Comparison compare_results(const nlohmann::json& baseline, const nlohmann::json& current,
                           double threshold_pct, double min_change_ms = kDefaultMinChangeMs);

void print_comparison(std::FILE* out, const Comparison& c, const std::string& baseline_path,
                      const std::string& current_path, double threshold_pct, bool color);

}  // namespace loadpilot::report
