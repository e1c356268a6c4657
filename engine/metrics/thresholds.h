#pragma once
// Thresholds: SLA limits a run must stay within. Keys: p50_ms, p95_ms,
// p99_ms, max_ms (whole-run latency, milliseconds) and error_rate (percent
// of requests that failed). A run passes when every actual <= limit.
#include <map>
#include <string>
#include <vector>

namespace loadpilot::metrics {

struct ThresholdResult {
  std::string key;
  double limit = 0;
  double actual = 0;
  bool passed = true;
};

struct RunTotals {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0;
  double error_rate = 0;  // percent
};

std::vector<ThresholdResult> evaluate_thresholds(const std::map<std::string, double>& limits,
                                                 const RunTotals& totals);
bool all_passed(const std::vector<ThresholdResult>& results);

}  // namespace loadpilot::metrics
