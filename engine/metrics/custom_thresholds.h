#pragma once
// Thresholds on custom metrics (docs/scenarios.md#custom-metrics): maps a
// key "NAME.STAT" (plan/custom_keys.h) to the value it judges. Kept apart
// from the run-wide threshold evaluation so that either can change alone.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/custom_metrics.h"
#include "metrics/thresholds.h"
#include "plan/custom_keys.h"

namespace loadpilot::metrics {

// The value KEY names in M: nullopt when KEY is not a statistic of one of
// DECLARED's metrics; NaN when that metric has no values, which no limit
// passes (a counter with none counts 0). Trend statistics are in the
// values' own unit; a rate is a share from 0 to 1.
std::optional<double> custom_metric_value(std::string_view key,
                                          const std::vector<plan::CustomMetricSpec>& declared,
                                          const CustomMetrics& m);

// A result for every limit of LIMITS whose key custom_metric_value()
// knows, in the order of LIMITS; a run passes one when actual <= limit.
std::vector<ThresholdResult> evaluate_custom_thresholds(
    const std::map<std::string, double>& limits,
    const std::vector<plan::CustomMetricSpec>& declared, const CustomMetrics& m);

}  // namespace loadpilot::metrics
