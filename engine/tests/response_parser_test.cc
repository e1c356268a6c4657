#include "http/response_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

// Counts heap allocations so a test can prove the non-keep hot path makes
// none. Replacing the global operator new is binary-wide; it only counts.
// Not under TSan: its runtime defines every form of operator new itself, so
// a second definition does not link (the counting test is skipped there).
#if defined(__SANITIZE_THREAD__)
#define LOADPILOT_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOADPILOT_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef LOADPILOT_COUNT_ALLOCATIONS
#define LOADPILOT_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if LOADPILOT_COUNT_ALLOCATIONS
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// Out of line so the compiler does not pair an inlined free() with a new it
// cannot see is malloc (-Wmismatched-new-delete).
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort uses them): under ASan, whose
// runtime defines every form, a nothrow new left to it would be freed by
// the free() above and reported as an alloc-dealloc mismatch.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
#endif

namespace loadpilot::http {
namespace {

using Status = ResponseParser::Status;

struct Outcome {
  Status status = Status::kNeedMore;
  std::size_t consumed = 0;
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body_bytes = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;
};

// Feeds `data` in the pieces given by `cuts` (offsets), stopping at the
// first kDone/kError; calls on_eof() at the end when `eof`.
Outcome run(std::string_view data, const std::vector<std::size_t>& cuts, bool eof = false,
            bool head = false, bool keep = true) {
  ResponseParser p;
  p.reset(head, keep);
  Outcome o;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(data.size());
  for (std::size_t end : ends) {
    if (end < from) continue;
    std::size_t used = 0;
    o.status = p.feed(data.data() + from, end - from, &used);
    if (o.status != Status::kNeedMore) {
      o.consumed = from + used;
      break;
    }
    EXPECT_EQ(used, end - from);
    from = end;
    o.consumed = from;
  }
  if (o.status == Status::kNeedMore && eof) o.status = p.on_eof();
  o.code = p.status();
  o.keep_alive = p.keep_alive();
  o.body_bytes = p.body_bytes();
  o.body = p.body();
  o.headers = p.headers();
  o.error = p.error();
  return o;
}

Outcome whole(std::string_view data, bool eof = false, bool head = false, bool keep = true) {
  return run(data, {}, eof, head, keep);
}

void expect_same(const Outcome& a, const Outcome& b, const std::string& how) {
  EXPECT_EQ(a.status, b.status) << how;
  // On error the connection is closed, so where it stopped does not matter.
  if (b.status != Status::kError) {
    EXPECT_EQ(a.consumed, b.consumed) << how;
  }
  EXPECT_EQ(a.code, b.code) << how;
  EXPECT_EQ(a.keep_alive, b.keep_alive) << how;
  EXPECT_EQ(a.body_bytes, b.body_bytes) << how;
  EXPECT_EQ(a.body, b.body) << how;
  EXPECT_EQ(a.headers, b.headers) << how;
  EXPECT_EQ(a.error.empty(), b.error.empty()) << how << ": " << a.error << " / " << b.error;
}

// Parses data whole, one byte at a time, and split at every point; all must
// agree. Returns the whole-buffer outcome.
Outcome parse_every_way(std::string_view data, bool eof = false, bool head = false) {
  const Outcome ref = whole(data, eof, head);
  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < data.size(); ++i) bytes.push_back(i);
  expect_same(run(data, bytes, eof, head), ref, "byte at a time");
  for (std::size_t i = 0; i <= data.size(); ++i) {
    expect_same(run(data, {i}, eof, head), ref, "split at " + std::to_string(i));
  }
  return ref;
}

Outcome parse_error(std::string_view data, bool eof = false) {
  Outcome o = parse_every_way(data, eof);
  EXPECT_EQ(o.status, Status::kError) << data;
  EXPECT_FALSE(o.error.empty());
  return o;
}

const std::string kSimple = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";

TEST(ResponseParser, ContentLength) {
  Outcome o = parse_every_way(kSimple);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.consumed, kSimple.size());
  EXPECT_EQ(o.code, 200);
  EXPECT_TRUE(o.keep_alive);
  EXPECT_EQ(o.body_bytes, 5u);
  EXPECT_EQ(o.body, "hello");
  ASSERT_EQ(o.headers.size(), 2u);
  EXPECT_EQ(o.headers[0], (std::pair<std::string, std::string>{"Content-Length", "5"}));
  EXPECT_EQ(o.headers[1], (std::pair<std::string, std::string>{"X-A", "b"}));
}

