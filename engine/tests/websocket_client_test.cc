// WebSocketClient (http/websocket_client.h) against the in-process demo-api's
// /ws/echo and /ws/broadcast (demo/ws_routes.h), on loopback.
#include "http/websocket_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "demo/demo_api.h"

namespace loadpilot::http {
namespace {

using Result = WebSocketClient::Result;

struct Fixture {
  Fixture() {
    demo::DemoOptions o;
    o.port = 0;
    o.threads = 2;
    server = std::make_unique<demo::DemoServer>(o);
    server->start();
    std::string error;
    target = *Target::parse(server->url(), &error);
  }
  // Runs the loop until DONE or 10 s.
  void run_until(const bool& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done && std::chrono::steady_clock::now() < until)
      io.run_one_for(std::chrono::milliseconds(100));
    io.restart();
  }
  std::shared_ptr<WebSocketClient> open(const std::string& path, WebSocketOptions o = {}) {
    auto ws = WebSocketClient::create(io, nullptr, target, o);
    bool done = false;
    Result got;
    ws->open(path, {{"X-Test", "1"}}, [&](Result&& r) {
      got = std::move(r);
      done = true;
    });
    run_until(done);
    EXPECT_TRUE(done);
    EXPECT_FALSE(got.error) << got.error_message;
    EXPECT_EQ(got.status, 101);
    return ws;
  }
  Result receive(WebSocketClient& ws) {
    bool done = false;
    Result got;
    ws.receive([&](Result&& r) {
      got = std::move(r);
      done = true;
    });
    run_until(done);
    EXPECT_TRUE(done);
    return got;
  }
  Result close(WebSocketClient& ws) {
    bool done = false;
    Result got;
    ws.close(1000, [&](Result&& r) {
      got = std::move(r);
      done = true;
    });
    run_until(done);
    EXPECT_TRUE(done);
    return got;
  }

  boost::asio::io_context io{1};
  std::unique_ptr<demo::DemoServer> server;
  Target target;
};

TEST(WebSocketClient, EchoesTextAndBinaryInOrderAndClosesNormally) {
  Fixture f;
  auto ws = f.open("/ws/echo");
  int written = 0;
  ws->send("one", false, [&](Result&& r) { written += !r.error; });
  ws->send(std::string("\0\1", 2), true, [&](Result&& r) { written += !r.error; });
  Result a = f.receive(*ws);
  EXPECT_FALSE(a.error) << a.error_message;
  EXPECT_EQ(a.data, "one");
  EXPECT_FALSE(a.binary);
  Result b = f.receive(*ws);
  EXPECT_EQ(b.data, std::string("\0\1", 2));
  EXPECT_TRUE(b.binary);
  EXPECT_EQ(written, 2);
  Result c = f.close(*ws);
  EXPECT_FALSE(c.error) << c.error_message;
  EXPECT_TRUE(c.peer_answered);
  EXPECT_EQ(c.close_code, 1000);
  EXPECT_FALSE(ws->is_open());
}

TEST(WebSocketClient, MessageOverTheLimitIsAProtocolError) {
  Fixture f;
  WebSocketOptions o;
  o.max_message = 1000;
  auto ws = f.open("/ws/echo", o);
  ws->send(std::string(5000, 'x'), false, [](Result&&) {});
  Result r = f.receive(*ws);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, metrics::ErrorKind::kProtocol);
  EXPECT_NE(r.error_message.find("max_message=1000"), std::string::npos) << r.error_message;
  EXPECT_FALSE(ws->is_open());
  // Later calls fail at once, with the same story.
  Result again = f.receive(*ws);
  ASSERT_TRUE(again.error);
  EXPECT_EQ(*again.error, metrics::ErrorKind::kReset);
}

TEST(WebSocketClient, NotAWebSocketRouteIsARefusedUpgrade) {
  Fixture f;
  auto ws = WebSocketClient::create(f.io, nullptr, f.target, {});
  bool done = false;
  Result got;
  ws->open("/health", {}, [&](Result&& r) {
    got = std::move(r);
    done = true;
  });
  f.run_until(done);
  ASSERT_TRUE(got.error);
  EXPECT_EQ(*got.error, metrics::ErrorKind::kConnect);
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.error_message.find("refused: HTTP 200"), std::string::npos) << got.error_message;
}

TEST(WebSocketClient, BroadcastReachesEveryMemberOnAnyWorker) {
  Fixture f;
  auto a = f.open("/ws/broadcast");
  auto b = f.open("/ws/broadcast");
  a->send("hi", false, [](Result&&) {});
  EXPECT_EQ(f.receive(*b).data, "hi");
  EXPECT_EQ(f.receive(*a).data, "hi");
  a->abort();
  Result r = f.receive(*a);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, metrics::ErrorKind::kReset);
}

}  // namespace
}  // namespace loadpilot::http
