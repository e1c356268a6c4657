// demo-api: started in-process on port 0 and spoken to over loopback with
// plain blocking Asio sockets (every read bounded by a poll() timeout).
#include "demo/demo_api.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "demo/stats.h"
#include "http/request_parser.h"

namespace loadpilot::demo {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using json = nlohmann::json;
using http::Request;
using http::RequestParser;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  json parsed() const { return json::parse(body); }
};

// A blocking HTTP/1.1 client just smart enough for these tests.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void send(const std::string& raw) { asio::write(socket_, asio::buffer(raw)); }

  Response request(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& extra_headers = "") {
    send(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
         (body.empty() && method == "GET"
              ? std::string()
              : "Content-Length: " + std::to_string(body.size()) + "\r\n") +
         "\r\n" + body);
    return read_response();
  }

  // The next response's status line and headers, as sent.
  std::string read_head() {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) fill();
    std::string head = buffer_.substr(0, head_end);
    buffer_.erase(0, head_end + 4);
    return head;
  }

  Response read_response() {
    Response r;
    std::string head = read_head();
    std::size_t eol = head.find("\r\n");
    std::string status_line = head.substr(0, eol);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) throw std::runtime_error("bad: " + status_line);
    r.status = std::stoi(status_line.substr(9, 3));
    while (eol != std::string::npos) {
      std::size_t next = head.find("\r\n", eol + 2);
      std::string line = head.substr(eol + 2, next - eol - 2);
      std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      eol = next;
    }
    std::size_t length = std::stoul(r.headers.at("content-length"));
    while (buffer_.size() < length) fill();
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // True when the server closes the connection (after any buffered bytes).
  bool closed_by_peer() {
    try {
      fill();
      return false;
    } catch (const boost::system::system_error& e) {
      return e.code() == asio::error::eof || e.code() == asio::error::connection_reset;
    }
  }

 private:
  void fill() {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) throw std::runtime_error("read timed out");
    char chunk[16384];
    std::size_t n = socket_.read_some(asio::buffer(chunk));  // throws on EOF
    buffer_.append(chunk, n);
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::string buffer_;
};

