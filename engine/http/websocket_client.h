#pragma once
// WebSocketClient: one WebSocket connection (RFC 6455) to the run's target,
// on Boost.Beast's websocket stream under one io_context (the Python
// thread's, docs/protocols.md#websocket). ws:// for an http:// target,
// wss:// (OpenSSL, the run's --insecure) for an https:// one.
//
// Every operation reports once, through its callback, on the io_context's
// thread. At most one receive() and one close() are pending at a time;
// send()s queue and are written in order, one at a time (Beast allows one
// write in flight).
//
// Bounds, so that a hostile peer cannot hold a run or its memory:
//  - open(): TCP connect, TLS and the upgrade must finish within
//    options.handshake_timeout, else it fails as kTimeout;
//  - a message larger than options.max_message is refused from its frame
//    header (Beast's read_message_max), before its payload is read: the
//    receive fails as kProtocol and the connection is dropped;
//  - close(): the peer must answer the close frame within
//    options.close_timeout, else the socket is closed and the close reports
//    that the peer did not answer;
//  - a receive() has no limit of its own (the caller's timeout decides how
//    long to wait; the read stays pending and a later receive() gets its
//    message): abort() ends everything at once.
//
// Errors by kind (metrics::ErrorKind): connect (TCP, TLS or a refused
// upgrade: Result::status is then the HTTP status the server answered),
// timeout, reset (the peer closed the connection or sent a close frame:
// Result::close_code) and protocol (bad framing, a message over the limit).
//
// Ownership: hold it by shared_ptr (create()); pending operations keep it
// alive until they report. Thread-safety: none.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/target.h"
#include "http/error_kind.h"

namespace loadpilot::http {

struct WebSocketOptions {
  std::chrono::milliseconds handshake_timeout{30000};  // connect + TLS + upgrade
  std::chrono::milliseconds close_timeout{5000};       // the peer's close answer
  std::uint64_t max_message = 16 * 1024 * 1024;        // bytes of one received message
  bool insecure = false;                               // wss://: skip certificate checks
};

// The close code recorded for a connection that ended without a close frame
// (RFC 6455 7.4.1: 1006, never sent on the wire).
inline constexpr std::uint16_t kCloseAbnormal = 1006;

class WebSocketClient : public std::enable_shared_from_this<WebSocketClient> {
 public:
  struct Result {
    std::optional<metrics::ErrorKind> error;
    std::string error_message;
    int status = 0;                // open(): the HTTP status of the upgrade answer
    std::string data;              // receive(): the message
    bool binary = false;           // receive(): a binary (not text) message
    std::uint16_t close_code = 0;  // close(), or a receive() ended by a close frame
    std::string close_reason;
    bool peer_answered = true;  // close(): the peer sent its close frame back
    std::chrono::steady_clock::time_point started_at, done_at;
  };
  using Callback = std::function<void(Result&&)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // TLS: the context wss:// connections use (required for an https
  // target; owned by the caller, outliving the client).
  static std::shared_ptr<WebSocketClient> create(boost::asio::io_context& io,
                                                 boost::asio::ssl::context* tls,
                                                 const Target& target, WebSocketOptions options);
  virtual ~WebSocketClient() = default;

  // Connects and upgrades PATH (relative to the target's base path) with
  // HEADERS added to the upgrade request. Call once.
  virtual void open(const std::string& path, const Headers& headers, Callback cb) = 0;
  // Queues one message; CB when it was written (or failed).
  virtual void send(std::string data, bool binary, Callback cb) = 0;
  // The next message. One at a time.
  virtual void receive(Callback cb) = 0;
  // Sends a close frame with CODE and waits for the peer's.
  virtual void close(std::uint16_t code, Callback cb) = 0;
  // Ends the connection at once; pending operations fail (kReset, "aborted").
  virtual void abort() = 0;
  // open() succeeded and the connection has not ended.
  virtual bool is_open() const = 0;
};

// A TLS client context for wss:// (verification off with INSECURE, else the
// system's CA paths; the host name is checked per connection).
std::unique_ptr<boost::asio::ssl::context> websocket_tls_context(bool insecure);

// "ws://host:port/base/path" for a target and a path, as messages show it.
std::string websocket_url(const Target& target, const std::string& path);

}  // namespace loadpilot::http
