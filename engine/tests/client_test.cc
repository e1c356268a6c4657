#include "http/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "http/request.h"

namespace loadpilot::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using metrics::ErrorKind;

// A blocking loopback server: one thread accepts, one thread per connection
// runs `session`. Destruction wakes and joins everything.
class TestServer {
 public:
  using Session = std::function<void(tcp::socket&)>;
  explicit TestServer(Session session)
      : session_(std::move(session)), acceptor_(io_, {asio::ip::address_v4::loopback(), 0}) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    stopping_ = true;
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect({asio::ip::address_v4::loopback(), port_}, ec);
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& s : sockets_) s->shutdown(tcp::socket::shutdown_both, ec);
    }
    for (auto& t : threads_) t.join();
  }
  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }
  int active() const { return active_; }
  int max_active() const { return max_active_; }
  std::string url(const char* scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  void accept_loop() {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      if (stopping_ || ec) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        sockets_.push_back(sock);
        ++accepted_;
        max_active_ = std::max(max_active_.load(), ++active_);
      }
      threads_.emplace_back([this, sock] {
        session_(*sock);
        std::lock_guard<std::mutex> lock(mu_);
        boost::system::error_code ignored;
        sock->shutdown(tcp::socket::shutdown_both, ignored);
        sock->close(ignored);
        --active_;
      });
    }
  }

  Session session_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0}, active_{0}, max_active_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

// Reads one request head (tests send no bodies); false at EOF or error.
template <class Stream>
bool read_request(Stream& s, std::string& buf) {
  boost::system::error_code ec;
  const std::size_t n = asio::read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", ec);
  if (ec) return false;
  buf.erase(0, n);
  return true;
}

template <class Stream>
void write_all(Stream& s, std::string_view data) {
  boost::system::error_code ec;
  asio::write(s, asio::buffer(data), ec);
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TestServer::Session respond_forever(std::string response, std::chrono::milliseconds delay = 0ms) {
  return [response, delay](tcp::socket& s) {
    std::string buf;
    while (read_request(s, buf)) {
      std::this_thread::sleep_for(delay);
      write_all(s, response);
    }
  };
}

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> make_client(const std::string& url, ClientOptions options = {}) {
    std::string error;
    auto target = Target::parse(url, &error);
    EXPECT_TRUE(target) << error;
    target_ = *target;
    request_ = std::make_shared<const std::string>(build_request(target_, "GET", "/", {}, ""));
    return std::make_unique<Client>(io_, target_, options);
  }
  // Runs the loop until pred() holds; bounded so a bug fails instead of hanging.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 2000ms) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end) io_.run_one_for(10ms);
    return pred();
  }
  Result send_one(Client& client, bool head = false) {
    std::optional<Result> out;
    client.send(request_, head, [&](Result&& r) { out = std::move(r); });
    EXPECT_TRUE(run_until([&] { return out.has_value(); }));
    return out ? std::move(*out) : Result{};
  }

  asio::io_context io_;
  Target target_;
  std::shared_ptr<const std::string> request_;
};

TEST_F(ClientTest, KeepAliveReusesOneConnection) {
  TestServer server(respond_forever(kOk));
  auto client = make_client(server.url());
  int done = 0;
  std::function<void(Result &&)> next = [&](Result&& r) {
    EXPECT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body_bytes, 2u);
    EXPECT_LE(r.sent_at, r.done_at);
    if (++done < 100) client->send(request_, false, next);
  };
  client->send(request_, false, next);
  ASSERT_TRUE(run_until([&] { return done == 100; }));
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(client->open_connections(), 1u);
  EXPECT_EQ(client->busy_connections(), 0u);
}

TEST_F(ClientTest, MaxConnectionsRespectedWithQueueing) {
  TestServer server(respond_forever(kOk, 10ms));
  auto client = make_client(server.url(), {.max_connections = 3});
  int done = 0;
  for (int i = 0; i < 20; ++i) {
    client->send(request_, false, [&](Result&& r) {
      EXPECT_FALSE(r.error) << r.error_message;
      ++done;
    });
  }
  EXPECT_EQ(client->open_connections(), 3u);
  EXPECT_EQ(client->queued(), 17u);
  ASSERT_TRUE(run_until([&] { return done == 20; }));
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_LE(server.max_active(), 3);
  EXPECT_EQ(client->queued(), 0u);
}

