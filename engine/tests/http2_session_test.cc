// Http2Session against an in-memory nghttp2 server: the stream logic of
// the HTTP/2 client (responses, RST_STREAM, GOAWAY, a lost connection,
// timeouts, stream limits, request conversion) without sockets.
#include "http/http2_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "http/request.h"

namespace loadpilot::http {
namespace {

using Clock = std::chrono::steady_clock;
using metrics::ErrorKind;

// What the server does with a request, by its path: "/ok" answers 200
// "hello"; "/reset" resets the stream (INTERNAL_ERROR); "/goaway" sends
// GOAWAY naming the stream before it as the last one processed; "/hold"
// never answers; "/big" answers with headers over the client's limit;
// "/trailers" answers 200 "hello" followed by trailers (as gRPC does);
// "/early" sends a 103 before its 200.
class Server {
 public:
  explicit Server(std::uint32_t max_streams = 100) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
    nghttp2_session_server_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry s[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, s, 1);
  }
  ~Server() { nghttp2_session_del(session_); }

  // Moves bytes both ways until neither side has anything to say.
  void exchange(Http2Session& client) {
    for (int round = 0; round < 50; ++round) {
      std::string up;
      ASSERT_TRUE(client.take_output(up));
      if (!up.empty()) {
        sent_to_server += up.size();
        ASSERT_GE(nghttp2_session_mem_recv(
                      session_, reinterpret_cast<const std::uint8_t*>(up.data()), up.size()),
                  0);
      }
      std::string down;
      for (;;) {
        const std::uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        ASSERT_GE(n, 0);
        if (n == 0) break;
        down.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
      }
      if (!down.empty()) {
        received_by_client += down.size();
        client.feed(reinterpret_cast<const std::uint8_t*>(down.data()), down.size());
      }
      if (up.empty() && down.empty()) return;
    }
    FAIL() << "no quiet after 50 rounds";
  }

  struct Seen {
    std::map<std::string, std::string> headers;
    std::string body;
  };
  std::map<std::int32_t, Seen> seen;
  std::uint64_t sent_to_server = 0, received_by_client = 0;

