#include "demo/routes.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace loadpilot::demo {
namespace {

constexpr std::array<std::string_view, kCountedRoutes> kRouteKeys = {
    "GET /health",
    "POST /auth/login",
    "POST /auth/logout",
    "GET /api/products",
    "GET /api/products/{id}",
    "POST /api/orders",
    "GET /api/orders",
    "GET /api/user",
    "ANY /redirect",
    "GET /redirect/{n}",
    "ANY /echo",
    "POST /demo.Shop/{method}",
    "other",
};

constexpr std::array<std::string_view, 20> kCatalog = {
    "Espresso Machine", "Coffee Grinder", "Milk Frother",  "Pour-Over Kettle", "French Press",
    "Tea Infuser",      "Travel Mug",     "Ceramic Cup",   "Digital Scale",    "Cold Brew Jar",
    "Moka Pot",         "Paper Filters",  "Tamper",        "Knock Box",        "Cleaning Tablets",
    "Barista Apron",    "Latte Art Pen",  "Bean Canister", "Drip Tray",        "Descaler",
};

// A price that is stable per id, in cents.
std::uint64_t price_cents(std::uint64_t id) { return 199 + (id * 7919) % 20000; }

void append_product(std::string& out, std::uint64_t id, std::string_view name) {
  std::uint64_t cents = price_cents(id);
  fmt::format_to(std::back_inserter(out), R"({{"id":{},"name":"{}","price":{}.{:02}}})", id, name,
                 cents / 100, cents % 100);
}

const std::string& products_body() {
  static const std::string body = [] {
    std::string s = "[";
    for (std::size_t i = 0; i < kCatalog.size(); ++i) {
      if (i > 0) s += ',';
      append_product(s, i + 1, kCatalog[i]);
    }
    s += ']';
    return s;
  }();
  return body;
}

constexpr std::string_view kHealthBody = R"({"status":"ok"})";
constexpr std::string_view kUserBody =
    R"({"id":1,"name":"Demo User","email":"demo@example.com","roles":["customer"]})";
constexpr std::string_view kOrdersBody =
    R"([{"order_id":1,"product_id":3,"quantity":2,"status":"shipped"},)"
    R"({"order_id":2,"product_id":7,"quantity":1,"status":"processing"},)"
    R"({"order_id":3,"product_id":12,"quantity":5,"status":"delivered"}])";

// What follows the "?" of a target, or "".
std::string_view query_of(std::string_view target) {
  const std::size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class Param { kAbsent, kBad, kFound };

// Query parameter NAME into *value, percent-decoded ('+' is a space, as a
// form encodes it): kBad when it is badly encoded.
Param query_param(std::string_view query, std::string_view name, std::string* value) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    value->clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        *value += ' ';
      } else if (raw[i] != '%') {
        *value += raw[i];
      } else if (i + 2 < raw.size() && hex_digit(raw[i + 1]) >= 0 && hex_digit(raw[i + 2]) >= 0) {
        *value += static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]));
        i += 2;
      } else {
        return Param::kBad;
      }
    }
    return Param::kFound;
  }
  return Param::kAbsent;
}

constexpr std::string_view kRedirectBody = R"({"status":"redirect"})";

// /redirect?to=URL&status=CODE: CODE (default 302) with Location URL
// (default /health). An unknown status, or a URL that is not printable
// ASCII (a CR or LF would break the response head), is a 400.
void redirect(std::string_view query, Reply* reply) {
  const auto bad = [reply](std::string_view why) {
    reply->status = 400;
    reply->storage = fmt::format(R"({{"error":"{}"}})", why);
    reply->body = reply->storage;
  };
  constexpr std::string_view kStatuses = "status must be 301, 302, 303, 307 or 308";
  int status = 302;
  std::string given;
  switch (query_param(query, "status", &given)) {
    case Param::kAbsent:
      break;
    case Param::kBad:
      return bad(kStatuses);
    case Param::kFound: {
      auto [end, ec] = std::from_chars(given.data(), given.data() + given.size(), status);
      if (ec != std::errc() || end != given.data() + given.size() ||
          (status != 301 && status != 302 && status != 303 && status != 307 && status != 308))
        return bad(kStatuses);
    }
  }
  constexpr std::string_view kTo =
      "to must be a URL or a path of printable ASCII without spaces, percent-encoded";
  std::string to = "/health";
  switch (query_param(query, "to", &to)) {
    case Param::kAbsent:
      break;
    case Param::kBad:
      return bad(kTo);
    case Param::kFound:
      if (to.empty()) return bad(kTo);
      for (char c : to) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return bad(kTo);
      }
  }
  reply->status = status;
  reply->location = std::move(to);
  reply->body = kRedirectBody;
}

// /redirect/{n}: a chain of N redirects (302) ending at /health, each
// Location relative to the one before ("/redirect/3" -> "2" -> "1" ->
// "/health").
void redirect_chain(std::string_view n_text, Reply* reply) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(n_text.data(), n_text.data() + n_text.size(), n);
  if (ec != std::errc() || end != n_text.data() + n_text.size() || n < 1 || n > kMaxRedirectChain) {
    reply->status = 404;
    reply->body = kNotFoundBody;
    return;
  }
  reply->status = 302;
  reply->location = n == 1 ? std::string("/health") : std::to_string(n - 1);
  reply->body = kRedirectBody;
}

