#pragma once
// gRPC's status names (grpc/doc/statuscodes.md), in the bottom layer so
// that grpc/ (a call's error message) and metrics/ (the summary's counts
// by code) read one table; docs/protocols.md#grpc.
#include <array>
#include <cstddef>
#include <string_view>

namespace loadpilot::http {

// "NOT_FOUND" for 5, or "" for a code gRPC does not define.
constexpr std::string_view grpc_status_name(int code) {
  constexpr std::array<std::string_view, 17> kNames = {"OK",
                                                       "CANCELLED",
                                                       "UNKNOWN",
                                                       "INVALID_ARGUMENT",
                                                       "DEADLINE_EXCEEDED",
                                                       "NOT_FOUND",
                                                       "ALREADY_EXISTS",
                                                       "PERMISSION_DENIED",
                                                       "RESOURCE_EXHAUSTED",
                                                       "FAILED_PRECONDITION",
                                                       "ABORTED",
                                                       "OUT_OF_RANGE",
                                                       "UNIMPLEMENTED",
                                                       "INTERNAL",
                                                       "UNAVAILABLE",
                                                       "DATA_LOSS",
                                                       "UNAUTHENTICATED"};
  if (code < 0 || static_cast<std::size_t>(code) >= kNames.size()) return {};
  return kNames[static_cast<std::size_t>(code)];
}

}  // namespace loadpilot::http
