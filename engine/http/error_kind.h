#pragma once
// The kinds a failed request or iteration is counted under. The names are
// public: they appear in summaries, results JSON, ndjson and Prometheus labels.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace loadpilot::http {

enum class ErrorKind : std::uint8_t {
  kConnect,      // TCP connect or TLS handshake failed / refused
  kTimeout,      // connect or request exceeded --timeout
  kReset,        // connection reset or closed before a full response
  kProtocol,     // the response was not valid HTTP/1.1
  kHttp4xx,      // status 400..499
  kHttp5xx,      // status >= 500
  kCheckFailed,  // a check_<task> rejected the response
  kException,    // user Python code raised
  kRedirect,     // a redirect not followed: over the hop limit, or to another origin
  kStreamReset,  // HTTP/2: the server reset the request's stream (RST_STREAM)
  kGrpc,         // gRPC: the call ended with a grpc-status other than OK
};
inline constexpr std::size_t kErrorKindCount = 11;

inline constexpr std::array<std::string_view, kErrorKindCount> kErrorKindNames = {
    "connect",      "timeout",   "reset",    "protocol",     "http_4xx", "http_5xx",
    "check_failed", "exception", "redirect", "stream_reset", "grpc"};

inline std::string_view name(ErrorKind k) { return kErrorKindNames[static_cast<std::size_t>(k)]; }

inline std::optional<ErrorKind> error_kind_from_name(std::string_view s) {
  for (std::size_t i = 0; i < kErrorKindCount; ++i)
    if (kErrorKindNames[i] == s) return static_cast<ErrorKind>(i);
  return std::nullopt;
}

}  // namespace loadpilot::http

// The metrics count requests and iterations by these kinds under the same
// names.
namespace loadpilot::metrics {
using http::error_kind_from_name;
using http::ErrorKind;
using http::kErrorKindCount;
using http::kErrorKindNames;
using http::name;
}  // namespace loadpilot::metrics