TEST(ResponseParser, ZeroLengthAndNoReason) {
  Outcome o = parse_every_way("HTTP/1.1 404\r\ncontent-length:0\r\n\r\n");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.code, 404);
  EXPECT_EQ(o.body_bytes, 0u);
}

TEST(ResponseParser, BareLineFeedsAccepted) {
  Outcome o = parse_every_way("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body, "ok");
}

TEST(ResponseParser, PipelinedResponses) {
  const std::string second =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  const std::string both = kSimple + second + kSimple;
  Outcome first = parse_every_way(both);
  EXPECT_EQ(first.status, Status::kDone);
  EXPECT_EQ(first.consumed, kSimple.size());
  EXPECT_EQ(first.body, "hello");

  ResponseParser p;
  std::size_t offset = 0;
  std::vector<int> codes;
  std::vector<std::string> bodies;
  while (offset < both.size()) {
    p.reset(false, true);
    std::size_t used = 0;
    ASSERT_EQ(p.feed(both.data() + offset, both.size() - offset, &used), Status::kDone);
    codes.push_back(p.status());
    bodies.push_back(p.body());
    offset += used;
  }
  EXPECT_EQ(codes, (std::vector<int>{200, 201, 200}));
  EXPECT_EQ(bodies, (std::vector<std::string>{"hello", "abc", "hello"}));
}

TEST(ResponseParser, FeedAfterDoneConsumesNothing) {
  ResponseParser p;
  p.reset(false, false);
  std::size_t used = 0;
  ASSERT_EQ(p.feed(kSimple.data(), kSimple.size(), &used), Status::kDone);
  EXPECT_EQ(p.feed("HTTP", 4, &used), Status::kDone);
  EXPECT_EQ(used, 0u);
}

TEST(ResponseParser, ChunkedWithExtensionsAndTrailers) {
  const std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6 ; a=\"b\"\r\n world\r\nA\r\n0123456789\r\n"
      "0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
  Outcome o = parse_every_way(r);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.consumed, r.size());
  EXPECT_EQ(o.body, "hello world0123456789");
  EXPECT_EQ(o.body_bytes, 21u);
  EXPECT_TRUE(o.keep_alive);
  ASSERT_EQ(o.headers.size(), 3u);
  EXPECT_EQ(o.headers[1].first, "X-Checksum");
  EXPECT_EQ(o.headers[2].second, "1");
}

TEST(ResponseParser, ChunkedOverridesContentLengthButClosesConnection) {
  Outcome o = parse_every_way(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body, "hi");
  EXPECT_FALSE(o.keep_alive);
}

TEST(ResponseParser, CloseDelimitedBody) {
  const std::string r = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nsome body";
  Outcome before = whole(r);
  EXPECT_EQ(before.status, Status::kNeedMore);
  Outcome o = parse_every_way(r, /*eof=*/true);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body, "some body");
  EXPECT_FALSE(o.keep_alive);
  // Unknown transfer coding: also delimited by close.
  Outcome g = parse_every_way("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", true);
  EXPECT_EQ(g.status, Status::kDone);
  EXPECT_EQ(g.body, "zz");
  EXPECT_FALSE(g.keep_alive);
}