// /echo: the request as received, {"method","target","body"} (the body as
// text, invalid UTF-8 replaced).
void echo(const Request& request, Reply* reply) {
  const nlohmann::json j = {{"method", std::string(request.method)},
                            {"target", std::string(request.target)},
                            {"body", std::string(request.body)}};
  reply->storage = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  reply->body = reply->storage;
}

}  // namespace

std::string_view route_key(Route r) { return kRouteKeys.at(static_cast<std::size_t>(r)); }

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = target_path(target);
  const bool get = method == "GET";
  const bool post = method == "POST";
  constexpr std::string_view kProductPrefix = "/api/products/";
  constexpr std::string_view kChainPrefix = "/redirect/";
  // Any method: a redirect keeps or changes it, and /echo shows which.
  if (path == "/redirect") return {Route::kRedirect, {}, query_of(target)};
  if (path == "/echo") return {Route::kEcho, {}, {}};
  if (get) {
    if (path == "/health") return {Route::kHealth, {}, {}};
    if (path == "/api/products") return {Route::kProducts, {}, {}};
    if (path == "/api/orders") return {Route::kOrders, {}, {}};
    if (path == "/api/user") return {Route::kUser, {}, {}};
    if (path == "/stats") return {Route::kStats, {}, {}};
    if (path.size() > kProductPrefix.size() &&
        path.substr(0, kProductPrefix.size()) == kProductPrefix) {
      std::string_view id = path.substr(kProductPrefix.size());
      if (id.find('/') == std::string_view::npos) return {Route::kProduct, id, {}};
    }
    if (path.size() > kChainPrefix.size() && path.starts_with(kChainPrefix)) {
      std::string_view n = path.substr(kChainPrefix.size());
      if (n.find('/') == std::string_view::npos) return {Route::kRedirectChain, n, {}};
    }
  } else if (post) {
    if (path == "/auth/login") return {Route::kLogin, {}, {}};
    if (path == "/auth/logout") return {Route::kLogout, {}, {}};
    if (path == "/api/orders") return {Route::kCreateOrder, {}, {}};
    if (path == "/stats/reset") return {Route::kStatsReset, {}, {}};
    if (path.starts_with("/demo.Shop/")) return {Route::kGrpc, path.substr(11), {}};
  }
  return {Route::kOther, {}, {}};
}

void Endpoints::respond(const RouteMatch& match, const Request& request, Reply* reply) {
  reply->status = 200;
  reply->storage.clear();
  reply->location.clear();
  switch (match.route) {
    case Route::kHealth:
      reply->body = kHealthBody;
      return;
    case Route::kLogin:
      ++tokens_issued_;
      fmt::format_to(std::back_inserter(reply->storage),
                     R"({{"access_token":"demo.{}.{:x}","token_type":"bearer","expires_in":3600}})",
                     worker_, tokens_issued_);
      reply->body = reply->storage;
      return;
    case Route::kLogout:
    case Route::kStatsReset:
      reply->status = 204;
      reply->body = {};
      return;
    case Route::kProducts:
      reply->body = products_body();
      return;
    case Route::kProduct: {
      // Digits only, and few enough to fit: anything else names no product.
      std::uint64_t id = 0;
      bool number = !match.id.empty() && match.id.size() <= 18;
      for (char c : match.id) {
        if (c < '0' || c > '9') number = false;
        if (!number) break;
        id = id * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (!number) {
        reply->status = 404;
        reply->body = kNotFoundBody;
        return;
      }
      if (id >= 1 && id <= kCatalog.size()) {
        append_product(reply->storage, id, kCatalog[id - 1]);
      } else {
        std::uint64_t cents = price_cents(id);
        fmt::format_to(std::back_inserter(reply->storage),
                       R"({{"id":{0},"name":"Product {0}","price":{1}.{2:02}}})", id, cents / 100,
                       cents % 100);
      }
      reply->body = reply->storage;
      return;
    }
    case Route::kCreateOrder: {
      std::uint64_t order = shared_.next_order_id.fetch_add(1, std::memory_order_relaxed);
      fmt::format_to(std::back_inserter(reply->storage), R"({{"order_id":{},"status":"created"}})",
                     order);
      reply->status = 201;
      reply->body = reply->storage;
      return;
    }
    case Route::kOrders:
      reply->body = kOrdersBody;
      return;
    case Route::kUser:
      reply->body = kUserBody;
      return;
    case Route::kRedirect:
      redirect(match.query, reply);
      return;
    case Route::kRedirectChain:
      redirect_chain(match.id, reply);
      return;
    case Route::kEcho:
      echo(request, reply);
      return;
    case Route::kGrpc:  // over HTTP/2 the connection answers it (grpc_service.h)
      reply->status = 415;
      reply->body = kGrpcNeedsHttp2Body;
      return;
    case Route::kOther:
    case Route::kStats:
      reply->status = 404;
      reply->body = kNotFoundBody;
      return;
  }
}

}  // namespace loadpilot::demo
