#pragma once
// Thresholds: SLA limits a run must stay within. Keys: p50_ms, p95_ms,
// p99_ms, max_ms (whole-run latency, milliseconds) and error_rate (percent
// of requests that failed). A run passes when every actual <= limit.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadpilot::metrics {

struct ThresholdResult {
  ThresholdResult() = default;
  ThresholdResult(std::string k, double l, double a, bool p)
      : key(std::move(k)), limit(l), actual(a), passed(p) {}

  std::string key;  // as written: "p99_ms", "checkout.p99_ms"
  double limit = 0;
  double actual = 0;
  bool passed = true;
  // What the key names (metrics/threshold_evaluator.h): the task ("" for
  // the whole run) and the metric ("p99_ms").
  std::string task;
  std::string metric;
  // Judged over windows of over_s seconds (0: the whole run); actual is
  // then the worst window's, which spans [window_start_s, window_end_s].
  double over_s = 0;
  double window_start_s = 0, window_end_s = 0;
  bool abort_on_fail = false;
  double abort_after_s = 0;
  // This threshold ended the run (abort_on_fail): it first broke at
  // broken_at_s and the run was stopped at aborted_at_s.
  bool aborted = false;
  double broken_at_s = 0, aborted_at_s = 0;
  // "p99_ms", "checkout.p99_ms over 60s": the key and its window, as the
  // summary, JUnit and the step summary name it.
  std::string label() const;
  // Its results-file entry (docs/output.md#thresholds).
  nlohmann::json to_json() const;
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
