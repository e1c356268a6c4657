// Fuzz target: http::RequestParser (engine/http/request_parser.h), the
// demo server's parser of what a client sends.
//
// Input: a seed byte for read sizes, then the bytes a client sends, which
// may hold several pipelined requests.
//
// Invariants:
//  * kDone: *consumed is within the bytes given and covers at least one
//    byte; method, target and body are views into those bytes; the method
//    is a token, the target holds no space or control byte, the minor
//    version is 0 or 1, and the body ends where the request ends;
//  * kError: error_status() is one of 400, 411, 413, 431, 505;
//  * kNeedMore only while the request can still fit kMaxHeadBytes +
//    kMaxBodyBytes, so the server's bounded buffer never waits for bytes it
//    has no room for;
//  * the outcome does not depend on how the bytes arrive: parsing the whole
//    input and parsing it as the server does (the same bytes plus a few
//    more each time, each call on a fresh copy) give the same requests, in
//    the same places, and the same final status.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "http/ascii.h"
#include "http/request_parser.h"

namespace {

using loadpilot::http::Request;
using loadpilot::http::RequestParser;
using Result = RequestParser::Result;

constexpr std::size_t kMaxRequests = 16;

struct Parsed {
  Result result = Result::kNeedMore;
  int error_status = 0;
  std::size_t begin = 0, end = 0;  // where the request lies in the input
  std::string method, target, body;
  int minor_version = 0;
  bool keep_alive = false;
  bool expect_continue = false;

  bool operator==(const Parsed&) const = default;
};

std::string describe(const Parsed& p) {
  const char* r = p.result == Result::kDone    ? "done"
                  : p.result == Result::kError ? "error"
                                               : "need-more";
  return std::string(r) + " status=" + std::to_string(p.error_status) + " [" +
         std::to_string(p.begin) + "," + std::to_string(p.end) + ") " + p.method + " " + p.target +
         " body=" + std::to_string(p.body.size());
}

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// One call to parse() on a private copy of `bytes`, with the contract checks.
Parsed parse_once(RequestParser& parser, std::string_view bytes, std::size_t begin) {
  auto copy = std::make_unique<char[]>(bytes.size() + 1);
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  const std::string_view data(copy.get(), bytes.size());
  Request req;
  std::size_t consumed = data.size() + 1;
  Parsed p;
  p.result = parser.parse(data, &req, &consumed);
  p.begin = begin;
  if (p.result == Result::kNeedMore) {
    FUZZ_CHECK(data.size() < RequestParser::kMaxHeadBytes + RequestParser::kMaxBodyBytes,
               "waiting for more after " + std::to_string(data.size()) + " bytes");
    return p;
  }
  if (p.result == Result::kError) {
    p.error_status = parser.error_status();
    const int s = p.error_status;
    FUZZ_CHECK(s == 400 || s == 411 || s == 413 || s == 431 || s == 505,
               "error status " + std::to_string(s));
    return p;
  }
  FUZZ_CHECK(consumed >= 1 && consumed <= data.size(),
             "consumed " + std::to_string(consumed) + " of " + std::to_string(data.size()));
  const std::string_view request = data.substr(0, consumed);
  FUZZ_CHECK(
      within(req.method, request) && within(req.target, request) && within(req.body, request),
      "a view outside the request's bytes");
  FUZZ_CHECK(!req.method.empty(), "empty method");
  for (char c : req.method)
    FUZZ_CHECK(loadpilot::http::is_tchar(c), "method " + std::string(req.method));
  FUZZ_CHECK(!req.target.empty(), "empty target");
  for (char c : req.target) {
    FUZZ_CHECK(static_cast<unsigned char>(c) > ' ' && static_cast<unsigned char>(c) < 0x7f,
               "control byte or space in the target");
  }
  FUZZ_CHECK(req.minor_version == 0 || req.minor_version == 1, "minor version");
  FUZZ_CHECK(req.body.size() <= RequestParser::kMaxBodyBytes, "body over the limit");
  FUZZ_CHECK(req.body.empty() || req.body.data() + req.body.size() == request.data() + consumed,
             "the body does not end where the request ends");
  p.end = begin + consumed;
  p.method = req.method;
  p.target = req.target;
  p.body = req.body;
  p.minor_version = req.minor_version;
  p.keep_alive = req.keep_alive;
  p.expect_continue = req.expect_continue;
  return p;
}

// Parses `input` as the server does. `sizes` null: all bytes are there from
// the start; else they arrive in reads of the sizes it gives.
std::vector<Parsed> parse_all(std::string_view input, loadpilot::fuzz::ReadSizes* sizes) {
  std::vector<Parsed> out;
  RequestParser parser;
  std::size_t begin = 0;
  std::size_t end = sizes ? 0 : input.size();
  while (out.size() < kMaxRequests) {
    const Parsed p = parse_once(parser, input.substr(begin, end - begin), begin);
    if (p.result == Result::kDone) {
      out.push_back(p);
      parser.reset();
      begin = p.end;
      continue;
    }
    if (p.result == Result::kError || end == input.size()) {
      out.push_back(p);
      break;
    }
    end = std::min(input.size(), end + sizes->next());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  loadpilot::fuzz::FuzzInput in(data, size);
  loadpilot::fuzz::ReadSizes sizes(in.byte());
  const std::string_view bytes = in.rest();

  const std::vector<Parsed> whole = parse_all(bytes, nullptr);
  const std::vector<Parsed> pieces = parse_all(bytes, &sizes);
  FUZZ_CHECK(whole.size() == pieces.size(),
             "whole: " + std::to_string(whole.size()) +
                 " results, in pieces: " + std::to_string(pieces.size()));
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i] == pieces[i], "result " + std::to_string(i) +
                                          " whole: " + describe(whole[i]) +
                                          "; in pieces: " + describe(pieces[i]));
  }
  return 0;
}
