#include "metrics/thresholds.h"

#include <optional>
#include <string_view>

#include "plan/plan.h"

namespace loadpilot::metrics {

namespace {

std::optional<double> actual_for(std::string_view key, const RunTotals& totals) {
  if (key == "p50_ms") return totals.p50_ms;
  if (key == "p95_ms") return totals.p95_ms;
  if (key == "p99_ms") return totals.p99_ms;
  if (key == "max_ms") return totals.max_ms;
  if (key == "error_rate") return totals.error_rate;
  return std::nullopt;  // a key added to the plan but not measured here yet
}

}  // namespace

// Unknown keys are skipped: plan::validate() reports them, naming the field,
// before a run starts.
std::vector<ThresholdResult> evaluate_thresholds(const std::map<std::string, double>& limits,
                                                 const RunTotals& totals) {
  std::vector<ThresholdResult> results;
  for (const char* key : plan::kThresholdKeys) {
    const auto it = limits.find(key);
    if (it == limits.end()) continue;
    const std::optional<double> actual = actual_for(key, totals);
    if (!actual) continue;
    // Written as !(a > l) would pass NaN; a NaN measurement must fail.
    results.push_back({it->first, it->second, *actual, *actual <= it->second});
  }
  return results;
}

bool all_passed(const std::vector<ThresholdResult>& results) {
  for (const auto& r : results)
    if (!r.passed) return false;
  return true;
}

}  // namespace loadpilot::metrics
