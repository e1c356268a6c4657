#pragma once
// Http2Client: the HTTP/2 side of http::Client. Up to max_connections
// connections to one Target, each an Http2Session carrying up to
// stream_limit() requests at once (the server's MAX_CONCURRENT_STREAMS, or
// the run's max_streams when lower). A request goes to the open connection
// with the fewest streams in flight; a new connection is opened while
// under the limit and every open one already carries something, so load
// spreads over all connections as h2load spreads it. Requests wait in a
// FIFO when every stream of every connection is taken; the caller measures
// that wait as part of the latency (from the intended start).
//
// TLS: ALPN offers "h2" (and "http/1.1" in auto mode). When the server
// picks HTTP/1.1 in auto mode the first connection is closed unused and
// every queued request is handed to on_fallback, after which this client
// takes no more requests. In forced mode (http_version 2) a server that
// does not pick h2 fails the connection's requests with kConnect and a
// message naming ALPN. Over TCP, HTTP/2 is spoken with prior knowledge.
//
// GOAWAY: the connection takes no new streams; streams at or below the
// last-stream-id finish; those above it (and REFUSED_STREAM) were not
// processed and are sent once more on another connection. A connection
// lost with streams in flight fails exactly those (kReset); a stream the
// server resets fails as kStreamReset; a stream over the timeout is reset
// (CANCEL) and fails as kTimeout.
//
// Thread-safety: none; one io_context thread, like http::Client.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "http/client.h"
#include "http/http2_session.h"

namespace loadpilot::http {

class Http2Client {
 public:
  // `tls`: the client context for https targets (null for h2c); ALPN is
  // set on each connection. `auto_mode`: fall back to HTTP/1.1 as above.
  Http2Client(boost::asio::io_context& io, Target target, ClientOptions options,
              boost::asio::ssl::context* tls, bool auto_mode);
  ~Http2Client();
  Http2Client(const Http2Client&) = delete;
  Http2Client& operator=(const Http2Client&) = delete;

  void send(Http2Request&& r);
  std::size_t open_connections() const;
  std::size_t in_flight() const;
  std::size_t queued() const;
  std::size_t capacity() const;
  void close();

  // Auto mode: `f` is called once, when ALPN chose HTTP/1.1, with the TLS
  // connection that chose it (nothing sent on it yet) and every request not
  // yet sent (in order).
  using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  using Fallback = std::function<void(TlsStream&&, std::vector<Http2Request>&&)>;
  void set_fallback(Fallback f);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace loadpilot::http