 private:
  static Server& self(void* u) { return *static_cast<Server*>(u); }
  static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n,
                       std::size_t nl, const std::uint8_t* v, std::size_t vl, std::uint8_t,
                       void* u) {
    self(u).seen[f->hd.stream_id].headers[std::string(reinterpret_cast<const char*>(n), nl)] =
        std::string(reinterpret_cast<const char*>(v), vl);
    return 0;
  }
  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d,
                     std::size_t len, void* u) {
    self(u).seen[id].body.append(reinterpret_cast<const char*>(d), len);
    return 0;
  }
  static int on_frame(nghttp2_session* s, const nghttp2_frame* f, void* u) {
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
      return 0;
    const std::int32_t id = f->hd.stream_id;
    const std::string path = self(u).seen[id].headers[":path"];
    if (path == "/reset") {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
    } else if (path == "/goaway") {
      nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, id - 2, NGHTTP2_NO_ERROR, nullptr, 0);
    } else if (path == "/big") {
      static const std::string huge(40 * 1024, 'x');
      const nghttp2_nv nv[] = {
          {(std::uint8_t*)":status", (std::uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"x-a", (std::uint8_t*)huge.data(), 3, huge.size(), NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"x-b", (std::uint8_t*)huge.data(), 3, huge.size(), NGHTTP2_NV_FLAG_NONE},
      };
      nghttp2_submit_response(s, id, nv, 3, nullptr);
    } else if (path == "/early") {
      const nghttp2_nv early[] = {
          {(std::uint8_t*)":status", (std::uint8_t*)"103", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"link", (std::uint8_t*)"</a>", 4, 4, NGHTTP2_NV_FLAG_NONE},
      };
      nghttp2_submit_headers(s, NGHTTP2_FLAG_NONE, id, nullptr, early, 2, nullptr);
      const nghttp2_nv nv[] = {
          {(std::uint8_t*)":status", (std::uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"x-final", (std::uint8_t*)"1", 7, 1, NGHTTP2_NV_FLAG_NONE},
      };
      nghttp2_submit_response(s, id, nv, 2, nullptr);
    } else if (path == "/trailers") {
      static const std::string body = "hello";
      nghttp2_data_provider p{};
      p.read_callback = [](nghttp2_session* s, std::int32_t id, std::uint8_t* buf, std::size_t,
                           std::uint32_t* flags, nghttp2_data_source*, void*) -> ssize_t {
        std::memcpy(buf, body.data(), body.size());
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        const nghttp2_nv t[] = {
            {(std::uint8_t*)"grpc-status", (std::uint8_t*)"5", 11, 1, NGHTTP2_NV_FLAG_NONE},
            {(std::uint8_t*)"grpc-message", (std::uint8_t*)"gone", 12, 4, NGHTTP2_NV_FLAG_NONE},
        };
        nghttp2_submit_trailer(s, id, t, 2);
        return static_cast<ssize_t>(body.size());
      };
      const nghttp2_nv nv[] = {
          {(std::uint8_t*)":status", (std::uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"x-head", (std::uint8_t*)"1", 6, 1, NGHTTP2_NV_FLAG_NONE},
      };
      nghttp2_submit_response(s, id, nv, 2, &p);
    } else if (path != "/hold") {
      static const std::string body = "hello";
      nghttp2_data_provider p{};
      p.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t,
                           std::uint32_t* flags, nghttp2_data_source*, void*) -> ssize_t {
        std::memcpy(buf, body.data(), body.size());
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(body.size());
      };
      const nghttp2_nv nv[] = {
          {(std::uint8_t*)":status", (std::uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(std::uint8_t*)"content-length", (std::uint8_t*)"5", 14, 1, NGHTTP2_NV_FLAG_NONE},
      };
      nghttp2_submit_response(s, id, nv, 2, &p);
    }
    return 0;
  }
  nghttp2_session* session_ = nullptr;
};

Target local() {
  std::string error;
  return *Target::parse("http://127.0.0.1:8000", &error);
}

Http2Request get(const std::string& path, std::vector<Result>* results = nullptr) {
  Http2Request r;
  r.request = std::make_shared<const std::string>(build_request(local(), "GET", path, {}, ""));
  r.keep_limit = 1 << 20;
  if (results) r.cb = [results](Result&& res) { results->push_back(std::move(res)); };
  return r;
}

Http2SessionOptions keep() {
  Http2SessionOptions o;
  o.keep_response = true;
  return o;
}

TEST(Http2Session, ResponsesEndWithStatusBodyAndTheirBytes) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/ok"), Clock::now());
  client.submit(get("/ok"), Clock::now());
  EXPECT_EQ(client.in_flight(), 2u);
  server.exchange(client);
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 2u);
  std::uint64_t sent = 0, received = 0;
  for (auto& f : done) {
    EXPECT_FALSE(f.result.error) << f.result.error_message;
    EXPECT_EQ(f.result.status, 200);
    EXPECT_EQ(f.result.body, "hello");
    EXPECT_EQ(f.result.http_version, 20);
    EXPECT_GT(f.result.bytes_sent, 0u);
    sent += f.result.bytes_sent;
    received += f.result.bytes_received;
  }
  EXPECT_EQ(client.in_flight(), 0u);
  // Every byte up to the last response is some request's; only frames
  // after it (a SETTINGS ack) are left over.
  EXPECT_LE(sent, server.sent_to_server);
  EXPECT_GE(sent + 64, server.sent_to_server);
  EXPECT_LE(received, server.received_by_client);
  EXPECT_GE(received + 64, server.received_by_client);
}

TEST(Http2Session, TrailersAreKeptApartFromTheHeaders) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/trailers"), Clock::now());
  server.exchange(client);
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 1u);
  const Result& r = done[0].result;
  EXPECT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.headers, (Pairs{{"x-head", "1"}}));
  EXPECT_EQ(r.trailers, (Pairs{{"grpc-status", "5"}, {"grpc-message", "gone"}}));
}

TEST(Http2Session, TheFinalResponseAfterA1xxHasHeadersNotTrailers) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/early"), Clock::now());
  server.exchange(client);
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 1u);
  const Result& r = done[0].result;
  EXPECT_FALSE(r.error) << r.error_message;
  EXPECT_EQ(r.status, 200);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(r.headers, (Pairs{{"x-final", "1"}}));
  EXPECT_TRUE(r.trailers.empty());
}

TEST(Http2Session, RstStreamFailsThatStreamOnlyAsStreamReset) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/reset"), Clock::now());
  client.submit(get("/ok"), Clock::now());
  server.exchange(client);
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 2u);
  int resets = 0, ok = 0;
  for (auto& f : done) {
    if (f.result.error) {
      EXPECT_EQ(*f.result.error, ErrorKind::kStreamReset);
      EXPECT_EQ(f.result.error_message, "stream reset by server (INTERNAL_ERROR)");
      EXPECT_FALSE(f.refused);
      ++resets;
    } else {
      EXPECT_EQ(f.result.status, 200);
      ++ok;
    }
  }
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(ok, 1);
  EXPECT_TRUE(client.can_submit());
}

TEST(Http2Session, GoawayFinishesStreamsBelowTheLastIdAndRefusesTheRest) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/hold"), Clock::now());    // stream 1: processed, answered later
  client.submit(get("/goaway"), Clock::now());  // stream 3: GOAWAY last id 1
  client.submit(get("/ok"), Clock::now());      // stream 5: after the GOAWAY
  server.exchange(client);
  EXPECT_TRUE(client.goaway_received());
  EXPECT_FALSE(client.can_submit());
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 2u);  // streams 3 and 5: not processed
  for (auto& f : done) {
    EXPECT_TRUE(f.refused);
    EXPECT_EQ(*f.result.error, ErrorKind::kStreamReset);
  }
  EXPECT_EQ(client.in_flight(), 1u);  // stream 1 still runs
}

