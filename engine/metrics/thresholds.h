#pragma once
// Thresholds: SLA limits a run must stay within. Keys: p50_ms, p95_ms,
// p99_ms, max_ms (whole-run latency, milliseconds) and error_rate (percent
// of requests that failed). A run passes when every actual <= limit.
#include <map>
#include <optional>
#include <string>
#include <string_view>
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

// A limit in k6's spelling, where it maps cleanly onto ours
// (docs/cli.md#thresholds-on-the-command-line): p(50), p(95), p(99), med
// and max of the request duration in ms -> p50_ms, p95_ms, p99_ms, p50_ms,
// max_ms; http_req_failed (or rate), a rate from 0 to 1 -> error_rate in
// percent. "<" and "<=" both read as "at most" (ours pass when actual <=
// limit). Returns nullopt with *error "" when `text` is not such an
// expression at all (no < or >), or with *error saying why it does not map.
struct Limit {
  std::string key;
  double limit = 0;
};
std::optional<Limit> from_k6(std::string_view text, std::string* error);

// A limit's value as typed: a finite decimal number >= 0.
std::optional<double> parse_limit(std::string_view text);

}  // namespace loadpilot::metrics
