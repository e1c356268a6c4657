#pragma once
// Client: an HTTP/1.1 client bound to one Target and one io_context (one
// worker thread). It keeps a pool of keep-alive connections, opens new ones
// up to max_connections, and queues requests when all are busy.
//
// Thread-safety: none. Every call, and every callback, happens on the
// io_context's thread. Ownership: the Client must outlive its callbacks'
// invocation; close() fails queued and in-flight requests (kReset, "shutdown")
// and ends all connections.
//
// Redirects are not followed: a 3xx response is a result like any other
// (the Python runtime follows them over this client when a call asks,
// docs/scenarios.md#redirects).
//
// Retries (RFC 9110 9.2.2). A server may close an idle keep-alive
// connection just as a request is written on it. Before reusing a
// connection for a request that is not idempotent, or one idle for a while,
// the client checks that the server has not closed it (nor sent bytes
// nobody asked for) and opens a new one if it has; that request never
// reached the wire, so it is not a retry. Once written, an idempotent
// request (GET, HEAD, OPTIONS, TRACE, PUT, DELETE) that fails on a reused
// connection before any response byte is sent again once, on a new
// connection; Result::retries counts it. Any other method (POST, PATCH...)
// is sent again only if none of its bytes was written: the server may have
// acted on it, so the failure is the result.
//
// Kept responses (keep_response): a body is kept up to max_kept_body bytes
// (or the per-request cap given to send()), and all bodies being received
// at once up to max_kept_total bytes (a single response whose own cap is
// larger may fill it alone). A body over either is read to its end and
// discarded: the request succeeds, body_bytes counts it, Result::body is
// empty and Result::body_dropped says why.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/error_kind.h"
#include "http/response_parser.h"
#include "http/target.h"

namespace loadpilot::http {

class Http2Client;
struct Http2Request;

// Which HTTP a client speaks (docs/protocols.md#choosing-http2).
enum class HttpVersion : std::uint8_t {
  kAuto,  // https: HTTP/2 when the server offers h2 in ALPN, else 1.1; http: 1.1
  k1_1,   // HTTP/1.1 only
  k2,     // HTTP/2 only: ALPN h2 over TLS, prior knowledge (h2c) over TCP
};

struct ClientOptions {
  std::size_t max_connections = 64;
  HttpVersion http_version = HttpVersion::kAuto;
  // HTTP/2: most streams in flight per connection (0: the server's
  // MAX_CONCURRENT_STREAMS, at most Http2Session::kDefaultMaxStreams).
  std::uint32_t max_streams = 0;
  std::chrono::milliseconds timeout{30000};  // connect, and whole request
  bool insecure = false;                     // skip TLS certificate checks
  bool keep_response = false;                // keep headers and body in Result
  std::uint64_t max_kept_body = ResponseParser::kDefaultKeptBody;       // per response
  std::uint64_t max_kept_total = 8 * ResponseParser::kDefaultKeptBody;  // all at once
};

struct Result {
  std::optional<metrics::ErrorKind> error;  // transport/protocol failure
  std::string error_message;                // set with error
  int status = 0;                           // valid when !error
  std::uint64_t body_bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // when keep_response
  std::string body;                                          // when keep_response
  // HTTP/2: the trailers (a HEADERS frame after the body), when
  // keep_response; gRPC's status is there (grpc/framing.h).
  std::vector<std::pair<std::string, std::string>> trailers;
  // keep_response: why the body was discarded instead of kept (body is then
  // empty) and the limit, in bytes, that it would have passed.
  BodyDrop body_dropped = BodyDrop::kNone;
  std::uint64_t body_limit = 0;
  // How many extra attempts of this request reached the wire (0 or 1): the
  // server may have seen the request 1 + retries times.
  std::uint32_t retries = 0;
  int http_version = 11;  // the response's: 11 (HTTP/1.1) or 20 (HTTP/2)
  // HTTP bytes (TLS framing not included) written for the request and read
  // for its response, over every attempt: what a run put on and took off
  // the wire (docs/output.md#status-classes-and-bytes).
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  // "METHOD /path" of a response with status >= 400, for its error message
  // (request_label()); empty otherwise.
  std::string request_line;
  std::chrono::steady_clock::time_point sent_at;  // first byte written
  std::chrono::steady_clock::time_point done_at;  // response complete / failure
};

// How a finished request failed, if it did: its transport error, else
// http_4xx / http_5xx for a status of 400 or more. `message` gets the
// error's message or "HTTP <status> <request_line>", e.g. "HTTP 404 GET
// /v2/api/products" (untouched on success).
std::optional<metrics::ErrorKind> failure_of(const Result& r, std::string* message);

// "METHOD /path" of a raw request (its first line) for an error message:
// the query and fragment left out, every path segment that is an id (all
// digits, or 16+ hex digits and dashes such as a UUID) written {id}, the
// path cut at 120 characters. So a route gives one message however many
// ids it is called with: the message table is bounded
// (metrics::ErrorMessages). "" when the text is no request line.
std::string request_label(std::string_view raw_request);

class Client {
 public:
  using Callback = std::function<void(Result&&)>;

  Client(boost::asio::io_context& io, Target target, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one serialised request (see build_request); its method, read from
  // its first bytes, decides whether it may be retried. `head`: a HEAD
  // request (its response has no body). `max_kept_body`: this request's cap
  // on a kept body (0: the options' max_kept_body). `cb` is called exactly
  // once.
  void send(std::shared_ptr<const std::string> request, bool head, Callback cb,
            std::uint64_t max_kept_body = 0);

  std::size_t open_connections() const;
  // HTTP/1.1: connections carrying a request; HTTP/2: streams in flight.
  std::size_t busy_connections() const;
  std::size_t queued() const;
  // Requests it can carry at once: max_connections, times the streams per
  // connection over HTTP/2.
  std::size_t capacity() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  // Set when the client speaks HTTP/2 (http2_client.h): from the start
  // for http_version 2 or an https target in auto; dropped again in auto
  // when the server's ALPN chose HTTP/1.1.
  std::unique_ptr<Http2Client> h2_;
  bool use_h2_ = false;
  void fall_back(std::vector<Http2Request>&& queued);
};

}  // namespace loadpilot::http
