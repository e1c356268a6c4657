#include "metrics/thresholds.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
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
    ThresholdResult r{it->first, it->second, *actual, *actual <= it->second};
    r.metric = it->first;
    results.push_back(std::move(r));
  }
  return results;
}

std::string ThresholdResult::label() const {
  return over_s > 0 ? fmt::format("{} over {:g}s", key, over_s) : key;
}

nlohmann::json ThresholdResult::to_json() const {
  nlohmann::json j = {
      {"key", key},
      {"task", task.empty() ? nlohmann::json(nullptr) : nlohmann::json(task)},
      {"metric", metric.empty() ? key : metric},
      {"limit", limit},
      {"actual", actual},
      {"passed", passed},
      {"over_s", over_s > 0 ? nlohmann::json(over_s) : nlohmann::json(nullptr)},
      {"window", over_s > 0 ? nlohmann::json{{"start_s", window_start_s}, {"end_s", window_end_s}}
                            : nlohmann::json(nullptr)},
      {"abort_on_fail", abort_on_fail},
      {"aborted", aborted}};
  if (abort_on_fail) j["abort_after_s"] = abort_after_s;
  if (aborted) {
    j["broken_at_s"] = broken_at_s;
    j["aborted_at_s"] = aborted_at_s;
  }
  return j;
}

bool all_passed(const std::vector<ThresholdResult>& results) {
  for (const auto& r : results)
    if (!r.passed) return false;
  return true;
}

namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<double> parse_limit(std::string_view text) {
  text = trimmed(text);
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) ||
      v < 0)
    return std::nullopt;
  return v;
}

std::optional<Limit> from_k6(std::string_view text, std::string* error) {
  error->clear();
  const auto op = text.find_first_of("<>");
  if (op == std::string_view::npos) return std::nullopt;
  if (text[op] == '>') {
    *error = "only upper limits (< or <=) are thresholds here";
    return std::nullopt;
  }
  const std::string_view metric = trimmed(text.substr(0, op));
  std::string_view value = text.substr(op + 1);
  if (!value.empty() && value.front() == '=') value.remove_prefix(1);
  value = trimmed(value);
  std::string key;
  bool rate = false;
  if (metric == "p(50)" || metric == "med") {
    key = "p50_ms";
  } else if (metric == "p(95)") {
    key = "p95_ms";
  } else if (metric == "p(99)") {
    key = "p99_ms";
  } else if (metric == "max") {
    key = "max_ms";
  } else if (metric == "http_req_failed" || metric == "rate") {
    key = "error_rate";
    rate = true;
  } else {
    *error = fmt::format(
        "{} has no threshold here; k6's p(50), p(95), p(99), med, max and http_req_failed map "
        "onto ours",
        metric);
    return std::nullopt;
  }
  const std::optional<double> limit = parse_limit(value);
  if (!limit) {
    *error = fmt::format("the limit must be a number >= 0 (got \"{}\")", value);
    return std::nullopt;
  }
  if (rate && *limit > 1) {
    *error = fmt::format("{} is a rate from 0 to 1 (got {})", metric, value);
    return std::nullopt;
  }
  return Limit{key, rate ? *limit * 100 : *limit};
}

}  // namespace loadpilot::metrics
