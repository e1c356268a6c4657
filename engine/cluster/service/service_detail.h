#pragma once
// What the coordinator service's files (cluster/service/) share: its log
// line and its JSON error bodies.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "report/wall_clock.h"

namespace loadpilot::cli::service_detail {

using Clock = std::chrono::steady_clock;

// One line on stderr, stamped.
inline void log(const std::string& what) {
  fmt::print(stderr, "{} coordinator: {}\n", report::rfc3339_now_ms(), what);
  std::fflush(stderr);
}

inline std::string json_error(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

inline std::string json_errors(const std::string& message, const std::vector<std::string>& errors) {
  return nlohmann::json{{"error", message}, {"errors", errors}}.dump() + "\n";
}

}  // namespace loadpilot::cli::service_detail