TEST(Http2Session, ALostConnectionFailsExactlyTheStreamsInFlight) {
  Http2Session client(local(), keep());
  Server server;
  std::vector<Result> results;
  client.submit(get("/ok", &results), Clock::now());
  client.submit(get("/hold", &results), Clock::now());
  client.submit(get("/hold", &results), Clock::now());
  server.exchange(client);
  EXPECT_EQ(client.take_finished().size(), 1u);
  client.fail_all(ErrorKind::kReset, "connection closed by peer");
  auto lost = client.take_finished();
  ASSERT_EQ(lost.size(), 2u);
  for (auto& f : lost) {
    EXPECT_EQ(*f.result.error, ErrorKind::kReset);
    EXPECT_EQ(f.result.error_message, "connection closed by peer");
  }
  EXPECT_FALSE(client.can_submit());
}

TEST(Http2Session, AStreamOverTheTimeoutIsCancelledAndFailsAsTimeout) {
  Http2SessionOptions o = keep();
  o.timeout = std::chrono::milliseconds(100);
  Http2Session client(local(), o);
  Server server;
  const auto t0 = Clock::now();
  client.submit(get("/hold"), t0);
  client.submit(get("/hold"), t0 + std::chrono::milliseconds(50));
  server.exchange(client);
  const auto next = client.expire(t0 + std::chrono::milliseconds(120));
  EXPECT_EQ(next, t0 + std::chrono::milliseconds(150));
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(*done[0].result.error, ErrorKind::kTimeout);
  EXPECT_EQ(done[0].result.error_message, "no response within 100 ms");
  EXPECT_EQ(client.in_flight(), 1u);
  server.exchange(client);  // the RST_STREAM(CANCEL) goes out; nothing else ends
  EXPECT_TRUE(client.take_finished().empty());
}

TEST(Http2Session, TheStreamLimitIsTheServersOrTheRunsCapWhicheverIsLower) {
  {
    Http2Session client(local(), keep());
    Server server(2);
    EXPECT_EQ(client.stream_limit(), 100u);  // nghttp2's assumption before SETTINGS
    server.exchange(client);
    EXPECT_TRUE(client.settings_received());
    EXPECT_EQ(client.stream_limit(), 2u);
    client.submit(get("/hold"), Clock::now());
    client.submit(get("/hold"), Clock::now());
    EXPECT_FALSE(client.can_submit());
  }
  {
    Http2SessionOptions o = keep();
    o.max_streams = 1;
    Http2Session client(local(), o);
    Server server(50);
    server.exchange(client);
    EXPECT_EQ(client.stream_limit(), 1u);
  }
}

TEST(Http2Session, HeadersOverTheLimitFailAsProtocol) {
  Http2Session client(local(), keep());
  Server server;
  client.submit(get("/big"), Clock::now());
  client.submit(get("/ok"), Clock::now());
  server.exchange(client);
  auto done = client.take_finished();
  ASSERT_EQ(done.size(), 2u);
  int protocol = 0;
  for (auto& f : done) {
    if (f.result.error) {
      EXPECT_EQ(*f.result.error, ErrorKind::kProtocol);
      EXPECT_NE(f.result.error_message.find("response headers over"), std::string::npos);
      ++protocol;
    }
  }
  EXPECT_EQ(protocol, 1);
}

TEST(Http2Session, TheHttp1RequestBecomesPseudoHeadersFieldsAndData) {
  Http2Session client(local(), keep());
  Server server;
  Http2Request r;
  r.request = std::make_shared<const std::string>(build_request(
      local(), "POST", "/api/orders?x=1",
      {{"Content-Type", "application/json"}, {"Connection", "keep-alive"}}, "{\"a\":1}"));
  r.keep_limit = 1024;
  client.submit(std::move(r), Clock::now());
  server.exchange(client);
  ASSERT_EQ(server.seen.size(), 1u);
  const auto& seen = server.seen.begin()->second;
  EXPECT_EQ(seen.headers.at(":method"), "POST");
  EXPECT_EQ(seen.headers.at(":path"), "/api/orders?x=1");
  EXPECT_EQ(seen.headers.at(":scheme"), "http");
  EXPECT_EQ(seen.headers.at(":authority"), "127.0.0.1:8000");
  EXPECT_EQ(seen.headers.at("content-type"), "application/json");
  EXPECT_EQ(seen.headers.count("connection"), 0u);
  EXPECT_EQ(seen.headers.count("host"), 0u);
  EXPECT_EQ(seen.body, "{\"a\":1}");
  EXPECT_EQ(client.take_finished().size(), 1u);
}

}  // namespace
}  // namespace loadpilot::http