DemoOptions test_options(int threads = 2) {
  DemoOptions o;
  o.port = 0;
  o.threads = threads;
  return o;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

json stats_of(std::uint16_t port) {
  TestClient c(port);
  Response r = c.request("GET", "/stats");
  EXPECT_EQ(r.status, 200);
  return r.parsed();
}

TEST(DemoStats, CountsRequestsByTagAndResetsThem) {
  TagCounters a, b;
  StatsBoard board;
  board.add_tags(&a);
  board.add_tags(&b);
  for (int i = 0; i < 3; ++i) a.count("partner");
  a.count("browse");
  b.count("browse");
  b.count("");  // no tag: not counted
  for (std::size_t i = 0; i < TagCounters::kSlots + 2; ++i) b.count("t" + std::to_string(i));
  const auto counts = board.tag_counts();
  const std::map<std::string, std::uint64_t> m(counts.begin(), counts.end());
  EXPECT_EQ(m.at("partner"), 3u);
  EXPECT_EQ(m.at("browse"), 2u);
  EXPECT_EQ(m.at("(other)"), 3u);  // browse took one of b's slots
  const nlohmann::json j = nlohmann::json::parse(board.to_json());
  EXPECT_EQ(j["tags"]["partner"], 3);
  board.reset();
  a.count("partner");
  const nlohmann::json after = nlohmann::json::parse(board.to_json());
  EXPECT_EQ(after["tags"], (nlohmann::json{{"partner", 1}}));
}

TEST(DemoApi, EndpointsAnswerWithTheirShapes) {
  DemoServer server(test_options());
  server.start();
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()));
  TestClient c(server.port());

  Response health = c.request("GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.headers.at("content-type"), "application/json");
  EXPECT_EQ(health.parsed()["status"], "ok");

  Response login = c.request("POST", "/auth/login", R"({"user":"a","password":"b"})");
  EXPECT_EQ(login.status, 200);
  EXPECT_FALSE(login.parsed()["access_token"].get<std::string>().empty());
  EXPECT_EQ(login.parsed()["token_type"], "bearer");

  Response logout = c.request("POST", "/auth/logout");
  EXPECT_EQ(logout.status, 204);
  EXPECT_EQ(logout.headers.at("content-length"), "0");

  json products = c.request("GET", "/api/products").parsed();
  ASSERT_TRUE(products.is_array());
  EXPECT_EQ(products.size(), 20u);
  for (const json& p : products) {
    EXPECT_TRUE(p["id"].is_number_integer());
    EXPECT_TRUE(p["name"].is_string());
    EXPECT_TRUE(p["price"].is_number());
  }
  Response product = c.request("GET", "/api/products/42");
  EXPECT_EQ(product.status, 200);
  EXPECT_EQ(product.parsed()["id"], 42);
  EXPECT_TRUE(product.parsed()["price"].is_number());
  EXPECT_EQ(c.request("GET", "/api/products/3?fields=all").parsed(), products[2]);
  EXPECT_EQ(c.request("GET", "/api/products/abc").status, 404);

  Response order1 = c.request("POST", "/api/orders", R"({"product_id":1,"quantity":2})");
  Response order2 = c.request("POST", "/api/orders", R"({"product_id":2,"quantity":1})");
  EXPECT_EQ(order1.status, 201);
  EXPECT_GT(order2.parsed()["order_id"].get<int>(), order1.parsed()["order_id"].get<int>());
  Response orders = c.request("GET", "/api/orders");
  EXPECT_EQ(orders.status, 200);
  EXPECT_TRUE(orders.parsed().is_array());
  json user = c.request("GET", "/api/user").parsed();
  EXPECT_TRUE(user["id"].is_number_integer());
  EXPECT_TRUE(user["name"].is_string());

  Response missing = c.request("GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.headers.at("content-type"), "application/json");
  EXPECT_EQ(c.request("DELETE", "/health").status, 404);
  EXPECT_EQ(c.request("GET", "http://127.0.0.1/health").status, 200);  // absolute-form
}

TEST(DemoApi, RedirectsAndEchoAnswerAnyMethodAndAreCounted) {
  DemoServer server(test_options());
  server.start();
  TestClient c(server.port());

  Response plain = c.request("GET", "/redirect");
  EXPECT_EQ(plain.status, 302);
  EXPECT_EQ(plain.headers.at("location"), "/health");
  EXPECT_EQ(plain.parsed()["status"], "redirect");
  for (int status : {301, 302, 303, 307, 308}) {
    SCOPED_TRACE(status);
    Response r = c.request(
        "POST", "/redirect?status=" + std::to_string(status) + "&to=%2Fecho%3Fa%3D1", "{}");
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.headers.at("location"), "/echo?a=1");
  }
  EXPECT_EQ(c.request("PUT", "/redirect?to=http://127.0.0.1:1/x").headers.at("location"),
            "http://127.0.0.1:1/x");
  c.send("HEAD /redirect?status=308 HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string head = c.read_head();
  EXPECT_EQ(head.rfind("HTTP/1.1 308 Permanent Redirect\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nLocation: /health"), std::string::npos) << head;
  // Nothing that would break the head or is not a redirect status.
  for (const char* bad : {"/redirect?status=200", "/redirect?status=30",
                          "/redirect?to=", "/redirect?to=%0d%0aX-Evil:%201", "/redirect?to=a%20b",
                          "/redirect?to=%zz", "/redirect?to=%C3%A9"}) {
    SCOPED_TRACE(bad);
    Response r = c.request("GET", bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.headers.count("location"), 0u);
    EXPECT_EQ(r.headers.count("x-evil"), 0u);
  }

  // A chain: each hop relative to the last, the last to /health.
  Response three = c.request("GET", "/redirect/3");
  EXPECT_EQ(three.status, 302);
  EXPECT_EQ(three.headers.at("location"), "2");
  EXPECT_EQ(c.request("GET", "/redirect/1").headers.at("location"), "/health");
  EXPECT_EQ(c.request("GET", "/redirect/1000").headers.at("location"), "999");
  for (const char* missing : {"/redirect/0", "/redirect/1001", "/redirect/x", "/redirect/-1"})
    EXPECT_EQ(c.request("GET", missing).status, 404) << missing;
  EXPECT_EQ(c.request("POST", "/redirect/3").status, 404);  // GET only: "other"

  Response echo = c.request("PATCH", "/echo?q=1", R"({"a":"\u00e9"})");
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(echo.parsed(),
            json({{"method", "PATCH"}, {"target", "/echo?q=1"}, {"body", R"({"a":"\u00e9"})"}}));
  EXPECT_EQ(c.request("GET", "/echo").parsed()["body"], "");

  const json routes = stats_of(server.port())["routes"];
  EXPECT_EQ(routes["ANY /redirect"], 1 + 5 + 1 + 1 + 7);
  EXPECT_EQ(routes["GET /redirect/{n}"], 3 + 4);
  EXPECT_EQ(routes["ANY /echo"], 2);
  EXPECT_EQ(routes["other"], 1);
}

TEST(DemoApi, KeepAliveFollowsVersionAndConnectionHeader) {
  DemoServer server(test_options());
  server.start();
  {
    TestClient c(server.port());
    for (int i = 0; i < 10; ++i) {
      Response r = c.request("GET", "/api/products/" + std::to_string(i));
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.headers.count("connection"), 0u);
    }
  }
  {
    TestClient c(server.port());
    c.send("GET /health HTTP/1.0\r\n\r\n");
    EXPECT_EQ(c.read_response().headers.at("connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    TestClient c(server.port());
    for (int i = 0; i < 2; ++i) {
      c.send("GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
      EXPECT_EQ(c.read_response().headers.at("connection"), "keep-alive");
    }
  }
  {
    TestClient c(server.port());
    Response r = c.request("GET", "/health", "", "Connection: close\r\n");
    EXPECT_EQ(r.headers.at("connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  }
}

TEST(DemoApi, PipelinedRequestsAreAnsweredInOrder) {
  DemoServer server(test_options(1));
  server.start();
  TestClient c(server.port());
  c.send(
      "GET /api/products/5 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/products/6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response().parsed()["id"], 5);
  EXPECT_EQ(c.read_response().status, 201);
  EXPECT_EQ(c.read_response().parsed()["status"], "ok");
  Response last = c.read_response();
  EXPECT_EQ(last.parsed()["id"], 6);
  EXPECT_EQ(last.headers.at("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer());  // nothing after the close is answered
}

TEST(DemoApi, RequestSplitAcrossWritesIsReassembled) {
  DemoServer server(test_options(1));
  server.start();
  TestClient c(server.port());
  std::string body = R"({"product_id":1,"quantity":22})";
  std::string request =
      "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (std::size_t i = 0; i < request.size(); i += 7) {
    c.send(request.substr(i, 7));
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(c.read_response().status, 201);
  EXPECT_EQ(c.request("GET", "/health").status, 200);  // body fully consumed
}

TEST(DemoApi, HeadGetsNoBodyAndExpectContinueGetsA100) {
  DemoServer server(test_options(1));
  server.start();
  TestClient c(server.port());
  c.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_head().rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(c.read_response().parsed()["status"], "ok");  // no stray body in between

  c.send(
      "POST /api/orders HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 2\r\n\r\n");
  EXPECT_EQ(c.read_head(), "HTTP/1.1 100 Continue");
  c.send("{}");
  EXPECT_EQ(c.read_response().status, 201);
}

TEST(DemoApi, BadRequestsAreRejectedAndClosed) {
  DemoServer server(test_options(1));
  server.start();
  const std::vector<std::pair<std::string, int>> cases = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /health HTTP/1.1 extra\r\n\r\n", 400},
      {"GET /health HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
      {"GET /health HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
      {"POST /api/orders HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
      {"POST /api/orders HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"POST /api/orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
      {"POST /api/orders HTTP/1.1\r\nContent-Length: 9999999999\r\n\r\n", 413},
      {"GET /health HTTP/2.0\r\n\r\n", 505},
      {"GET /health HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n", 431},
  };
  for (const auto& [raw, status] : cases) {
    SCOPED_TRACE(raw.substr(0, 60));
    TestClient c(server.port());
    c.send(raw + "GET /health HTTP/1.1\r\n\r\n");
    Response r = c.read_response();
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.headers.at("connection"), "close");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_TRUE(c.closed_by_peer());
  }
  EXPECT_EQ(stats_of(server.port())["total"], 0);  // malformed requests are not counted
}

TEST(DemoApi, StatsCountsAreExactUnderConcurrency) {
  DemoServer server(test_options(4));
  server.start();
  constexpr int kClients = 8;
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([port = server.port(), t] {
      TestClient c(port);
      for (int i = 0; i < 25; ++i) c.request("GET", "/health");
      for (int i = 0; i < 10; ++i) c.request("GET", "/api/products/" + std::to_string(t * 10 + i));
      for (int i = 0; i < 5; ++i) TestClient(port).request("POST", "/auth/login", "{}");
      for (int i = 0; i < 3; ++i) c.request("POST", "/api/orders", "{}");
      for (int i = 0; i < 2; ++i) c.request("GET", "/missing");
    });
  }
  for (auto& t : clients) t.join();
  json stats = stats_of(server.port());
  EXPECT_EQ(stats["total"], kClients * 45);
  const json& routes = stats["routes"];
  EXPECT_EQ(routes["GET /health"], kClients * 25);
  EXPECT_EQ(routes["GET /api/products/{id}"], kClients * 10);
  EXPECT_EQ(routes["POST /auth/login"], kClients * 5);
  EXPECT_EQ(routes["POST /api/orders"], kClients * 3);
  EXPECT_EQ(routes["other"], kClients * 2);
  EXPECT_EQ(routes["GET /api/user"], 0);
  EXPECT_EQ(routes["POST /demo.Shop/{method}"], 0);
  EXPECT_EQ(routes.size(), 13u);
  EXPECT_EQ(stats_of(server.port())["total"], kClients * 45);  // /stats is not counted
}

TEST(DemoApi, StatsResetZeroesTheCounts) {
  DemoServer server(test_options(2));
  server.start();
  TestClient c(server.port());
  for (int i = 0; i < 5; ++i) c.request("GET", "/api/user");
  EXPECT_EQ(stats_of(server.port())["total"], 5);
  EXPECT_EQ(c.request("POST", "/stats/reset").status, 204);
  EXPECT_EQ(stats_of(server.port())["total"], 0);
  for (int i = 0; i < 3; ++i) c.request("GET", "/api/orders");
  json stats = stats_of(server.port());
  EXPECT_EQ(stats["total"], 3);
  EXPECT_EQ(stats["routes"]["GET /api/orders"], 3);
  EXPECT_EQ(stats["routes"]["GET /api/user"], 0);
}

TEST(DemoApi, ErrorRateTurnsApiResponsesInto503s) {
  DemoOptions all = test_options(1);
  all.error_rate = 100;
  DemoServer failing(all);
  failing.start();
  TestClient c(failing.port());
  for (const char* path : {"/api/products", "/api/user", "/api/products/1"}) {
    Response r = c.request("GET", path);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.parsed()["error"], "injected");
  }
  EXPECT_EQ(c.request("POST", "/auth/login", "{}").status, 503);
  EXPECT_EQ(c.request("GET", "/health").status, 200);
  EXPECT_EQ(stats_of(failing.port())["total"], 5);  // injected errors are counted

  DemoServer healthy(test_options(1));
  healthy.start();
  TestClient h(healthy.port());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(h.request("GET", "/api/products/1").status, 200);

  DemoOptions half = test_options(1);
  half.error_rate = 50;
  DemoServer flaky(half);
  flaky.start();
  TestClient f(flaky.port());
  int errors = 0;
  for (int i = 0; i < 200; ++i) errors += f.request("GET", "/api/user").status == 503;
  EXPECT_GT(errors, 40);
  EXPECT_LT(errors, 160);
}

TEST(DemoApi, LatencyDelaysResponsesAndIsCountedAtReceipt) {
  DemoOptions options = test_options(2);
  options.latency_ms = 50;
  DemoServer server(options);
  server.start();
  TestClient c(server.port());
  for (int i = 0; i < 2; ++i) {
    auto t0 = Clock::now();
    EXPECT_EQ(c.request("GET", "/api/user").status, 200);
    EXPECT_GE(ms_since(t0), 50.0);
  }
  c.send("GET /api/products/1 HTTP/1.1\r\n\r\nGET /api/products/2 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.read_response().parsed()["id"], 1);  // held responses keep their order
  EXPECT_EQ(c.read_response().parsed()["id"], 2);

  DemoOptions slow_options = test_options(2);
  slow_options.latency_ms = 800;
  DemoServer slow(slow_options);
  slow.start();
  TestClient s(slow.port());
  auto t0 = Clock::now();
  s.send("GET /api/products HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(stats_of(slow.port())["routes"]["GET /api/products"], 1);  // before the reply
  TestClient h(slow.port());
  EXPECT_EQ(h.request("GET", "/health").status, 200);
  EXPECT_LT(ms_since(t0), 600.0);  // /health and /stats ignore the latency
  EXPECT_EQ(s.read_response().status, 200);
  EXPECT_GE(ms_since(t0), 800.0);
}

TEST(DemoApi, StallWindowHoldsResponsesUntilItEnds) {
  DemoOptions options = test_options(1);
  options.stall_every_s = 0.4;  // windows [0.4, 0.7), [0.8, 1.1), ...
  options.stall_for_s = 0.3;
  auto t0 = Clock::now();
  DemoServer server(options);
  server.start();
  TestClient c(server.port());
  auto before = Clock::now();
  EXPECT_EQ(c.request("GET", "/api/user").status, 200);  // no stall before the first period
  EXPECT_LT(ms_since(before), 200.0);

  std::this_thread::sleep_until(t0 + milliseconds(450));
  auto sent = Clock::now();
  c.send("GET /api/user HTTP/1.1\r\nHost: x\r\n\r\n");
  TestClient h(server.port());
  EXPECT_EQ(h.request("GET", "/health").status, 200);  // /health is never held
  EXPECT_LT(ms_since(sent), 150.0);
  EXPECT_EQ(c.read_response().status, 200);
  EXPECT_GE(ms_since(t0), 700.0);
  EXPECT_GE(ms_since(sent), 200.0);
}

TEST(DemoApi, BindFailureIsReported) {
  DemoServer first(test_options(1));
  first.start();
  DemoOptions taken = test_options(1);
  taken.port = first.port();
  DemoServer second(taken);
  EXPECT_THROW(second.start(), std::system_error);

  testing::internal::CaptureStderr();
  EXPECT_EQ(run_demo_api(taken), 2);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << err;
}

TEST(DemoApi, StopsWithOpenConnectionsAndRestarts) {
  DemoServer server(test_options(2));
  server.start();
  TestClient idle(server.port());
  EXPECT_EQ(idle.request("GET", "/health").status, 200);
  server.stop();
  server.stop();
  EXPECT_TRUE(idle.closed_by_peer());
  server.start();
  EXPECT_EQ(TestClient(server.port()).request("GET", "/health").status, 200);
}

TEST(RequestParser, ParsesIncrementallyAndLeniently) {
  RequestParser parser;
  Request request;
  std::size_t consumed = 0;
  std::string data =
      "\r\nPOST /api/orders?x=1 HTTP/1.0\nConnection: keep-alive\nContent-Length: 3\n\n";
  EXPECT_EQ(parser.parse(data, &request, &consumed), RequestParser::Result::kNeedMore);
  data += "abcGET";
  ASSERT_EQ(parser.parse(data, &request, &consumed), RequestParser::Result::kDone);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/orders?x=1");
  EXPECT_EQ(request.minor_version, 0);
  EXPECT_TRUE(request.keep_alive);
  EXPECT_EQ(request.body, "abc");
  EXPECT_EQ(consumed, data.size() - 3);

  parser.reset();
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_FALSE(request.keep_alive);
  parser.reset();
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\n\r\n", &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_TRUE(request.keep_alive);
  parser.reset();
  EXPECT_EQ(parser.parse("GET / HTTP/1.0\r\n\r\n", &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_FALSE(request.keep_alive);
  parser.reset();
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
                         &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_EQ(request.body, "ok");
}

TEST(RequestParser, KeepsAuthorizationAndHonoursItsBodyLimit) {
  RequestParser parser(8);
  Request request;
  std::size_t consumed = 0;
  ASSERT_EQ(parser.parse("POST /run HTTP/1.1\r\nAuthorization:  Bearer s3cret \r\n"
                         "Content-Length: 8\r\n\r\n12345678",
                         &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_EQ(request.authorization, "Bearer s3cret");
  EXPECT_EQ(request.body, "12345678");
  parser.reset();
  EXPECT_EQ(parser.parse("POST /run HTTP/1.1\r\nContent-Length: 9\r\n\r\n", &request, &consumed),
            RequestParser::Result::kError);
  EXPECT_EQ(parser.error_status(), 413);
  // Two different credentials in one request: neither is trusted.
  RequestParser twice;
  EXPECT_EQ(twice.parse("GET / HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer "
                        "b\r\n\r\n",
                        &request, &consumed),
            RequestParser::Result::kError);
  EXPECT_EQ(twice.error_status(), 400);
  RequestParser none;
  ASSERT_EQ(none.parse("GET / HTTP/1.1\r\n\r\n", &request, &consumed),
            RequestParser::Result::kDone);
  EXPECT_TRUE(request.authorization.empty());
}

}  // namespace
}  // namespace loadpilot::demo