TEST_F(ClientTest, ChunkedResponseKept) {
  TestServer server(
      respond_forever("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Id: 7\r\n\r\n"
                      "6\r\nhello \r\n5;x=y\r\nworld\r\n0\r\n\r\n"));
  auto client = make_client(server.url(), {.keep_response = true});
  for (int i = 0; i < 3; ++i) {
    Result r = send_one(*client);
    ASSERT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(r.body_bytes, 11u);
    ASSERT_EQ(r.headers.size(), 2u);
    EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"X-Id", "7"}));
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, HttpErrorStatusIsNotATransportError) {
  TestServer server(respond_forever("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"));
  auto client = make_client(server.url());
  Result r = send_one(*client);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 503);
}

TEST_F(ClientTest, HeadResponseHasNoBody) {
  TestServer server(respond_forever("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
  auto client = make_client(server.url());
  for (int i = 0; i < 2; ++i) {
    Result r = send_one(*client, /*head=*/true);
    EXPECT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.body_bytes, 0u);
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, ConnectionCloseOpensNewConnections) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    if (read_request(s, buf)) {
      write_all(s, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  auto client = make_client(server.url());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(send_one(*client).error);
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(ClientTest, ServerClosesMidBodyIsReset) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    if (read_request(s, buf))
      write_all(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
  });
  auto client = make_client(server.url());
  Result r = send_one(*client);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kReset);
  EXPECT_NE(r.error_message.find("after 10 of 100 body bytes"), std::string::npos)
      << r.error_message;
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(ClientTest, GarbageIsProtocolError) {
  TestServer server(respond_forever("garbage that is not HTTP\r\n\r\n"));
  auto client = make_client(server.url());
  Result r = send_one(*client);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kProtocol);
  EXPECT_NE(r.error_message.find("bad status line"), std::string::npos) << r.error_message;
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(ClientTest, ConnectionRefusedIsConnectErrorAndNeverReentrant) {
  std::uint16_t port = 0;
  {
    tcp::acceptor a(io_, {asio::ip::address_v4::loopback(), 0});
    port = a.local_endpoint().port();
  }
  auto client = make_client("http://127.0.0.1:" + std::to_string(port));
  bool in_send = true;
  std::optional<Result> out;
  client->send(request_, false, [&](Result&& r) {
    EXPECT_FALSE(in_send);
    out = std::move(r);
  });
  in_send = false;
  ASSERT_TRUE(run_until([&] { return out.has_value(); }));
  ASSERT_TRUE(out->error);
  EXPECT_EQ(*out->error, ErrorKind::kConnect);
  EXPECT_NE(out->error_message.find("refused"), std::string::npos) << out->error_message;
}

TEST_F(ClientTest, SilentServerTimesOut) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    while (read_request(s, buf)) {
    }
  });
  auto client = make_client(server.url(), {.timeout = 200ms});
  const auto start = std::chrono::steady_clock::now();
  Result r = send_one(*client);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kTimeout);
  EXPECT_NE(r.error_message.find("200 ms"), std::string::npos) << r.error_message;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1000ms);
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(ClientTest, ServerClosedIdleConnectionIsReplacedNotRetried) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    if (read_request(s, buf)) write_all(s, kOk);  // then close without saying so
  });
  auto client = make_client(server.url());
  EXPECT_FALSE(send_one(*client).error);
  ASSERT_TRUE(run_until([&] { return server.active() == 0; }));
  std::this_thread::sleep_for(20ms);  // let the FIN reach our socket
  Result r = send_one(*client);
  EXPECT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.retries, 0u);  // seen closed before writing: sent once
  EXPECT_EQ(server.accepted(), 2);
}

// Answers the first request of each connection (the first connection only,
// with `only_first`); reads the next one and hangs up without a word. The
// count of requests read is what the server may have acted on.
TestServer::Session close_after_read(std::atomic<int>& read, std::atomic<int>& sessions,
                                     bool only_first = false) {
  return [&read, &sessions, only_first](tcp::socket& s) {
    std::string buf;
    const bool answer = !only_first || sessions++ == 0;
    if (!read_request(s, buf)) return;
    ++read;
    if (!answer) return;
    write_all(s, kOk);
    if (read_request(s, buf)) ++read;
  };
}

std::shared_ptr<const std::string> request_for(const Target& target, const char* method) {
  return std::make_shared<const std::string>(build_request(target, method, "/", {}, ""));
}

