#pragma once
// Threshold keys on a scenario's custom metrics
// (docs/scenarios.md#custom-metrics): "NAME.STAT", where NAME is a metric
// the scenario file declares when it is imported and STAT one of the
// statistics of its kind. Kept apart from the run-wide keys so that the
// rules of both can change on their own.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadpilot::plan {

// A metric the scenario file declared while it was imported: its name, its
// kind ("trend", "counter", "rate" or "gauge") and where ("file:line").
struct CustomMetricSpec {
  std::string name;
  std::string kind;
  std::string where;
};

// The most custom metrics one process may declare; past it a declaration
// is refused (a name made per iteration would otherwise grow without bound).
inline constexpr std::size_t kMaxCustomMetrics = 1000;

// The statistics a threshold may name on a metric of KIND, in display
// order; empty for an unknown kind.
std::vector<std::string> custom_stats(std::string_view kind);

struct CustomKey {
  std::string name;
  std::string stat;
};
// "NAME.STAT" split at its last dot; nullopt without a dot.
std::optional<CustomKey> split_custom_key(std::string_view key);

// For threshold KEY with LIMIT: nullopt when KEY names no declared metric
// (not a custom key: the caller judges it), else "" when it is a valid
// custom key, or the problem, e.g. "trend cart_items (scenario.py:4) has
// no statistic p97; use one of count, min, ...".
std::optional<std::string> custom_key_problem(std::string_view key, double limit,
                                              const std::vector<CustomMetricSpec>& metrics);

struct Plan;

// KEY is one of the run-wide keys (plan.h's kThresholdKeys).
bool known_threshold(std::string_view key);

// The plan's declared metrics must have a known kind and no task's name
// (their keys would read as the task's): one error each, appended to ERRORS.
void validate_custom_metrics(const Plan& plan, std::vector<std::string>* errors);

// True when threshold KEY (with LIMIT, at FIELD) names a declared metric;
// then its problem, if any, is appended to ERRORS as "FIELD: problem".
bool checked_custom_key(const std::string& field, std::string_view key, double limit,
                        const std::vector<CustomMetricSpec>& metrics,
                        std::vector<std::string>* errors);

// Why KEY is no threshold: the nearest run-wide or declared metric's key
// when one is close, and what may be written instead.
std::string unknown_threshold_problem(std::string_view key,
                                      const std::vector<CustomMetricSpec>& metrics);

// The plan's "custom_metrics": [{"name", "kind", "where"}] (null: none).
// from_json throws PlanError naming the field.
nlohmann::json custom_metrics_to_json(const std::vector<CustomMetricSpec>& metrics);
std::vector<CustomMetricSpec> custom_metrics_from_json(const nlohmann::json& j);

}  // namespace loadpilot::plan
