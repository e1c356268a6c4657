#pragma once
// The demo server's HTTP/2 side, on nghttp2's server session: the same
// routes, counts and behaviour knobs as HTTP/1.1 (demo/connection.h), one
// stream per request, each answered on its own (a held response holds only
// its stream).
//
// Cleartext: every connection starts by a look at its first bytes; the
// HTTP/2 client preface ("PRI * HTTP/2.0...", prior knowledge, h2c) makes
// it an HTTP/2 connection, anything else HTTP/1.1. TLS (`demo-api --tls`):
// a certificate made at start for localhost, 127.0.0.1 and ::1, signed by
// itself, and ALPN h2 only; a client that does not offer h2 fails the
// handshake ("no application protocol").
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>

#include "demo/connection.h"

namespace loadpilot::demo {

// Looks at the socket's first bytes (without consuming them) on the
// worker's thread: the h2 preface goes to the HTTP/2 server, anything else
// to `http1`.
void sniff_http2(Worker& worker, boost::asio::ip::tcp::socket socket,
                 std::function<void(boost::asio::ip::tcp::socket)> http1);

// A TLS server context with a fresh self-signed certificate and ALPN h2.
// Throws std::runtime_error when OpenSSL cannot make one.
std::shared_ptr<boost::asio::ssl::context> make_demo_tls_context();

// Serves `socket` over TLS (handshake, then HTTP/2) on `worker`; may be
// called from any thread.
void serve_tls_connection(Worker& worker, boost::asio::ip::tcp::socket socket,
                          boost::asio::ssl::context& tls);

}  // namespace loadpilot::demo
