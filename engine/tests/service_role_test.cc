// The coordinator service's decisions (cluster/service/service.h), without a
// NATS server: every request's head is screened (401 without the token,
// 404, 405, 409 while a run is active, 202 for a stop), a run's lifetime
// (accepted, the child's hello answered with go, the stream, the stop, the
// exit), and a body over the size limit refused on its head (413) by the
// real HTTP server on loopback. The run child is a shell stand-in that
// speaks the child's side of the pipes (hello on fd 3, go on fd 4). The
// whole service with real agents: engine/tests/e2e/test_coordinator_service.py.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "cluster/protocol.h"
#include "cluster/service/api_server.h"
#include "cluster/service/service.h"
#include "plan/plan.h"

namespace loadpilot::cli {
namespace {

using agents::ApiAnswer;
using agents::ApiRequest;
using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "s3cret-token-0123456789";

ApiRequest request(std::string method, std::string path, std::string authorization = {}) {
  ApiRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.authorization = std::move(authorization);
  r.peer = "127.0.0.1:50000";
  return r;
}

ApiRequest with_token(std::string method, std::string path) {
  return request(std::move(method), std::move(path), std::string("Bearer ") + kToken);
}

// The run child's stand-in: the service starts /bin/sh in place of this
// program, with the run child's arguments, in the folder the run's bundle
// was unpacked in; the first of them, "run", is the script below, which
// the bundle carries. It says hello, sends back the go line it was given
// (as an output line, which the stream relays), then waits on its control
// pipe until it is stopped (SIGINT ends it).
constexpr const char* kStandIn =
    "printf '%s\\n' '{\"type\":\"hello\",\"tasks\":[\"health\"]}' >&3\n"
    "IFS= read -r go <&4\n"
    "printf '{\"type\":\"output\",\"text\":\"%s\"}\\n' \"$go\" >&3\n"
    "IFS= read -r more <&4\n";

// A run request the service accepts: one native task against a target
// nothing listens on (the stand-in never sends a request).
std::string run_body() {
  plan::Plan p;
  p.name = "health_check";
  p.file = "s.py";
  p.target = "http://127.0.0.1:9";
  p.profile.mode = plan::Mode::kConstant;
  p.profile.rps = 10;
  p.profile.duration_s = 2;
  p.profile.ramp_up_s = 0;
  plan::TaskSpec t;
  t.name = "health";
  t.request = plan::HttpRequestSpec{};
  t.request->path = "/health";
  p.tasks.push_back(t);
  agents::protocol::RunRequest r;
  r.plan = p.to_json();
  r.bundle.main = "s.py";
  r.bundle.files = {{"s.py", "# the scenario\n"}, {"run", kStandIn}};
  r.bundle.sha256 = agents::protocol::bundle_hash(r.bundle.files);
  return r.to_json().dump();
}

struct ServiceRig {
  ServiceRig() {
    args.serve_agents = 1;
    args.api_token = kToken;
    args.no_metrics = true;
    service = std::make_unique<Service>(args, nullptr, "/bin/sh");
  }
  ServeArgs args;
  std::unique_ptr<Service> service;
};

TEST(ServiceScreen, WithoutTheRightTokenNothingButTheProbesIsAnswered) {
  ServiceRig rig;
  Service& s = *rig.service;
  EXPECT_EQ(s.screen(request("GET", "/healthz")).status, 200);
  EXPECT_EQ(s.screen(request("GET", "/readyz")).status, 503);  // no agent announced
  for (const std::string& auth :
       {std::string(), std::string("Bearer wrong-token"), std::string(kToken),
        std::string("Basic ") + kToken, std::string("Bearer  ") + kToken,
        std::string("Bearer ") + kToken + "x"}) {
    for (const auto& [method, path] :
         {std::pair{"POST", "/run"}, std::pair{"POST", "/stop"}, std::pair{"GET", "/status"}}) {
      const ApiAnswer a = s.screen(request(method, path, auth));
      EXPECT_EQ(a.status, 401) << path << " with \"" << auth << "\"";
      EXPECT_EQ(a.body,
                "{\"error\":\"missing or wrong API token (send Authorization: Bearer TOKEN)\"}\n");
    }
  }
  // The scheme's name is case-insensitive (RFC 9110 11.1).
  EXPECT_EQ(s.screen(request("POST", "/run", std::string("bearer ") + kToken)).status, 0);
  EXPECT_EQ(s.screen(with_token("POST", "/run")).status, 0);  // through to handle()
  EXPECT_EQ(s.screen(with_token("GET", "/run")).status, 405);
  EXPECT_EQ(s.screen(with_token("GET", "/status")).status, 200);
  EXPECT_EQ(s.screen(with_token("HEAD", "/status")).status, 200);
  EXPECT_EQ(s.screen(with_token("GET", "/nothing")).status, 404);
  const ApiAnswer idle = s.screen(with_token("POST", "/stop"));
  EXPECT_EQ(idle.status, 409);
  EXPECT_EQ(idle.body, "{\"error\":\"no run is active\"}\n");
}

// Reads the other end of a stream until `text` has come (or 10 s passed:
// the assertion then shows what did).
std::string read_until(int fd, std::string& got, const std::string& text) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (got.find(text) == std::string::npos && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// One run at a time: while one runs, another POST /run is refused on its
// head with who runs what; a stop ends it, and the service is free again.
TEST(ServiceRun, ASecondRunWhileOneIsActiveIs409AndAStopEndsTheFirst) {
  ServiceRig rig;
  Service& s = *rig.service;
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  ApiRequest run = with_token("POST", "/run");
  run.body = run_body();
  ASSERT_EQ(s.screen(run).status, 0);
  std::thread handler([&] {
    agents::ApiResponder out(pair[0]);
    s.handle(run, out);
    out.end_stream();
    ::shutdown(pair[0], SHUT_WR);
  });
  std::string got;
  // The child said hello and was given its start.
  read_until(pair[1], got, "\"type\":\"output\"");
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("{\"agents\":1,\"scenario\":\"health_check\""), std::string::npos) << got;
  EXPECT_NE(got.find("{\"type\":\"hello\",\"tasks\":[\"health\"]}"), std::string::npos) << got;
  EXPECT_NE(got.find("{\"type\":\"output\",\"text\":\"go "), std::string::npos) << got;

  const ApiAnswer busy = s.screen(run);
  EXPECT_EQ(busy.status, 409);
  EXPECT_EQ(busy.body.rfind("{\"error\":\"a run is active: health_check against "
                            "http://127.0.0.1:9, started ",
                            0),
            0u)
      << busy.body;
  EXPECT_NE(busy.body.find(" by 127.0.0.1:50000; POST /stop ends it\"}"), std::string::npos)
      << busy.body;
  // A run that slips past the screen is refused by the handler as well.
  int other[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other), 0);
  {
    agents::ApiResponder out(other[0]);
    s.handle(run, out);
  }
  std::string refused;
  ::shutdown(other[0], SHUT_WR);
  read_until(other[1], refused, "POST /stop ends it");
  EXPECT_EQ(refused.rfind("HTTP/1.1 409", 0), 0u) << refused;
  ::close(other[0]);
  ::close(other[1]);