TEST(ResponseParser, Http10) {
  Outcome o = parse_every_way("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_FALSE(o.keep_alive);
  o = parse_every_way("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_TRUE(o.keep_alive);
  o = parse_every_way("HTTP/1.0 200 OK\r\n\r\nuntil close", true);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body, "until close");
  EXPECT_FALSE(o.keep_alive);
}

TEST(ResponseParser, ConnectionClose) {
  Outcome o = parse_every_way("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_FALSE(o.keep_alive);
  o = parse_every_way("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(o.keep_alive);
}

TEST(ResponseParser, InterimResponsesSkipped) {
  const std::string r =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  Outcome o = parse_every_way(r);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.code, 200);
  EXPECT_EQ(o.body, "abc");
  ASSERT_EQ(o.headers.size(), 1u);
  EXPECT_EQ(o.headers[0].first, "Content-Length");
}

TEST(ResponseParser, NoBodyStatuses) {
  for (const char* r : {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
                        "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
                        "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    Outcome o = parse_every_way(r);
    EXPECT_EQ(o.status, Status::kDone) << r;
    EXPECT_EQ(o.consumed, std::string(r).size());
    EXPECT_EQ(o.body_bytes, 0u);
    EXPECT_TRUE(o.keep_alive);
  }
}

TEST(ResponseParser, HeadResponseHasNoBody) {
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  Outcome o = parse_every_way(r, false, /*head=*/true);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.consumed, r.size());
  EXPECT_EQ(o.body_bytes, 0u);
  EXPECT_TRUE(o.keep_alive);
  // Without the HEAD flag the same bytes wait for a body.
  EXPECT_EQ(whole(r).status, Status::kNeedMore);
}

TEST(ResponseParser, DuplicateEqualContentLengthAccepted) {
  Outcome o =
      parse_every_way("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok");
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body, "ok");
}

TEST(ResponseParser, KeepFalseStoresNothingButCounts) {
  Outcome o = whole(kSimple, false, false, /*keep=*/false);
  EXPECT_EQ(o.status, Status::kDone);
  EXPECT_EQ(o.body_bytes, 5u);
  EXPECT_TRUE(o.body.empty());
  EXPECT_TRUE(o.headers.empty());
}

TEST(ResponseParser, NoAllocationPerResponseWithoutKeep) {
  if (!LOADPILOT_COUNT_ALLOCATIONS) GTEST_SKIP() << "allocations are not counted under TSan";
  const std::string r =
      kSimple +
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x\r\nbody\r\n0\r\nT: 1\r\n\r\n";
  ResponseParser p;
  bool keep = false;
  auto parse_split = [&] {
    for (std::size_t split : {std::size_t{7}, std::size_t{30}, std::size_t{60}}) {
      std::size_t offset = 0;
      while (offset < r.size()) {
        p.reset(false, keep);
        std::size_t used = 0;
        std::size_t end = std::max(offset, std::min(split + offset, r.size()));
        Status s = p.feed(r.data() + offset, end - offset, &used);
        offset += used;
        while (s == Status::kNeedMore) {
          s = p.feed(r.data() + offset, r.size() - offset, &used);
          offset += used;
        }
        ASSERT_EQ(s, Status::kDone);
      }
    }
  };
  parse_split();  // warm up: line_ grows to its working size
  const long before = g_allocations.load();
  for (int i = 0; i < 200; ++i) parse_split();
  EXPECT_EQ(g_allocations.load() - before, 0);
  keep = true;  // the counter does see the parser's allocations
  parse_split();
  EXPECT_GT(g_allocations.load() - before, 0);
}

// ---- malformed input -------------------------------------------------------

TEST(ResponseParser, BadStatusLines) {
  for (const char* line :
       {"HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.1\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n"}) {
    Outcome o = parse_error(line);
    EXPECT_NE(o.error.find("status line"), std::string::npos) << line << " -> " << o.error;
  }
  EXPECT_NE(parse_error("HTTP/1.1 600 Odd\r\n\r\n").error.find("bad status code 600"),
            std::string::npos);
  EXPECT_NE(parse_error("HTTP/1.1 099 Odd\r\n\r\n").error.find("bad status code"),
            std::string::npos);
}

TEST(ResponseParser, GarbageDetectedWithoutWaitingForNewline) {
  ResponseParser p;
  p.reset(false, false);
  std::size_t used = 0;
  EXPECT_EQ(p.feed("<html>", 6, &used), Status::kError);
  EXPECT_NE(p.error().find("bad status line \"<html>\" (not HTTP)"), std::string::npos)
      << p.error();
  Outcome o = parse_error(std::string("\x16\x03\x01\x00\xa5garbage", 12));
  EXPECT_NE(o.error.find("\\x16"), std::string::npos) << o.error;
}

TEST(ResponseParser, BadContentLength) {
  for (const char* v :
       {"abc", "-1", "+5", "5 5", "99999999999999999999", "18446744073709551616", "0x10", ""}) {
    const std::string r = std::string("HTTP/1.1 200 OK\r\nContent-Length: ") + v + "\r\n\r\n";
    Outcome o = parse_error(r);
    EXPECT_NE(o.error.find("bad Content-Length"), std::string::npos) << v << " -> " << o.error;
  }
}

TEST(ResponseParser, ConflictingContentLength) {
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").error,
            "two different Content-Length values, 5 and 6");
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n").error,
            "two different Content-Length values, 5 and 6");
  // A bad value is reported as bad, not as a conflict.
  EXPECT_EQ(parse_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: x\r\n\r\n").error,
            "bad Content-Length \"x\"");
}

