// Reading a scenario's description (scenario/loader.h's JSON) into a plan:
// the small accessors build_plan, build_thresholds and table share.
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "plan/duration.h"

namespace loadpilot::scenario::description {

// A value as it appears in an error message ("(got ...)").
inline std::string shown(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// OBJ[KEY], or null when OBJ is not an object or has no KEY.
inline const nlohmann::json& field_of(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(key);
  return it == obj.end() ? null : *it;
}

// KEY is among the config keys the user left at their default.
inline bool left_at_default(const nlohmann::json& description, std::string_view key) {
  const nlohmann::json& defaults = field_of(description, "defaults");
  return defaults.is_array() &&
         std::any_of(defaults.begin(), defaults.end(), [&](const nlohmann::json& d) {
           return d.is_string() && d.get<std::string>() == key;
         });
}

// Seconds from a number or a duration string ("30s", "1m30s").
inline std::optional<double> as_duration(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return plan::parse_duration(v.get<std::string>());
  return std::nullopt;
}

}  // namespace loadpilot::scenario::description