  const ApiAnswer status = s.screen(with_token("GET", "/status"));
  EXPECT_NE(status.body.find("\"state\":\"running\""), std::string::npos) << status.body;
  EXPECT_NE(status.body.find("\"stopping\":false"), std::string::npos) << status.body;
  const ApiAnswer stop = s.screen(with_token("POST", "/stop"));
  EXPECT_EQ(stop.status, 202);
  EXPECT_EQ(stop.body, "{\"stopping\":\"health_check\"}\n");
  handler.join();
  read_until(pair[1], got, "\"type\":\"exit\"");
  // The stop reached the child as a SIGINT; the stream ends with how.
  EXPECT_NE(got.find("{\"how\":\"was killed by SIGINT\",\"type\":\"exit\"}"), std::string::npos)
      << got;
  EXPECT_EQ(got.find("\"type\":\"failed\""), std::string::npos) << got;
  ::close(pair[0]);
  ::close(pair[1]);
  // Free again.
  EXPECT_EQ(s.screen(run).status, 0);
  EXPECT_NE(s.screen(with_token("GET", "/status")).body.find("\"state\":\"idle\""),
            std::string::npos);
}

// A bad run request is a 400 with every message, before anything starts.
TEST(ServiceRun, ABadRunRequestIs400WithEveryMessage) {
  ServiceRig rig;
  ApiRequest run = with_token("POST", "/run");
  nlohmann::json body = nlohmann::json::parse(run_body());
  body["options"] = {{"timeout", "2h"}, {"max_connections", 0}};
  run.body = body.dump();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  {
    agents::ApiResponder out(pair[0]);
    rig.service->handle(run, out);
  }
  ::shutdown(pair[0], SHUT_WR);
  std::string got;
  read_until(pair[1], got, "\"]}");
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_NE(got.find("the run request has 3 problems"), std::string::npos) << got;
  EXPECT_NE(got.find("options.timeout: must be a duration up to 1h (got \\\"2h\\\")"),
            std::string::npos)
      << got;
  ::close(pair[0]);
  ::close(pair[1]);
}

// A body over the limit is refused on its head (the body is never read),
// by the service's real HTTP server on loopback; the handler never runs.
TEST(ServiceRun, ABodyOverTheLimitIs413OnItsHead) {
  ServiceRig rig;
  std::atomic<int> handled{0};
  agents::ApiServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.max_body = 4096;
  o.max_bodies_in_flight = 4096;
  agents::ApiServer server(
      o, [&](const ApiRequest& head) { return rig.service->screen(head); },
      [&](const ApiRequest& req, agents::ApiResponder& out) {
        ++handled;
        rig.service->handle(req, out);
      });
  server.start();
  const auto ask = [&](const std::string& head) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(server.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    std::string got;
    read_until(fd, got, "\r\n\r\n{");
    read_until(fd, got, "}\n");
    ::close(fd);
    return got;
  };
  const std::string too_large =
      ask(fmt::format("POST /run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n"
                      "Content-Length: 4097\r\n\r\n",
                      kToken));
  EXPECT_EQ(too_large.rfind("HTTP/1.1 413", 0), 0u) << too_large;
  EXPECT_NE(too_large.find(agents::http_error_message(413, 4096)), std::string::npos) << too_large;
  // Without the token a body within the limit is refused on the head too,
  // unread.
  const std::string no_token = ask("POST /run HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n");
  EXPECT_EQ(no_token.rfind("HTTP/1.1 401", 0), 0u) << no_token;
  server.stop();
  EXPECT_EQ(handled.load(), 0);
}

}  // namespace
}  // namespace loadpilot::cli