TEST(ResponseParser, EndlessInterimResponsesAreAnError) {
  std::string data;
  for (int i = 0; i <= ResponseParser::kMaxInterim; ++i) data += "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(whole(data).error, "more than 32 interim (1xx) responses");
  // Up to the limit they are skipped.
  data.resize(data.size() / (ResponseParser::kMaxInterim + 1) * ResponseParser::kMaxInterim);
  EXPECT_EQ(whole(data + kSimple).status, Status::kDone);
}

TEST(ResponseParser, OtherProtocolsAreNamed) {
  EXPECT_NE(whole("HTTP/2 200\r\n\r\n").error.find("(HTTP/1.1 only)"), std::string::npos);
  EXPECT_NE(whole("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").error.find("HTTP/2 connection preface"),
            std::string::npos);
  // An HTTP/2 SETTINGS frame: length 6, type 4, flags 0, stream 0.
  const std::string settings("\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64", 15);
  EXPECT_NE(whole(settings).error.find("looks like an HTTP/2 frame"), std::string::npos)
      << whole(settings).error;
  const std::string alert("\x15\x03\x03\x00\x02\x02\x46", 7);
  EXPECT_NE(whole(alert).error.find("looks like TLS"), std::string::npos) << whole(alert).error;
  EXPECT_NE(whole("SSH-2.0-x\r\n").error.find("(not HTTP)"), std::string::npos);
}

TEST(ResponseParser, ProgressSaysHowFarAResponseGot) {
  ResponseParser p;
  p.reset(false, false);
  EXPECT_EQ(p.progress(), "before any response byte");
  std::size_t used = 0;
  std::string part = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n";
  p.feed(part.data(), part.size(), &used);
  EXPECT_EQ(p.progress(), "in the headers of a 200 response");
  part = "\r\nabc";
  p.feed(part.data(), part.size(), &used);
  EXPECT_EQ(p.progress(), "200 status, 3 of 10 body bytes");
}

std::string fmt_chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

// Feeds a response with a body of `size` bytes in 1000-byte pieces.
void feed_body(ResponseParser& p, std::size_t size, bool chunked = false) {
  std::string head =
      chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              : "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
  std::size_t used = 0;
  ASSERT_EQ(p.feed(head.data(), head.size(), &used), Status::kNeedMore);
  const std::string piece(1000, 'b');
  for (std::size_t sent = 0; sent < size; sent += piece.size()) {
    const std::size_t n = std::min(piece.size(), size - sent);
    std::string data = chunked ? fmt_chunk(piece.substr(0, n)) : piece.substr(0, n);
    p.feed(data.data(), data.size(), &used);
  }
  if (chunked) p.feed("0\r\n\r\n", 5, &used);
}

