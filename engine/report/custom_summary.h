#pragma once
// The custom metrics' part of the end-of-run summary and of the HTML
// report (docs/output.md#custom-metrics): one line per metric.
#include <string>
#include <vector>

#include "metrics/custom_metrics.h"
#include "plan/custom_keys.h"

namespace loadpilot::report {

// The metrics DECLARED in the plan (each, even with no values) and those
// of CUMULATIVE, merged: what the run's outputs show.
metrics::CustomMetrics run_custom_metrics(const std::vector<plan::CustomMetricSpec>& declared,
                                          const metrics::CustomMetrics& cumulative);

// "cart_items  trend    count 120  min 1  mean 3.2  p50 3  p95 7  p99 9  max 12"
// and so on for each kind: a line each, name and kind in columns, without
// the summary's indent. A line wider than WIDTH breaks between figures,
// continued under the first figure.
std::vector<std::string> custom_metric_lines(const metrics::CustomMetrics& m, int width);

}  // namespace loadpilot::report
