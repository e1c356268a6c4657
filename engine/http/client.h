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
// Redirects are not followed: a 3xx response is a result like any other.
// A request that fails on a reused keep-alive connection before any response
// byte arrived is retried once on a new connection (the server may have
// closed the idle connection as we wrote).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/response_parser.h"
#include "http/target.h"
#include "metrics/error_kind.h"

namespace loadpilot::http {

struct ClientOptions {
  std::size_t max_connections = 64;
  std::chrono::milliseconds timeout{30000};  // connect, and whole request
  bool insecure = false;                     // skip TLS certificate checks
  bool keep_response = false;                // keep headers and body in Result
};

struct Result {
  std::optional<metrics::ErrorKind> error;  // transport/protocol failure
  std::string error_message;                // set with error
  int status = 0;                           // valid when !error
  std::uint64_t body_bytes = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // when keep_response
  std::string body;                                          // when keep_response
  std::chrono::steady_clock::time_point sent_at;             // first byte written
  std::chrono::steady_clock::time_point done_at;             // response complete / failure
  std::uint32_t retries = 0;  // extra attempts of this request that reached the wire
};

// How a finished request failed, if it did: its transport error, else
// http_4xx / http_5xx for a status of 400 or more. `message` gets the
// error's message or "HTTP <status>" (untouched on success).
std::optional<metrics::ErrorKind> failure_of(const Result& r, std::string* message);

class Client {
 public:
  using Callback = std::function<void(Result&&)>;

  Client(boost::asio::io_context& io, Target target, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one serialised request (see build_request). `head`: a HEAD request
  // (its response has no body). `cb` is called exactly once.
  void send(std::shared_ptr<const std::string> request, bool head, Callback cb);

  std::size_t open_connections() const;
  std::size_t busy_connections() const;
  std::size_t queued() const;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loadpilot::http
