// WebSocketClient over Boost.Beast. One template, Connection<Stream>, for
// ws:// (a plain tcp_stream) and wss:// (an ssl_stream over it); the
// deadlines are this file's own timers rather than Beast's timeout option,
// so that the open phase (resolve, connect, TLS, upgrade) has one limit and
// the close its own.
#include "http/websocket_client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <type_traits>

#include "http/tls_trust.h"

namespace loadpilot::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ErrorKind = metrics::ErrorKind;

using PlainStream = websocket::stream<beast::tcp_stream>;
using SecureStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

// The peer went away without a close frame (or the socket was closed here).
bool is_disconnect(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated ||
         ec == beast::error::timeout || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::error::not_connected;
}

template <class Stream>
class Connection final : public WebSocketClient {
 public:
  Connection(asio::io_context& io, ssl::context* tls, const Target& target,
             WebSocketOptions options)
      : target_(target),
        options_(options),
        resolver_(io),
        open_timer_(io),
        close_timer_(io),
        ws_(make_stream(io, tls)) {
    ws_.read_message_max(options_.max_message);
    ws_.auto_fragment(false);
  }

  void open(const std::string& path, const Headers& headers, Callback cb) override {
    open_cb_ = std::move(cb);
    started_ = Clock::now();
    url_ = websocket_url(target_, path);
    resource_ = target_.base_path + (path.empty() || path[0] != '/' ? "/" : "") + path;
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "loadpilot");
      for (const auto& [name, value] : headers) req.set(name, value);
    }));
    auto self = shared();
    open_timer_.expires_after(options_.handshake_timeout);
    open_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || !self->opening_) return;
      self->open_timed_out_ = true;
      self->close_socket();
    });
    opening_ = true;
    resolver_.async_resolve(
        target_.host, std::to_string(target_.port),
        [self](const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
          if (ec) return self->open_failed(ec, "cannot resolve the host");
          self->connect(results);
        });
  }

  void send(std::string data, bool binary, Callback cb) override {
    Result r;
    r.started_at = Clock::now();
    if (!open_) {
      r.error = ErrorKind::kReset;
      r.error_message = "send on a WebSocket that is not open";
      r.done_at = r.started_at;
      return cb(std::move(r));
    }
    writes_.push_back(Write{std::move(data), binary, std::move(cb), r.started_at});
    if (writes_.size() == 1) write_next();
  }

  void receive(Callback cb) override {
    Result r;
    r.started_at = Clock::now();
    if (!open_) {
      r.error = ErrorKind::kReset;
      r.error_message = ended_ ? ended_message_ : "receive on a WebSocket that is not open";
      r.close_code = ended_code_;
      r.done_at = r.started_at;
      return cb(std::move(r));
    }
    read_buffer_.clear();
    ws_.async_read(read_buffer_, [self = shared(), cb = std::move(cb), started = r.started_at](
                                     const boost::system::error_code& ec, std::size_t) mutable {
      Result out;
      out.started_at = started;
      out.done_at = Clock::now();
      if (ec) {
        self->failed(ec, out);
      } else {
        out.binary = !self->ws_.got_text();
        out.data = beast::buffers_to_string(self->read_buffer_.data());
        self->read_buffer_.clear();
      }
      cb(std::move(out));
    });
  }

  void close(std::uint16_t code, Callback cb) override {
    Result r;
    r.started_at = Clock::now();
    if (!open_ || closing_) {
      r.close_code = ended_ ? ended_code_ : kCloseAbnormal;
      r.peer_answered = false;
      r.done_at = r.started_at;
      return cb(std::move(r));
    }
    closing_ = true;
    auto self = shared();
    close_timer_.expires_after(options_.close_timeout);
    close_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || !self->closing_) return;
      self->close_timed_out_ = true;
      self->close_socket();
    });
    ws_.async_close(
        websocket::close_reason(code), [self, cb = std::move(cb), started = r.started_at,
                                        code](const boost::system::error_code& ec) mutable {
          self->closing_ = false;
          self->close_timer_.cancel();
          Result out;
          out.started_at = started;
          out.done_at = Clock::now();
          if (!ec) {
            const websocket::close_reason& reason = self->ws_.reason();
            out.close_code = reason.code ? reason.code : code;
            out.close_reason = std::string(reason.reason.data(), reason.reason.size());
          } else {
            out.peer_answered = false;
            out.close_code = kCloseAbnormal;
            if (self->close_timed_out_) {
              out.error = ErrorKind::kTimeout;
              out.error_message =
                  fmt::format("WebSocket peer did not answer the close within {:g} s",
                              std::chrono::duration<double>(self->options_.close_timeout).count());
            }
          }
          self->end(out.close_code, "WebSocket closed");
          self->close_socket();
          cb(std::move(out));
        });
  }

  void abort() override {
    aborted_ = true;
    opening_ = false;
    open_timer_.cancel();
    close_timer_.cancel();
    resolver_.cancel();
    end(kCloseAbnormal, "WebSocket aborted");
    close_socket();
  }

  bool is_open() const override { return open_; }

 private:
  struct Write {
    std::string data;
    bool binary;
    Callback cb;
    Clock::time_point started;
  };

  static Stream make_stream(asio::io_context& io, ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, SecureStream>) {
      return Stream(io, *tls);
    } else {
      (void)tls;
      return Stream(io);
    }
  }

  std::shared_ptr<Connection> shared() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  void connect(const tcp::resolver::results_type& results) {
    beast::get_lowest_layer(ws_).async_connect(
        results, [self = shared()](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (ec) return self->open_failed(ec, "cannot connect");
          boost::system::error_code ignored;
          beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true), ignored);
          self->secure();
        });
  }

  void secure() {
    if constexpr (std::is_same_v<Stream, SecureStream>) {
      auto& tls = ws_.next_layer();
      if (!SSL_set_tlsext_host_name(tls.native_handle(), target_.host.c_str())) {
        // Only a name too long for SNI fails; the handshake still runs.
      }
      if (!options_.insecure) tls.set_verify_callback(ssl::host_name_verification(target_.host));
      tls.async_handshake(ssl::stream_base::client,
                          [self = shared()](const boost::system::error_code& ec) {
                            if (ec) return self->open_failed(ec, "TLS handshake failed");
                            self->upgrade();
                          });
    } else {
      upgrade();
    }
  }

  void upgrade() {
    ws_.async_handshake(response_, target_.host_header, resource_,
                        [self = shared()](const boost::system::error_code& ec) {
                          if (ec) return self->open_failed(ec, "upgrade failed");
                          self->opening_ = false;
                          self->open_timer_.cancel();
                          self->open_ = true;
                          Result r;
                          r.status = static_cast<int>(self->response_.result_int());
                          r.started_at = self->started_;
                          r.done_at = Clock::now();
                          self->finish_open(std::move(r));
                        });
  }

  void open_failed(const boost::system::error_code& ec, std::string_view what) {
    opening_ = false;
    open_timer_.cancel();
    Result r;
    r.started_at = started_;
    r.done_at = Clock::now();
    if (open_timed_out_) {
      r.error = ErrorKind::kTimeout;
      r.error_message =
          fmt::format("WebSocket open of {} took over {:g} s", url_,
                      std::chrono::duration<double>(options_.handshake_timeout).count());
    } else if (aborted_) {
      r.error = ErrorKind::kReset;
      r.error_message = "WebSocket aborted";
    } else if (ec == websocket::error::upgrade_declined) {
      r.error = ErrorKind::kConnect;
      r.status = static_cast<int>(response_.result_int());
      r.error_message = fmt::format("WebSocket upgrade refused: HTTP {} {}", r.status, url_);
    } else {
      r.error = ErrorKind::kConnect;
      r.error_message = fmt::format("WebSocket {} ({}): {}", what, url_, ec.message());
    }
    end(kCloseAbnormal, r.error_message);
    close_socket();
    finish_open(std::move(r));
  }

  void finish_open(Result&& r) {
    Callback cb = std::move(open_cb_);
    open_cb_ = nullptr;
    if (cb) cb(std::move(r));
  }

  void write_next() {
    Write& w = writes_.front();
    ws_.binary(w.binary);
    ws_.async_write(asio::buffer(w.data),
                    [self = shared()](const boost::system::error_code& ec, std::size_t) {
                      Write done = std::move(self->writes_.front());
                      self->writes_.pop_front();
                      Result r;
                      r.started_at = done.started;
                      r.done_at = Clock::now();
                      if (ec) {
                        self->failed(ec, r);
                        // The connection is gone: every queued message fails alike.
                        std::deque<Write> rest;
                        rest.swap(self->writes_);
                        done.cb(Result(r));
                        for (Write& w : rest) w.cb(Result(r));
                        return;
                      }
                      done.cb(std::move(r));
                      if (!self->writes_.empty()) self->write_next();
                    });
  }

  // Fills R from a failed read or write and ends the connection.
  void failed(const boost::system::error_code& ec, Result& r) {
    if (ec == websocket::error::closed) {
      const websocket::close_reason& reason = ws_.reason();
      r.error = ErrorKind::kReset;
      r.close_code = reason.code ? reason.code : static_cast<std::uint16_t>(1005);
      r.close_reason = std::string(reason.reason.data(), reason.reason.size());
      r.error_message = fmt::format("WebSocket closed by peer (code {})", r.close_code);
    } else if (ec == websocket::error::message_too_big) {
      r.error = ErrorKind::kProtocol;
      r.close_code = kCloseAbnormal;
      r.error_message =
          fmt::format("WebSocket message larger than max_message={} bytes", options_.max_message);
    } else if (aborted_ || ended_) {
      r.error = ErrorKind::kReset;
      r.close_code = ended_code_;
      r.error_message = ended_message_;
    } else if (is_disconnect(ec)) {
      r.error = ErrorKind::kReset;
      r.close_code = kCloseAbnormal;
      r.error_message = "WebSocket connection closed by peer without a close frame";
    } else {
      r.error = ErrorKind::kProtocol;
      r.close_code = kCloseAbnormal;
      r.error_message = fmt::format("WebSocket protocol error: {}", ec.message());
    }
    end(r.close_code, r.error_message);
    if (!closing_) close_socket();
  }

  void end(std::uint16_t code, const std::string& message) {
    open_ = false;
    if (ended_) return;
    ended_ = true;
    ended_code_ = code;
    ended_message_ = message;
  }

  void close_socket() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  Target target_;
  WebSocketOptions options_;
  tcp::resolver resolver_;
  asio::steady_timer open_timer_, close_timer_;
  Stream ws_;
  websocket::response_type response_;
  beast::flat_buffer read_buffer_;
  std::deque<Write> writes_;
  Callback open_cb_;
  Clock::time_point started_;
  std::string url_, resource_;
  bool opening_ = false, open_ = false, closing_ = false, aborted_ = false;
  bool open_timed_out_ = false, close_timed_out_ = false;
  bool ended_ = false;  // the connection ended (ended_code_, ended_message_ say how)
  std::uint16_t ended_code_ = 0;
  std::string ended_message_;
};

}  // namespace

std::shared_ptr<WebSocketClient> WebSocketClient::create(asio::io_context& io, ssl::context* tls,
                                                         const Target& target,
                                                         WebSocketOptions options) {
  if (target.tls()) return std::make_shared<Connection<SecureStream>>(io, tls, target, options);
  return std::make_shared<Connection<PlainStream>>(io, tls, target, options);
}

std::unique_ptr<ssl::context> websocket_tls_context(bool insecure) {
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3);
  if (insecure) {
    tls->set_verify_mode(ssl::verify_none);
  } else {
    trust_system_roots(*tls);
    tls->set_verify_mode(ssl::verify_peer);
  }
  return tls;
}

std::string websocket_url(const Target& target, const std::string& path) {
  return fmt::format("{}://{}{}{}{}", target.tls() ? "wss" : "ws", target.host_header,
                     target.base_path, path.empty() || path[0] != '/' ? "/" : "", path);
}

}  // namespace loadpilot::http