TEST(ResponseParser, BodyOverItsCapIsCountedNotKept) {
  for (bool chunked : {false, true}) {
    ResponseParser p;
    KeptBodies pool{1'000'000, 0};
    p.reset(false, true, 4500, &pool);
    feed_body(p, 10'000, chunked);
    EXPECT_TRUE(p.error().empty()) << p.error();
    EXPECT_EQ(p.body_bytes(), 10'000u);
    EXPECT_TRUE(p.body().empty());
    EXPECT_EQ(p.body().capacity() < 1000, true);  // the memory went too
    EXPECT_EQ(p.body_dropped(), BodyDrop::kOverCap);
    EXPECT_EQ(p.body_limit(), 4500u);
    EXPECT_EQ(pool.held, 0u);
  }
  // At the cap exactly, kept.
  ResponseParser p;
  p.reset(false, true, 4000);
  feed_body(p, 4000);
  EXPECT_EQ(p.body().size(), 4000u);
  EXPECT_EQ(p.body_dropped(), BodyDrop::kNone);
}

TEST(ResponseParser, PoolBoundsBodiesKeptAtOnce) {
  KeptBodies pool{5000, 0};
  ResponseParser a, b, c;
  a.reset(false, true, 4000, &pool);
  b.reset(false, true, 4000, &pool);
  feed_body(a, 3000);
  EXPECT_EQ(pool.held, 3000u);
  feed_body(b, 3000);  // 6000 would be over 5000
  EXPECT_EQ(a.body().size(), 3000u);
  EXPECT_EQ(b.body_dropped(), BodyDrop::kOverTotal);
  EXPECT_EQ(b.body_limit(), 5000u);
  EXPECT_EQ(b.body_bytes(), 3000u);
  EXPECT_EQ(pool.held, 3000u);
  a.release();
  EXPECT_EQ(pool.held, 0u);
  a.release();  // twice is harmless
  EXPECT_EQ(pool.held, 0u);
  // A response whose own cap is over the pool's limit may fill it alone.
  c.reset(false, true, 8000, &pool);
  feed_body(c, 7000);
  EXPECT_EQ(c.body().size(), 7000u);
  EXPECT_EQ(pool.held, 7000u);
  c.reset(false, true, 8000, &pool);  // the next response gives it back
  EXPECT_EQ(pool.held, 0u);
}

TEST(ResponseParser, BadChunkSize) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* c : {"zz\r\n", "\r\n", "-1\r\n", "5x\r\nhello\r\n", "0x5\r\n"}) {
    Outcome o = parse_error(head + c);
    EXPECT_NE(o.error.find("bad chunk size"), std::string::npos) << c << " -> " << o.error;
  }
  EXPECT_NE(parse_error(head + "10000000000000000\r\n").error.find("overflows"), std::string::npos);
  EXPECT_NE(parse_error(head + "3\r\nabcX\r\n").error.find("missing CRLF after chunk data"),
            std::string::npos);
  EXPECT_NE(parse_error(head + std::string(5000, '1')).error.find("chunk size line over"),
            std::string::npos);
}

TEST(ResponseParser, HeaderWithoutColon) {
  Outcome o = parse_error("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n");
  EXPECT_NE(o.error.find("header line without colon \"NoColonHere\""), std::string::npos)
      << o.error;
  EXPECT_NE(parse_error("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").error.find("bad header name"),
            std::string::npos);
  EXPECT_NE(parse_error("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n").error.find("folded"),
            std::string::npos);
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\r\n\r\n";
  EXPECT_NE(parse_error(chunked).error.find("trailer line without colon"), std::string::npos);
}

TEST(ResponseParser, HeaderSectionTooLarge) {
  const std::string big =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(ResponseParser::kMaxHeaderBytes, 'a') +
      "\r\nContent-Length: 0\r\n\r\n";
  for (std::size_t split : {std::size_t{0}, std::size_t{20}, big.size() / 2}) {
    Outcome o = run(big, {split});
    EXPECT_EQ(o.status, Status::kError);
    EXPECT_NE(o.error.find("header section over 65536 bytes"), std::string::npos) << o.error;
  }
  // Many small headers add up too.
  std::string many = "HTTP/1.1 200 OK\r\n";
  while (many.size() <= ResponseParser::kMaxHeaderBytes) many += "X-Header: some value here\r\n";
  EXPECT_EQ(whole(many + "\r\n").status, Status::kError);
}

TEST(ResponseParser, Unexpected101) {
  EXPECT_NE(
      parse_error("HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\n\r\n").error.find("101"),
      std::string::npos);
}

TEST(ResponseParser, TruncatedAtEof) {
  struct Case {
    std::string data;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"", "before any response byte"},
      {"HTTP/1.1 200", "in the status line"},
      {"HTTP/1.1 200 OK\r\nContent-Le", "in the response headers"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", "after 2 of 5 body bytes"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "chunked body after 3"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "in the response headers"},
  };
  for (const auto& c : cases) {
    Outcome o = parse_every_way(c.data, /*eof=*/true);
    EXPECT_EQ(o.status, Status::kError) << c.data;
    EXPECT_NE(o.error.find(c.message), std::string::npos) << c.data << " -> " << o.error;
  }
}

TEST(ResponseParser, ResetClearsError) {
  ResponseParser p;
  p.reset(false, true);
  std::size_t used = 0;
  ASSERT_EQ(p.feed("junk\r\n", 6, &used), Status::kError);
  p.reset(false, true);
  EXPECT_TRUE(p.error().empty());
  ASSERT_EQ(p.feed(kSimple.data(), kSimple.size(), &used), Status::kDone);
  EXPECT_EQ(p.body(), "hello");
}

}  // namespace
}  // namespace loadpilot::http
