#include "plan/custom_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan/plan.h"
#include "plan/suggest.h"

namespace loadpilot::plan {

std::vector<std::string> custom_stats(std::string_view kind) {
  if (kind == "trend") return {"count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max"};
  if (kind == "counter") return {"count"};
  if (kind == "rate") return {"rate"};
  if (kind == "gauge") return {"value", "min", "max"};
  return {};
}

std::optional<CustomKey> split_custom_key(std::string_view key) {
  const auto dot = key.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  return CustomKey{std::string(key.substr(0, dot)), std::string(key.substr(dot + 1))};
}

std::optional<std::string> custom_key_problem(std::string_view key, double limit,
                                              const std::vector<CustomMetricSpec>& metrics) {
  const std::optional<CustomKey> k = split_custom_key(key);
  if (!k) return std::nullopt;
  const CustomMetricSpec* metric = nullptr;
  for (const CustomMetricSpec& m : metrics)
    if (m.name == k->name) metric = &m;
  if (metric == nullptr) return std::nullopt;
  const std::vector<std::string> stats = custom_stats(metric->kind);
  bool known = false;
  for (const std::string& s : stats) known = known || s == k->stat;
  if (!known) {
    std::string list;
    for (const std::string& s : stats) list += (list.empty() ? "" : ", ") + s;
    // "p95_ms": the run's latency keys carry a unit, a custom metric's do not.
    std::string near = nearest(k->stat, stats);
    if (k->stat.ends_with("_ms")) {
      const std::string bare = k->stat.substr(0, k->stat.size() - 3);
      if (std::find(stats.begin(), stats.end(), bare) != stats.end()) near = bare;
    }
    return fmt::format("{} {} ({}) has no statistic {}; {}use {}", metric->kind, metric->name,
                       metric->where, k->stat,
                       near.empty() ? "" : fmt::format("did you mean {}.{}? ", k->name, near),
                       stats.size() == 1 ? list : "one of " + list);
  }
  if (!(limit >= 0 && std::isfinite(limit)))
    return fmt::format("must be a finite number >= 0 (got {})", limit);
  if (metric->kind == "rate" && limit > 1)
    return fmt::format("a rate is a share from 0 to 1 (got {})", limit);
  return std::string();
}

void validate_custom_metrics(const Plan& plan, std::vector<std::string>* errors) {
  for (const CustomMetricSpec& m : plan.custom_metrics) {
    if (custom_stats(m.kind).empty())
      errors->push_back(fmt::format("custom_metrics.{}: unknown kind {} ({})", m.name,
                                    nlohmann::json(m.kind).dump(), m.where));
    for (const TaskSpec& task : plan.tasks)
      if (task.name == m.name)
        errors->push_back(fmt::format(
            "custom_metrics.{}: {} has the name of a task; give the metric another name ({})",
            m.name, m.name, m.where));
  }
}

bool known_threshold(std::string_view key) {
  for (std::string_view k : kThresholdKeys)
    if (k == key) return true;
  return false;
}

bool checked_custom_key(const std::string& field, std::string_view key, double limit,
                        const std::vector<CustomMetricSpec>& metrics,
                        std::vector<std::string>* errors) {
  const std::optional<std::string> problem = custom_key_problem(key, limit, metrics);
  if (problem && !problem->empty()) errors->push_back(fmt::format("{}: {}", field, *problem));
  return problem.has_value();
}

std::string unknown_threshold_problem(std::string_view key,
                                      const std::vector<CustomMetricSpec>& metrics) {
  std::string out = "unknown threshold; use one of ";
  for (std::string_view k : kThresholdKeys) out += std::string(k) + ", ";
  out.resize(out.size() - 2);
  if (metrics.empty()) return out;
  std::vector<std::string> candidates;
  std::string names;
  for (const CustomMetricSpec& m : metrics) {
    names += (names.empty() ? "" : ", ") + m.name;
    for (const std::string& stat : custom_stats(m.kind)) candidates.push_back(m.name + "." + stat);
  }
  out += ", or NAME.STAT of a custom metric (declared: " + names + ")";
  if (const std::string near = nearest(key, candidates); !near.empty())
    out += "; did you mean " + near + "?";
  return out;
}

nlohmann::json custom_metrics_to_json(const std::vector<CustomMetricSpec>& metrics) {
  nlohmann::json out = nlohmann::json::array();
  for (const CustomMetricSpec& m : metrics)
    out.push_back({{"name", m.name}, {"kind", m.kind}, {"where", m.where}});
  return out;
}

std::vector<CustomMetricSpec> custom_metrics_from_json(const nlohmann::json& j) {
  const auto fail = [](const std::string& field, const char* expected, const nlohmann::json& got) {
    throw PlanError(fmt::format("{}: expected {} (got {})", field, expected, got.dump()));
  };
  std::vector<CustomMetricSpec> out;
  if (j.is_null()) return out;
  if (!j.is_array()) fail("custom_metrics", "a list", j);
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string field = fmt::format("custom_metrics[{}]", i);
    const nlohmann::json& m = j[i];
    if (!m.is_object()) fail(field, "an object", m);
    CustomMetricSpec spec;
    for (auto [key, to] :
         {std::pair{"name", &spec.name}, {"kind", &spec.kind}, {"where", &spec.where}}) {
      const auto it = m.find(key);
      if (it == m.end() && std::string_view(key) == "where") continue;
      if (it == m.end() || !it->is_string())
        fail(field + "." + key, "a string", it == m.end() ? nlohmann::json() : *it);
      *to = it->get<std::string>();
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace loadpilot::plan
