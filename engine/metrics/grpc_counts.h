#pragma once
// GrpcCounts: the statuses gRPC calls ended with, by code, as the server
// sent them (grpc-status; docs/protocols.md#grpc). Each call is also a
// request of its task; a status other than OK (0) is its error of kind
// `grpc`. Calls that got no status (a transport error, an HTTP error) are
// counted under their own error kinds, not here. Exact, merged by
// addition across workers, processes and agents.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace loadpilot::metrics {

struct GrpcCounts {
  // Bounded: past kMaxCodes distinct codes (gRPC has 17), further ones
  // count under -1 ("other").
  static constexpr std::size_t kMaxCodes = 32;
  std::map<int, std::uint64_t> statuses;

  bool empty() const { return statuses.empty(); }
  void add(int code, std::uint64_t n = 1);
  void merge(const GrpcCounts& other);
  // One line for the terminal summary: "OK x97, NOT_FOUND (5) x3".
  std::string describe() const;
  // {"0": 97, "5": 3}: by code, as status classes are.
  nlohmann::json to_json() const;
  // Throws std::invalid_argument naming the bad field.
  static GrpcCounts from_json(const nlohmann::json& j);
};

}  // namespace loadpilot::metrics