TEST_F(ClientTest, NonIdempotentRequestIsNeverSentTwice) {
  for (const char* method : {"POST", "PATCH"}) {
    std::atomic<int> read{0}, sessions{0};
    TestServer server(close_after_read(read, sessions));
    auto client = make_client(server.url());
    request_ = request_for(target_, method);
    EXPECT_FALSE(send_one(*client).error);
    Result r = send_one(*client);  // at once: the connection is still open
    ASSERT_TRUE(r.error) << method;
    EXPECT_EQ(*r.error, ErrorKind::kReset);
    EXPECT_EQ(r.error_message, std::string("connection closed before any response byte on a reused "
                                           "connection (not retried: ") +
                                   method + " is not idempotent)");
    EXPECT_EQ(r.retries, 0u);
    EXPECT_EQ(read, 2) << method;  // the server saw each request once
    EXPECT_EQ(server.accepted(), 1);
  }
}

TEST_F(ClientTest, IdempotentRequestIsRetriedOnceAndCounted) {
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    std::atomic<int> read{0}, sessions{0};
    TestServer server(close_after_read(read, sessions));
    auto client = make_client(server.url());
    request_ = request_for(target_, method);
    EXPECT_EQ(send_one(*client).retries, 0u);
    Result r = send_one(*client);
    EXPECT_FALSE(r.error) << method << ": " << r.error_message;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.retries, 1u);
    EXPECT_EQ(read, 3) << method;  // the first, and the second twice
    EXPECT_EQ(server.accepted(), 2);
  }
}

TEST_F(ClientTest, RetriesOnlyOnce) {
  std::atomic<int> read{0}, sessions{0};
  TestServer server(close_after_read(read, sessions, /*only_first=*/true));
  auto client = make_client(server.url());
  EXPECT_FALSE(send_one(*client).error);
  Result r = send_one(*client);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kReset);
  EXPECT_NE(r.error_message.find("before any response byte"), std::string::npos) << r.error_message;
  EXPECT_EQ(r.retries, 1u);
  EXPECT_EQ(server.accepted(), 2);  // the original and one retry, no more
  EXPECT_EQ(read, 3);
}

TEST_F(ClientTest, PostOnAConnectionTheServerClosedGoesOnANewOne) {
  std::atomic<int> read{0};
  TestServer server([&read](tcp::socket& s) {
    std::string buf;
    if (read_request(s, buf)) {
      ++read;
      write_all(s, kOk);
    }
  });
  auto client = make_client(server.url());
  request_ = request_for(target_, "POST");
  EXPECT_FALSE(send_one(*client).error);
  ASSERT_TRUE(run_until([&] { return server.active() == 0; }));
  std::this_thread::sleep_for(20ms);
  Result r = send_one(*client);
  EXPECT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.retries, 0u);
  EXPECT_EQ(read, 2);
}

TEST_F(ClientTest, UnrequestedBytesRetireTheConnection) {
  TestServer server(respond_forever(kOk + kOk));
  auto client = make_client(server.url());
  for (int i = 0; i < 2; ++i) {
    Result r = send_one(*client);
    EXPECT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(ClientTest, CloseFailsQueuedAndInFlight) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    while (read_request(s, buf)) {
    }
  });
  auto client = make_client(server.url(), {.max_connections = 1});
  std::vector<Result> results;
  for (int i = 0; i < 3; ++i) {
    client->send(request_, false, [&](Result&& r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(run_until([&] { return server.accepted() == 1; }));
  run_until([] { return false; }, 30ms);
  client->close();
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.error);
    EXPECT_EQ(*r.error, ErrorKind::kReset);
    EXPECT_EQ(r.error_message, "shutdown");
  }
  bool in_send = true;
  client->send(request_, false, [&](Result&& r) {
    EXPECT_FALSE(in_send);
    results.push_back(std::move(r));
  });
  in_send = false;
  ASSERT_TRUE(run_until([&] { return results.size() == 4; }));
  EXPECT_EQ(*results[3].error, ErrorKind::kReset);
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(ClientTest, TimeoutSaysHowFarTheResponseGot) {
  TestServer server([](tcp::socket& s) {
    std::string buf;
    if (!read_request(s, buf)) return;
    write_all(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
    while (read_request(s, buf)) {
    }
  });
  auto client = make_client(server.url(), {.timeout = 200ms});
  Result r = send_one(*client);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kTimeout);
  EXPECT_EQ(r.error_message,
            "response not complete within 200 ms (200 status, 10 of 100 body bytes)");
}

std::string response_with_body(std::size_t n) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n" +
         std::string(n, 'b');
}

