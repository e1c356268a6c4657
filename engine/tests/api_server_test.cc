// The coordinator service's HTTP server (cluster/service/api_server.h) with real
// sockets on loopback and short deadlines: heads are judged before bodies
// are read, slow clients do not starve the probes or a stop, request
// bodies share one budget, and the HTTP details (HEAD, absolute form,
// what 411 and 431 mean). Also the request parser's head-only view and
// target_path() it routes by (http/request_parser.h).
#include "cluster/service/api_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/request_parser.h"

namespace loadpilot::agents {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Socket {
 public:
  explicit Socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }
  void send(std::string_view data) { ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // Everything until the server closes, or what came within `wait`.
  std::string read_all(std::chrono::milliseconds wait = 10s) {
    std::string out;
    const auto deadline = Clock::now() + wait;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::string status_of(const std::string& answer) { return answer.substr(9, 3); }
std::string body_of(const std::string& answer) {
  const auto at = answer.find("\r\n\r\n");
  return at == std::string::npos ? "" : answer.substr(at + 4);
}

// A server whose screen answers /healthz and refuses a wrong token at
// once, and whose handler (for the rest) echoes the body's size, waiting
// while `hold` is set.
struct TestServer {
  explicit TestServer(ApiServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    server = std::make_unique<ApiServer>(
        o,
        [this](const ApiRequest& head) {
          ++screened;
          if (head.path == "/healthz") return ApiAnswer{200, "text/plain", "ok\n", {}};
          if (head.path == "/stop") return ApiAnswer{202, "application/json", "{}\n", {}};
          if (head.authorization != "Bearer t")
            return ApiAnswer{401, "application/json", "{\"error\":\"token\"}\n", {}};
          return ApiAnswer{};
        },
        [this](const ApiRequest& req, ApiResponder& out) {
          {
            std::unique_lock lock(mu);
            ++handling;
            cv.notify_all();
            cv.wait(lock, [this] { return !hold; });
          }
          out.respond(200, "text/plain",
                      req.method + " " + req.path + " " + std::to_string(req.body.size()));
        });
    server->start();
  }
  ~TestServer() {
    release();
    server->stop();
  }
  void release() {
    std::lock_guard lock(mu);
    hold = false;
    cv.notify_all();
  }
  bool wait_handling(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 10s, [&] { return handling >= n; });
  }
  int port() const { return server->port(); }

  std::unique_ptr<ApiServer> server;
  std::atomic<int> screened{0};
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int handling = 0;
};

TEST(ApiServer, RefusesOnTheHeadBeforeTheBodyIsSent) {
  ApiServerOptions o;
  o.max_body = 1 << 20;
  TestServer t(o);
  Socket c(t.port());
  ASSERT_TRUE(c.connected());
  // A large body is announced and never sent: the answer does not wait.
  c.send("POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
  const std::string a = c.read_all(5s);
  EXPECT_EQ(status_of(a), "401") << a;
  EXPECT_EQ(body_of(a), "{\"error\":\"token\"}\n");
}

TEST(ApiServer, SlowClientsDoNotStarveTheProbesAndGetShortDeadlines) {
  ApiServerOptions o;
  o.head_timeout = 300ms;
  o.linger = 100ms;
  o.max_connections = 2;
  o.max_waiting = 16;
  TestServer t(o);
  std::vector<std::unique_ptr<Socket>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<Socket>(t.port()));
    slow.back()->send("GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  // More slow clients than either cap: a probe and a stop still get in.
  Socket probe(t.port());
  probe.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string a = probe.read_all(5s);
  EXPECT_EQ(status_of(a), "200") << a;
  EXPECT_EQ(body_of(a), "ok\n");
  Socket stop(t.port());
  stop.send("POST /stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(status_of(stop.read_all(5s)), "202");
  // The newest slow ones still waiting are answered 408 at their head
  // deadline (the oldest were dropped to make room) and closed.
  const std::string late = slow.back()->read_all(5s);
  EXPECT_EQ(status_of(late), "408") << late;
  EXPECT_NE(late.find("headers did not arrive within 0.3 s"), std::string::npos) << late;
  EXPECT_EQ(slow.front()->read_all(5s), "");  // dropped, no answer
}

TEST(ApiServer, BodiesShareOneBudgetAndTheRestIsAskedToRetry) {
  ApiServerOptions o;
  o.max_body = 1000;
  o.max_bodies_in_flight = 1000;
  TestServer t(o);
  t.hold = true;
  Socket first(t.port());
  first.send("POST /run HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 800\r\n\r\n" +
             std::string(800, 'x'));
  ASSERT_TRUE(t.wait_handling(1));
  Socket second(t.port());
  second.send("POST /run HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 800\r\n\r\n");
  const std::string busy = second.read_all(5s);
  EXPECT_EQ(status_of(busy), "503") << busy;
  EXPECT_NE(busy.find("\r\nRetry-After: 1\r\n"), std::string::npos) << busy;
  // What still fits the budget goes through.
  Socket small(t.port());
  small.send("POST /run HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 200\r\n\r\n" +
             std::string(200, 'y'));
  ASSERT_TRUE(t.wait_handling(2));
  t.release();
  EXPECT_EQ(body_of(first.read_all(5s)), "POST /run 800");
  EXPECT_EQ(body_of(small.read_all(5s)), "POST /run 200");
  // Released (the budget comes back after the answers went out): a large
  // body fits again.
  ASSERT_TRUE(t.server->wait_idle(5s));
  Socket third(t.port());
  third.send("POST /run HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 1000\r\n\r\n" +
             std::string(1000, 'z'));
  EXPECT_EQ(body_of(third.read_all(5s)), "POST /run 1000");
}

TEST(ApiServer, HandlerThreadsAreCappedWithRetryAfter) {
  ApiServerOptions o;
  o.max_connections = 1;
  TestServer t(o);
  t.hold = true;
  Socket first(t.port());
  first.send("GET /status HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n");
  ASSERT_TRUE(t.wait_handling(1));
  Socket second(t.port());
  second.send("GET /status HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n");
  const std::string busy = second.read_all(5s);
  EXPECT_EQ(status_of(busy), "503") << busy;
  EXPECT_NE(busy.find("Retry-After: 1"), std::string::npos);
  // The screen's answers need no handler thread.
  Socket probe(t.port());
  probe.send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(probe.read_all(5s)), "200");
  t.release();
  EXPECT_EQ(status_of(first.read_all(5s)), "200");
}

TEST(ApiServer, HeadAbsoluteFormAndErrorsSayWhatIsWrong) {
  TestServer t(ApiServerOptions{});
  const auto ask = [&](const std::string& request) {
    Socket c(t.port());
    c.send(request);
    return c.read_all(5s);
  };
  std::string a = ask("HEAD /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(status_of(a), "200") << a;
  EXPECT_NE(a.find("Content-Length: 3\r\n"), std::string::npos) << a;
  EXPECT_EQ(body_of(a), "");
  a = ask("HEAD /status HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n");
  EXPECT_EQ(status_of(a), "200") << a;
  EXPECT_EQ(body_of(a), "");
  a = ask("GET http://127.0.0.1:1/status?x=1 HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n");
  EXPECT_EQ(body_of(a), "GET /status 0") << a;
  a = ask("GET http://127.0.0.1:1/healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(body_of(a), "ok\n") << a;
  a = ask("POST /run HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(a), "411") << a;
  EXPECT_NE(body_of(a).find("length required: send the body with a Content-Length"),
            std::string::npos)
      << a;
  a = ask("GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(status_of(a), "431") << a;
  EXPECT_NE(body_of(a).find("header fields are too large"), std::string::npos) << a;
  a = ask("GET /healthz HTTP/2.0\r\n\r\n");
  EXPECT_EQ(status_of(a), "505") << a;
  EXPECT_NE(body_of(a).find("HTTP/1.1"), std::string::npos) << a;
}

TEST(ApiServer, TheHeadOfARequestIsKnownBeforeItsBody) {
  http::RequestParser parser;
  http::Request request;
  std::size_t consumed = 0;
  EXPECT_EQ(parser.parse("POST /run HTTP/1.1\r\nContent-Le", &request, &consumed),
            http::RequestParser::Result::kNeedMore);
  EXPECT_TRUE(request.method.empty());
  EXPECT_EQ(parser.parse("POST /run HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", &request, &consumed),
            http::RequestParser::Result::kNeedMore);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/run");
  EXPECT_EQ(request.content_length, 5u);
}

TEST(ApiServer, TargetPaths) {
  EXPECT_EQ(http::target_path("/run"), "/run");
  EXPECT_EQ(http::target_path("/status?x=1"), "/status");
  EXPECT_EQ(http::target_path("http://127.0.0.1:8080/healthz"), "/healthz");
  EXPECT_EQ(http::target_path("http://h:1/a/b?c=/d"), "/a/b");
  EXPECT_EQ(http::target_path("http://h:1"), "/");
  EXPECT_EQ(http::target_path("http://h:1?to=/x"), "/");
  EXPECT_EQ(http::target_path("*"), "*");
  EXPECT_EQ(http::target_path("h:443"), "h:443");
}

}  // namespace
}  // namespace loadpilot::agents
