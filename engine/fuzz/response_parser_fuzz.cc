// Fuzz target: http::ResponseParser (engine/http/response_parser.h), the
// client's parser of what a server under test sends back.
//
// Input: a flags byte (bit 0: the request was HEAD; bit 1: keep headers and
// body), a seed byte for read sizes, then the bytes the server sends, which
// may hold several pipelined responses.
//
// Invariants:
//  * feed() never reports consuming more than it was given, and kNeedMore
//    means it consumed everything;
//  * once kDone or kError, feed() consumes nothing and repeats the status
//    until reset();
//  * the outcome does not depend on how the bytes arrive: fed in one call
//    per response and fed in fuzzer-chosen pieces (each piece in a buffer
//    freed right after the call, so a kept pointer into it is a
//    use-after-free), the parser gives the same responses: status, status
//    code, keep-alive, body size, kept headers and body, and where each
//    response ends;
//  * kError carries a message; kDone has a final status 200..599 (interim
//    1xx responses are skipped); a kept body is exactly body_bytes() long.
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "http/response_parser.h"

namespace {

using loadpilot::http::ResponseParser;
using Status = ResponseParser::Status;

constexpr std::size_t kMaxResponses = 16;

struct Response {
  Status status = Status::kNeedMore;
  bool at_eof = false;  // completed (or failed) by on_eof()
  std::size_t end = 0;  // offset just past the response (kDone only)
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body_bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  bool operator==(const Response&) const = default;
};

const char* name(Status s) {
  return s == Status::kDone ? "done" : s == Status::kError ? "error" : "need-more";
}

std::string describe(const Response& r) {
  return std::string(name(r.status)) + (r.at_eof ? " at eof" : "") +
         " end=" + std::to_string(r.end) + " code=" + std::to_string(r.code) +
         " keep_alive=" + std::to_string(r.keep_alive) +
         " body_bytes=" + std::to_string(r.body_bytes) +
         " headers=" + std::to_string(r.headers.size());
}

// Feeds `len` bytes (copied into a buffer of their own) and checks the
// consumption contract.
Status feed_checked(ResponseParser& p, const char* data, std::size_t len, std::size_t* consumed) {
  auto copy = std::make_unique<char[]>(len + 1);
  std::memcpy(copy.get(), data, len);
  *consumed = len + 1;  // a value feed() must overwrite
  const Status st = p.feed(copy.get(), len, consumed);
  FUZZ_CHECK(*consumed <= len,
             "consumed " + std::to_string(*consumed) + " of " + std::to_string(len));
  if (st == Status::kNeedMore) FUZZ_CHECK(*consumed == len, "kNeedMore left bytes unconsumed");
  if (st != Status::kNeedMore) {
    // Finished: the parser takes nothing more until reset().
    std::size_t again = 1;
    FUZZ_CHECK(p.feed("HTTP/1.1 200 OK\r\n", 17, &again) == st && again == 0,
               "feed() after a finished response changed the outcome");
  }
  return st;
}

Response finish(ResponseParser& p, Status st, bool at_eof, std::size_t end) {
  Response r;
  r.status = st;
  r.at_eof = at_eof;
  if (st == Status::kError) {
    FUZZ_CHECK(!p.error().empty(), "kError without a message");
    return r;
  }
  FUZZ_CHECK(p.error().empty(), "kDone with an error message: " + p.error());
  FUZZ_CHECK(p.status() >= 200 && p.status() <= 599, "final status " + std::to_string(p.status()));
  r.end = end;
  r.code = p.status();
  r.keep_alive = p.keep_alive();
  r.body_bytes = p.body_bytes();
  r.headers = p.headers();
  r.body = p.body();
  return r;
}

// Parses `data` as a sequence of responses; `sizes` (null: one read per
// response) splits it into reads.
std::vector<Response> parse_all(std::string_view data, bool head, bool keep,
                                loadpilot::fuzz::ReadSizes* sizes) {
  std::vector<Response> out;
  ResponseParser p;
  std::size_t pos = 0;
  while (out.size() < kMaxResponses) {
    p.reset(head, keep);
    Status st = Status::kNeedMore;
    while (pos < data.size()) {
      const std::size_t want = sizes ? sizes->next() : data.size() - pos;
      const std::size_t len = std::min(want, data.size() - pos);
      std::size_t consumed = 0;
      st = feed_checked(p, data.data() + pos, len, &consumed);
      pos += consumed;
      if (st != Status::kNeedMore) break;
    }
    if (st == Status::kNeedMore) {
      // Everything was read and the response is not complete: the peer
      // closes the connection.
      st = p.on_eof();
      FUZZ_CHECK(st != Status::kNeedMore, "on_eof() returned kNeedMore");
      out.push_back(finish(p, st, true, pos));
      break;
    }
    FUZZ_CHECK(st != Status::kDone || out.empty() || pos > out.back().end,
               "a response of zero bytes");
    out.push_back(finish(p, st, false, pos));
    if (st == Status::kError || pos == data.size()) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  loadpilot::fuzz::FuzzInput in(data, size);
  const std::uint8_t flags = in.byte();
  const bool head = flags & 1;
  const bool keep = flags & 2;
  loadpilot::fuzz::ReadSizes sizes(in.byte());
  const std::string_view bytes = in.rest();

  const std::vector<Response> whole = parse_all(bytes, head, keep, nullptr);
  const std::vector<Response> pieces = parse_all(bytes, head, keep, &sizes);
  FUZZ_CHECK(whole.size() == pieces.size(),
             "whole: " + std::to_string(whole.size()) +
                 " responses, in pieces: " + std::to_string(pieces.size()));
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i] == pieces[i], "response " + std::to_string(i) +
                                          " whole: " + describe(whole[i]) +
                                          "; in pieces: " + describe(pieces[i]));
    if (keep && whole[i].status == Status::kDone) {
      FUZZ_CHECK(whole[i].body.size() == whole[i].body_bytes, "kept body size != body_bytes()");
    }
  }
  return 0;
}
