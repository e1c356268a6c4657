#include "demo/routes.h"

#include <fmt/format.h>

#include <array>

namespace loadpilot::demo {
namespace {

constexpr std::array<std::string_view, kCountedRoutes> kRouteKeys = {
    "GET /health",       "POST /auth/login",       "POST /auth/logout",
    "GET /api/products", "GET /api/products/{id}", "POST /api/orders",
    "GET /api/orders",   "GET /api/user",          "other",
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

// The path of an origin-form or absolute-form target, without the query.
std::string_view path_of(std::string_view target) {
  if (!target.empty() && target.front() != '/') {
    std::size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) return target;
    std::size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return target.substr(0, target.find('?'));
}

}  // namespace

std::string_view route_key(Route r) { return kRouteKeys.at(static_cast<std::size_t>(r)); }

RouteMatch match_route(std::string_view method, std::string_view target) {
  std::string_view path = path_of(target);
  const bool get = method == "GET";
  const bool post = method == "POST";
  constexpr std::string_view kProductPrefix = "/api/products/";
  if (get) {
    if (path == "/health") return {Route::kHealth, {}};
    if (path == "/api/products") return {Route::kProducts, {}};
    if (path == "/api/orders") return {Route::kOrders, {}};
    if (path == "/api/user") return {Route::kUser, {}};
    if (path == "/stats") return {Route::kStats, {}};
    if (path.size() > kProductPrefix.size() &&
        path.substr(0, kProductPrefix.size()) == kProductPrefix) {
      std::string_view id = path.substr(kProductPrefix.size());
      if (id.find('/') == std::string_view::npos) return {Route::kProduct, id};
    }
  } else if (post) {
    if (path == "/auth/login") return {Route::kLogin, {}};
    if (path == "/auth/logout") return {Route::kLogout, {}};
    if (path == "/api/orders") return {Route::kCreateOrder, {}};
    if (path == "/stats/reset") return {Route::kStatsReset, {}};
  }
  return {Route::kOther, {}};
}

void Endpoints::respond(const RouteMatch& match, Reply* reply) {
  reply->status = 200;
  reply->storage.clear();
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
    case Route::kOther:
    case Route::kStats:
      reply->status = 404;
      reply->body = kNotFoundBody;
      return;
  }
}

}  // namespace loadpilot::demo
