// The message of an HTTP error names the request (docs/output.md#error-kinds)
// and stays one message per route, so the bounded message table is not
// flooded by ids.
#include <gtest/gtest.h>

#include <string>

#include "http/client.h"

namespace loadpilot::http {
namespace {

TEST(RequestLabel, MethodAndPathWithoutQuery) {
  EXPECT_EQ(request_label("GET /v2/api/products?page=2 HTTP/1.1\r\nHost: h\r\n\r\n"),
            "GET /v2/api/products");
  EXPECT_EQ(request_label("POST /auth/login HTTP/1.1\r\n\r\n"), "POST /auth/login");
  EXPECT_EQ(request_label("GET / HTTP/1.1\r\n\r\n"), "GET /");
  EXPECT_EQ(request_label("GET /a#frag HTTP/1.1\r\n\r\n"), "GET /a");
}

TEST(RequestLabel, IdsBecomeOnePlaceholder) {
  EXPECT_EQ(request_label("GET /api/products/123 HTTP/1.1\r\n\r\n"), "GET /api/products/{id}");
  EXPECT_EQ(request_label("DELETE /users/42/orders/7 HTTP/1.1\r\n\r\n"),
            "DELETE /users/{id}/orders/{id}");
  EXPECT_EQ(request_label("GET /o/3f2b8c1e-4a5d-4e6f-9a0b-1c2d3e4f5a6b HTTP/1.1\r\n\r\n"),
            "GET /o/{id}");
  EXPECT_EQ(request_label("GET /blob/0123456789abcdef0123 HTTP/1.1\r\n\r\n"), "GET /blob/{id}");
  // A version or a word with a digit in it is part of the route.
  EXPECT_EQ(request_label("GET /v2/api/h2o HTTP/1.1\r\n\r\n"), "GET /v2/api/h2o");
  EXPECT_EQ(request_label("GET /deadbeefcafe HTTP/1.1\r\n\r\n"), "GET /deadbeefcafe");
}

TEST(RequestLabel, AbsoluteFormAndOddInput) {
  EXPECT_EQ(request_label("GET http://h:8/x/9?q HTTP/1.1\r\n\r\n"), "GET /x/{id}");
  EXPECT_EQ(request_label(""), "");
  EXPECT_EQ(request_label("GARBAGE"), "");
  const std::string long_path = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(request_label(long_path).size(), 4 + 120 + 3);  // "GET " + cut path + "..."
}

TEST(FailureOf, NamesStatusMethodAndPath) {
  Result r;
  r.status = 404;
  r.request_line = "GET /v2/api/products";
  std::string message;
  EXPECT_EQ(failure_of(r, &message), metrics::ErrorKind::kHttp4xx);
  EXPECT_EQ(message, "HTTP 404 GET /v2/api/products");
  r.status = 503;
  EXPECT_EQ(failure_of(r, &message), metrics::ErrorKind::kHttp5xx);
  EXPECT_EQ(message, "HTTP 503 GET /v2/api/products");
  r.request_line.clear();
  failure_of(r, &message);
  EXPECT_EQ(message, "HTTP 503");
}

}  // namespace
}  // namespace loadpilot::http
