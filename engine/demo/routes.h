#pragma once
// Routes: which endpoint a request is for, the key it is counted under in
// /stats, and the JSON each endpoint answers with.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace loadpilot::demo {

// The demo parses requests with the engine's server-side parser.
using http::Request;
using http::RequestParser;
using http::target_path;

// The counted routes come first, in /stats order; kStats and kStatsReset are
// never counted.
enum class Route : std::uint8_t {
  kHealth,
  kLogin,
  kLogout,
  kProducts,
  kProduct,
  kCreateOrder,
  kOrders,
  kUser,
  kRedirect,       // any method: /redirect?to=URL&status=302
  kRedirectChain,  // GET /redirect/{n}
  kEcho,           // any method: /echo
  kGrpc,           // POST /demo.Shop/{method}: gRPC over HTTP/2 (demo/grpc_service.h)
  kOther,          // no endpoint: 404
  kStats,
  kStatsReset,
};
inline constexpr std::size_t kCountedRoutes = static_cast<std::size_t>(Route::kOther) + 1;

inline bool is_counted(Route r) { return static_cast<std::size_t>(r) < kCountedRoutes; }
// Behaviour knobs (latency, errors, stalls) apply to these.
inline bool takes_knobs(Route r) {
  return is_counted(r) && r != Route::kHealth && r != Route::kGrpc;
}

// "GET /health", "GET /api/products/{id}", ..., "other".
std::string_view route_key(Route r);

struct RouteMatch {
  Route route = Route::kOther;
  std::string_view id;     // the {id} path segment for kProduct, {n} for kRedirectChain
  std::string_view query;  // after the "?", for kRedirect
};

// Matches on the path (query string ignored but for /redirect's; absolute-form
// targets reduced to their path). Paths match exactly: "/health/" is not
// "/health".
RouteMatch match_route(std::string_view method, std::string_view target);

// What to answer: status and body. `body` views either static text or
// `storage`; keep a Reply per connection so storage's capacity is reused.
struct Reply {
  int status = 200;
  std::string_view body;
  std::string storage;
  std::string location;  // the Location header's value; empty: none
};

// /redirect/{n}: the most hops a chain may have.
inline constexpr std::uint64_t kMaxRedirectChain = 1000;

// Process-wide state the endpoints share across workers.
struct SharedState {
  std::atomic<std::uint64_t> next_order_id{1};
};

// Endpoints: the responses of the routes that have one (not /stats, which
// the server answers itself). One per worker; not thread-safe.
class Endpoints {
 public:
  Endpoints(int worker_index, SharedState& shared) : worker_(worker_index), shared_(shared) {}

  // REQUEST is the one MATCH came from (/echo answers with it).
  void respond(const RouteMatch& match, const Request& request, Reply* reply);

 private:
  int worker_;
  SharedState& shared_;
  std::uint64_t tokens_issued_ = 0;
};

// Bodies also used by the server for its own answers.
inline constexpr std::string_view kNotFoundBody = R"({"error":"not found"})";
inline constexpr std::string_view kInjectedErrorBody = R"({"error":"injected"})";
inline constexpr std::string_view kGrpcNeedsHttp2Body = R"({"error":"gRPC needs HTTP/2"})";

}  // namespace loadpilot::demo
