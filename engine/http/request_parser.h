#pragma once
// RequestParser: finds and parses one HTTP/1.x request (head and a
// Content-Length body) at the start of a connection's read buffer.
//
// Written by hand because its users (the demo server, the coordinator
// service's API) only need the request line, a few headers and body
// framing, and it parses in place with no allocation. Strict
// where framing is at stake (Content-Length, Transfer-Encoding, bare CR,
// header folding), lenient where it is harmless (bare LF line ends, empty
// lines before the request line, no Host header).
//
// Thread-safety: none; one parser per connection.
#include <cstddef>
#include <string_view>

namespace loadpilot::http {

struct Request {
  std::string_view method;  // views into the buffer given to parse()
  std::string_view target;  // as sent: origin-form or absolute-form
  int minor_version = 1;    // HTTP/1.<minor>
  bool keep_alive = true;   // after Connection and the version are considered
  // "Expect: 100-continue" from an HTTP/1.1 client: it may wait for an
  // interim 100 before sending the body. Set from kNeedMore on once the head
  // is complete.
  bool expect_continue = false;
  // The Authorization header's value, trimmed; empty when absent (the
  // coordinator service checks its bearer token: cluster/service/service.h).
  std::string_view authorization;
  // The X-Demo-Tag header's value, trimmed; empty when absent. demo-api's
  // /stats counts requests by it, so a test can tell whose traffic it got.
  std::string_view tag;
  // The declared body size. With method and target, set once the head is
  // complete, also when parse() still waits for the body (kNeedMore), so a
  // server can judge the head before it reads the body.
  std::size_t content_length = 0;
  std::string_view body;
};

// The path of a request target, without its query: origin-form as is,
// absolute-form ("http://host:port/path?q", RFC 9112 3.2.2) reduced to its
// path ("/" when it has none); anything else (authority or asterisk form)
// unchanged.
std::string_view target_path(std::string_view target);

class RequestParser {
 public:
  enum class Result { kNeedMore, kDone, kError };

  static constexpr std::size_t kMaxHeadBytes = 16 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

  // Bodies above max_body are refused with 413 before they are read.
  explicit RequestParser(std::size_t max_body = kMaxBodyBytes) : max_body_(max_body) {}

  // Looks at a buffer that starts where the previous request ended.
  // kDone: *request views into data, *consumed is the request's size.
  // kNeedMore: call again with the same bytes plus more.
  // kError: error_status() is the status to answer before closing.
  Result parse(std::string_view data, Request* request, std::size_t* consumed);

  // Status for the last kError: 400, 411, 413, 431 or 505.
  int error_status() const { return error_status_; }

  // Forgets the scan position; call after kDone before parsing what follows.
  void reset() { scanned_ = 0; }

 private:
  Result fail(int status) {
    error_status_ = status;
    return Result::kError;
  }
  Result parse_head(std::string_view head, Request* request, std::size_t* body_length);

  std::size_t max_body_;
  std::size_t scanned_ = 0;  // bytes known to hold no complete line of an unfinished head
  int error_status_ = 400;
};

}  // namespace loadpilot::http
