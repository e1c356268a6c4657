#include "plan/thresholds.h"

#include <fmt/format.h>

#include <cmath>

#include "plan/plan.h"
#include "plan/suggest.h"

namespace loadpilot::plan {

namespace {

using nlohmann::json;

std::string metric_list() {
  std::string out;
  for (std::string_view k : kThresholdKeys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

std::vector<std::string> metrics() {
  return {std::begin(kThresholdKeys), std::end(kThresholdKeys)};
}

std::vector<std::string> task_names(const Plan& plan) {
  std::vector<std::string> names;
  for (const TaskSpec& t : plan.tasks) names.push_back(t.name);
  return names;
}

std::string joined_key(const std::string& scope, const std::string& metric) {
  return scope.empty() ? metric : scope + "." + metric;
}

std::string meant(const std::string& key) {
  return key.empty() ? std::string() : "; did you mean " + key + "?";
}

std::string show(const Threshold& t) {
  return t.plain() ? fmt::format("{}", t.limit) : threshold_to_json(t).dump();
}

// The problem with the key alone, or "".
std::string key_problem(const Plan& plan, const std::string& key) {
  const ThresholdKey k = split_threshold_key(key);
  const bool metric_known = known_threshold_metric(k.metric);
  const std::string metric_meant = metric_known ? k.metric : nearest(k.metric, metrics());
  if (k.scope.empty()) {
    if (metric_known) return "";
    for (const TaskSpec& t : plan.tasks)
      if (t.name == k.metric)
        return fmt::format("{} is a task: name one of its metrics, e.g. {}.p99_ms (metrics: {})",
                           k.metric, k.metric, metric_list());
    return fmt::format(
        "unknown threshold{}; use one of {}, alone or after a task's name "
        "(TASK.p99_ms)",
        meant(metric_meant), metric_list());
  }
  std::string error, scope_meant;
  const bool scope_known = resolve_scope(plan, k.scope, &error, &scope_meant).has_value();
  if (!scope_known) {
    const std::string guess =
        scope_meant.empty() ? std::string() : joined_key(scope_meant, metric_meant);
    std::string names;
    for (const std::string& n : task_names(plan)) names += (names.empty() ? "" : ", ") + n;
    return fmt::format("{}{} (tasks: {})", error, meant(guess), names);
  }
  if (!metric_known)
    return fmt::format("unknown metric {}{}; use one of {}", k.metric,
                       meant(metric_meant.empty() ? "" : joined_key(k.scope, metric_meant)),
                       metric_list());
  return "";
}

}  // namespace

ThresholdKey split_threshold_key(std::string_view key) {
  const auto dot = key.rfind('.');
  if (dot == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, dot)), std::string(key.substr(dot + 1))};
}

bool known_threshold_metric(std::string_view metric) {
  for (std::string_view k : kThresholdKeys)
    if (k == metric) return true;
  return false;
}

std::optional<ThresholdScope> resolve_scope(const Plan& plan, std::string_view scope,
                                            std::string* error, std::string* meant_scope) {
  error->clear();
  meant_scope->clear();
  if (scope.empty()) return ThresholdScope{};
  for (const TaskSpec& t : plan.tasks)
    if (t.name == scope) return ThresholdScope{ThresholdScope::Kind::kTask, t.name};
  // A scenario's name (or "scenario.task") resolves here once a run can
  // carry several scenarios.
  *error = fmt::format("no task {} in scenario {}", scope, plan.name);
  *meant_scope = nearest(scope, task_names(plan));
  return std::nullopt;
}

std::string threshold_problem(const Plan& plan, const std::string& key, const Threshold& t) {
  const std::string got = " (got " + show(t) + ")";
  if (std::string p = key_problem(plan, key); !p.empty()) return p + got;
  if (!(t.limit >= 0 && std::isfinite(t.limit))) return "must be a finite number >= 0" + got;
  if (t.over_s != 0 &&
      !(t.over_s >= 1 && t.over_s <= kMaxThresholdWindowS && t.over_s == std::floor(t.over_s)))
    return fmt::format(
        "over: must be whole seconds from 1s to {:g}s (windows slide by the "
        "one-second collection round){}",
        kMaxThresholdWindowS, got);
  if (!(t.abort_after_s >= 0 && t.abort_after_s <= kMaxDurationS))
    return fmt::format("abort_after: must be a duration from 0s to {:g}s{}", kMaxDurationS, got);
  if (t.abort_after_s > 0 && !t.abort_on_fail)
    return "abort_after: is the grace of abort_on_fail=True, which is not set" + got;
  return "";
}

std::map<std::string, double> whole_run_limits(const Thresholds& thresholds) {
  std::map<std::string, double> out;
  for (const auto& [key, t] : thresholds)
    if (t.plain() && known_threshold_metric(key)) out[key] = t.limit;
  return out;
}

json threshold_to_json(const Threshold& t) {
  if (t.plain()) return t.limit;
  json j = {{"limit", t.limit}};
  if (t.over_s != 0) j["over_s"] = t.over_s;
  if (t.abort_on_fail) j["abort_on_fail"] = true;
  if (t.abort_after_s != 0) j["abort_after_s"] = t.abort_after_s;
  return j;
}

Threshold threshold_from_json(const json& j, const std::string& field) {
  const auto number = [](const json& v, const std::string& f) {
    if (!v.is_number() || v.is_boolean())
      throw PlanError(fmt::format("{}: expected a number (got {})", f, v.dump()));
    return v.get<double>();
  };
  if (!j.is_object()) return Threshold(number(j, field));
  Threshold t;
  for (const auto& [name, v] : j.items()) {
    if (name == "limit") {
      t.limit = number(v, field + ".limit");
    } else if (name == "over_s") {
      t.over_s = number(v, field + ".over_s");
    } else if (name == "abort_after_s") {
      t.abort_after_s = number(v, field + ".abort_after_s");
    } else if (name == "abort_on_fail") {
      if (!v.is_boolean())
        throw PlanError(
            fmt::format("{}.abort_on_fail: expected true or false (got {})", field, v.dump()));
      t.abort_on_fail = v.get<bool>();
    } else {
      throw PlanError(
          fmt::format("{}.{}: unknown field; a threshold has limit, over_s, "
                      "abort_on_fail and abort_after_s",
                      field, name));
    }
  }
  if (!j.contains("limit")) throw PlanError(field + ".limit: required field is missing");
  return t;
}

}  // namespace loadpilot::plan
