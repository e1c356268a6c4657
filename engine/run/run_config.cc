#include "run/run_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>

#include "metrics/thresholds.h"
#include "plan/custom_keys.h"
#include "plan/plan.h"
#include "plan/suggest.h"

namespace loadpilot::cli {

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::optional<AgentShare> parse_agent(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::size_t i = 0, n = 0;
  const char* b = text.data();
  if (std::from_chars(b, b + slash, i).ptr != b + slash) return std::nullopt;
  if (std::from_chars(b + slash + 1, b + text.size(), n).ptr != b + text.size())
    return std::nullopt;
  if (n < 1 || n > kMaxExternalAgents || i < 1 || i > n) return std::nullopt;
  return AgentShare{i - 1, n};
}

std::optional<std::pair<std::string, double>> parse_threshold_option(std::string_view text,
                                                                     std::string* error) {
  const std::vector<std::string> keys(std::begin(plan::kThresholdKeys),
                                      std::end(plan::kThresholdKeys));
  const auto refuse = [&](const std::string& why) {
    *error = fmt::format("--threshold {}: {}", text, why);
    return std::nullopt;
  };
  std::string k6_error;
  if (auto limit = metrics::from_k6(text, &k6_error)) return std::pair(limit->key, limit->limit);
  if (!k6_error.empty()) return refuse(k6_error);
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return refuse(fmt::format("expected KEY=VALUE such as p99_ms=500, or k6's p(95)<200 (keys: {})",
                              joined(keys)));
  const std::string key(text.substr(0, eq));
  // TASK.METRIC: the task is known once the scenario is loaded, and
  // plan::validate() names this flag when there is none of that name.
  const plan::ThresholdKey k = plan::split_threshold_key(key);
  // NAME.STAT of a custom metric (plan/custom_keys.h): the metric is known
  // once the file is imported, and plan::validate() judges it then.
  const bool custom_stat = !k.scope.empty() && [&] {
    for (const char* kind : {"trend", "counter", "rate", "gauge"}) {
      const std::vector<std::string> stats = plan::custom_stats(kind);
      if (std::find(stats.begin(), stats.end(), k.metric) != stats.end()) return true;
    }
    return false;
  }();
  if (!custom_stat && std::find(keys.begin(), keys.end(), k.metric) == keys.end()) {
    const std::string near = plan::nearest(k.metric, keys);
    const std::string meant = near.empty() ? "" : (k.scope.empty() ? near : k.scope + "." + near);
    return refuse(fmt::format("unknown {} {}{} ({}: {}{})", k.scope.empty() ? "key" : "metric",
                              k.metric, meant.empty() ? "" : "; did you mean " + meant + "?",
                              k.scope.empty() ? "keys" : "metrics", joined(keys),
                              k.scope.empty() ? "; or k6's p(95)<200" : ""));
  }
  if (!k.scope.empty() && key.front() == '.')
    return refuse("the task's name is missing before the dot (TASK.p99_ms)");
  const std::string_view value = text.substr(eq + 1);
  const std::optional<double> limit = metrics::parse_limit(value);
  if (!limit) return refuse(fmt::format("the limit must be a number >= 0 (got \"{}\")", value));
  return std::pair(key, *limit);
}

}  // namespace loadpilot::cli
