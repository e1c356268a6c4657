#include "metrics/grpc_counts.h"

#include <fmt/format.h>

#include <stdexcept>

#include "http/grpc_status.h"

namespace loadpilot::metrics {

namespace {

// "NOT_FOUND (5)"; OK alone; -1 (past GrpcCounts::kMaxCodes) is "other".
std::string code_label(int code) {
  if (code == 0) return "OK";
  if (const std::string_view name = http::grpc_status_name(code); !name.empty())
    return fmt::format("{} ({})", name, code);
  return code < 0 ? "other" : fmt::format("code {}", code);
}

}  // namespace

void GrpcCounts::add(int code, std::uint64_t n) {
  if (code < 0 || (statuses.size() >= kMaxCodes && !statuses.count(code))) code = -1;
  statuses[code] += n;
}

void GrpcCounts::merge(const GrpcCounts& other) {
  for (const auto& [code, n] : other.statuses) add(code, n);
}

std::string GrpcCounts::describe() const {
  std::string out;
  for (const auto& [code, n] : statuses) {
    if (code < 0) continue;
    out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", code_label(code), n);
  }
  if (auto it = statuses.find(-1); it != statuses.end())
    out += fmt::format("{}other x{}", out.empty() ? "" : ", ", it->second);
  return out;
}

nlohmann::json GrpcCounts::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [code, n] : statuses) out[code < 0 ? "other" : std::to_string(code)] = n;
  return out;
}

GrpcCounts GrpcCounts::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("grpc_status: expected an object");
  GrpcCounts c;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_number_unsigned())
      throw std::invalid_argument("grpc_status: \"" + key + "\" must be a non-negative integer");
    int code = -1;
    if (key != "other") {
      std::size_t used = 0;
      long parsed = -1;
      try {
        parsed = std::stol(key, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != key.size() || parsed < 0 || parsed > 0x7fffffff)
        throw std::invalid_argument("grpc_status: \"" + key + "\" is not a status code");
      code = static_cast<int>(parsed);
    }
    c.add(code, value.get<std::uint64_t>());
  }
  return c;
}

}  // namespace loadpilot::metrics