TEST_F(ClientTest, KeptBodyOverItsCapIsDiscardedNotAnError) {
  TestServer server(respond_forever(response_with_body(10000)));
  auto client = make_client(server.url(), {.keep_response = true, .max_kept_body = 4000});
  Result r = send_one(*client);
  ASSERT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body_bytes, 10000u);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.body_dropped, BodyDrop::kOverCap);
  EXPECT_EQ(r.body_limit, 4000u);
  // The request's own cap wins; the connection was fine for reuse.
  std::optional<Result> big;
  client->send(
      request_, false, [&](Result&& x) { big = std::move(x); }, 10000);
  ASSERT_TRUE(run_until([&] { return big.has_value(); }));
  EXPECT_EQ(big->body.size(), 10000u);
  EXPECT_EQ(big->body_dropped, BodyDrop::kNone);
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(ClientTest, KeptBodiesAtOnceAreBounded) {
  // Each response arrives in two parts, 3000 body bytes and then 1000: both
  // first parts together are over the limit.
  TestServer server([](tcp::socket& s) {
    std::string buf;
    while (read_request(s, buf)) {
      const std::string r = response_with_body(4000);
      write_all(s, r.substr(0, r.size() - 1000));
      std::this_thread::sleep_for(100ms);
      write_all(s, r.substr(r.size() - 1000));
    }
  });
  auto client = make_client(
      server.url(),
      {.max_connections = 2, .keep_response = true, .max_kept_body = 4500, .max_kept_total = 5000});
  std::vector<Result> results;
  for (int i = 0; i < 2; ++i) {
    client->send(request_, false, [&](Result&& r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(run_until([&] { return results.size() == 2; }));
  int kept = 0, dropped = 0;
  for (const Result& r : results) {
    EXPECT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.body_bytes, 4000u);
    if (r.body_dropped == BodyDrop::kOverTotal) {
      ++dropped;
      EXPECT_EQ(r.body_limit, 5000u);
      EXPECT_TRUE(r.body.empty());
    } else {
      ++kept;
      EXPECT_EQ(r.body.size(), 4000u);
    }
  }
  EXPECT_EQ(kept, 1);
  EXPECT_EQ(dropped, 1);
  // Once delivered, bodies no longer count: both fit again one at a time.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(send_one(*client).body.size(), 4000u);
}

// ---- TLS --------------------------------------------------------------------

class TlsClientTest : public ClientTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/loadpilot-client-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-nodes -days 1 -subj /CN=localhost -keyout " +
        dir_ + "/key.pem -out " + dir_ + "/cert.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    server_ctx_.use_certificate_chain_file(dir_ + "/cert.pem");
    server_ctx_.use_private_key_file(dir_ + "/key.pem", ssl::context::pem);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TestServer::Session tls_session() {
    return [this](tcp::socket& s) {
      ssl::stream<tcp::socket&> tls(s, server_ctx_);
      boost::system::error_code ec;
      tls.handshake(ssl::stream_base::server, ec);
      if (ec) return;
      std::string buf;
      while (read_request(tls, buf)) write_all(tls, kOk);
    };
  }

  std::string dir_;
  ssl::context server_ctx_{ssl::context::tls_server};
};

TEST_F(TlsClientTest, InsecureAcceptsSelfSignedCertificate) {
  TestServer server(tls_session());
  auto client = make_client(server.url("https"), {.insecure = true});
  for (int i = 0; i < 3; ++i) {
    Result r = send_one(*client);
    EXPECT_FALSE(r.error) << r.error_message;
    EXPECT_EQ(r.status, 200);
  }
  EXPECT_EQ(server.accepted(), 1);
}

TEST_F(TlsClientTest, VerificationRejectsSelfSignedCertificate) {
  TestServer server(tls_session());
  auto client = make_client(server.url("https"));
  Result r = send_one(*client);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kConnect);
  EXPECT_NE(r.error_message.find("certificate"), std::string::npos) << r.error_message;
}

}  // namespace
}  // namespace loadpilot::http
