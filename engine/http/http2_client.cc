#include "http/http2_client.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <deque>
#include <optional>

namespace loadpilot::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using metrics::ErrorKind;

namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;
// Connections being opened at once: enough to bring up a run's few HTTP/2
// connections quickly, few enough that a host that does not answer is not
// hit by a burst of attempts.
constexpr std::size_t kMaxConnecting = 4;

// ALPN protocol lists in wire format (length-prefixed names).
constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
constexpr unsigned char kAlpnAuto[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

bool is_eof(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

}  // namespace

struct Http2Client::Impl : std::enable_shared_from_this<Http2Client::Impl> {
  struct Conn : std::enable_shared_from_this<Conn> {
    Conn(Impl& owner, asio::io_context& io, ssl::context* tls)
        : impl(&owner),
          session(owner.target, owner.session_options),
          timer(io),
          buf(new std::uint8_t[kReadBufferSize]) {
      if (tls) {
        secure.emplace(io, *tls);
      } else {
        plain.emplace(io);
      }
    }
    tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }

    Impl* impl;
    std::optional<tcp::socket> plain;
    std::optional<ssl::stream<tcp::socket>> secure;
    Http2Session session;
    asio::steady_timer timer;
    bool timer_armed = false;
    Clock::time_point connect_deadline{};
    std::unique_ptr<std::uint8_t[]> buf;
    std::string out, writing;
    bool write_busy = false;
    bool ready = false;  // connected, TLS done, HTTP/2 agreed
    bool dead = false;
    bool dirty = false;        // output may be waiting
    bool handed_over = false;  // its TLS stream went to the HTTP/1.1 client
  };
  using ConnPtr = std::shared_ptr<Conn>;

  Impl(asio::io_context& io_, Target target_, ClientOptions options_, ssl::context* tls_,
       bool auto_mode_)
      : io(io_),
        target(std::move(target_)),
        options(options_),
        tls(tls_),
        auto_mode(auto_mode_),
        resolver(io_) {
    if (options.max_connections == 0) options.max_connections = 1;
    kept.limit = options.max_kept_total;
    session_options.keep_response = options.keep_response;
    session_options.pool = &kept;
    session_options.max_streams = options.max_streams;
    session_options.timeout = options.timeout;
    const bool ipv6 = target.host.find(':') != std::string::npos;
    where = ipv6 ? fmt::format("[{}]:{}", target.host, target.port)
                 : fmt::format("{}:{}", target.host, target.port);
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(target.host, ec);
    ip_literal = !ec;
    if (ip_literal) endpoints = {tcp::endpoint(addr, target.port)};
  }

  void send(Http2Request&& r) {
    if (closed || fell_back) {
      asio::post(io, [r = std::move(r)]() mutable {
        Result res;
        res.error = ErrorKind::kReset;
        res.error_message = "client closed";
        res.done_at = res.sent_at = Clock::now();
        r.cb(std::move(res));
      });
      return;
    }
    queue.push_back(std::move(r));
    pump();
  }

  std::uint32_t stream_limit() const {
    for (const ConnPtr& c : all)
      if (c->ready && c->session.settings_received()) return c->session.stream_limit();
    const std::uint32_t cap =
        options.max_streams ? options.max_streams : Http2Session::kDefaultMaxStreams;
    return std::min<std::uint32_t>(cap, 100);  // nghttp2's assumption before SETTINGS
  }

  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const ConnPtr& c : all) n += c->session.in_flight();
    return n;
  }

  // Streams to the least-loaded ready connections; new connections while
  // under the limit and the least-loaded one is not idle.
  void pump() {
    if (closed || fell_back) return;
    while (!queue.empty()) {
      Conn* best = nullptr;
      std::size_t connecting = 0;
      std::size_t usable = 0;  // connections that may still take streams
      for (const ConnPtr& c : all) {
        if (!c->session.goaway_received()) ++usable;
        if (!c->ready) {
          ++connecting;
          continue;
        }
        if (c->session.can_submit() &&
            (!best || c->session.in_flight() < best->session.in_flight()))
          best = c.get();
      }
      // Auto mode waits for the first connection's ALPN before opening more.
      const bool probing = auto_mode && !h2_confirmed;
      if (usable < options.max_connections && connecting < std::min(kMaxConnecting, queue.size()) &&
          (!best || best->session.in_flight() > 0) && !(probing && !all.empty())) {
        if (!resolved()) return resolve();
        open();
        continue;
      }
      if (!best) break;
      best->session.submit(std::move(queue.front()), Clock::now());
      queue.pop_front();
      best->dirty = true;
      if (!best->timer_armed) arm_timer(*best, Clock::now() + options.timeout);
    }
    post_flush();
  }

  // Writes once the current handler is done: the requests submitted by
  // every callback of one read (or one burst of arrivals) leave in one
  // write instead of one each.
  void post_flush() {
    if (flush_posted) return;
    flush_posted = true;
    asio::post(io, [weak = std::weak_ptr<Impl>(shared_from_this())] {
      if (auto self = weak.lock()) {
        self->flush_posted = false;
        self->flush_all();
      }
    });
  }

  bool resolved() const { return !endpoints.empty(); }

  void resolve() {
    if (resolving) return;
    resolving = true;
    std::weak_ptr<Impl> weak = shared_from_this();
    resolver.async_resolve(
        target.host, std::to_string(target.port),
        [weak](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          auto self = weak.lock();
          if (!self || self->closed) return;
          self->resolving = false;
          if (ec || results.empty()) {
            return self->fail_queue(ErrorKind::kConnect,
                                    fmt::format("resolve {}: {}", self->target.host,
                                                ec ? ec.message() : "no addresses"));
          }
          for (const auto& r : results) self->endpoints.push_back(r.endpoint());
          self->pump();
        });
  }

  void open() {
    auto c = std::make_shared<Conn>(*this, io, tls);
    all.push_back(c);
    c->connect_deadline = Clock::now() + options.timeout;
    arm_timer(*c, c->connect_deadline);
    if (c->secure) {
      SSL* s = c->secure->native_handle();
      if (!ip_literal) SSL_set_tlsext_host_name(s, target.host.c_str());
      if (auto_mode) {
        SSL_set_alpn_protos(s, kAlpnAuto, sizeof kAlpnAuto);
      } else {
        SSL_set_alpn_protos(s, kAlpnH2, sizeof kAlpnH2);
      }
    }
    asio::async_connect(c->socket(), endpoints,
                        [c](const boost::system::error_code& ec, const tcp::endpoint&) {
                          if (!c->dead) c->impl->on_connect(c, ec);
                        });
  }

  void on_connect(const ConnPtr& c, const boost::system::error_code& ec) {
    if (ec) {
      return connect_failed(*c, ErrorKind::kConnect,
                            fmt::format("connect {}: {}", where, ec.message()));
    }
    boost::system::error_code ignored;
    c->socket().set_option(tcp::no_delay(true), ignored);
    if (!c->secure) {
      c->socket().non_blocking(true, ignored);
      return on_ready(c);
    }
    c->secure->async_handshake(ssl::stream_base::client, [c](const boost::system::error_code& hec) {
      if (c->dead) return;
      Impl& impl = *c->impl;
      if (hec) return impl.connect_failed(*c, ErrorKind::kConnect, impl.handshake_error(*c, hec));
      const unsigned char* proto = nullptr;
      unsigned int len = 0;
      SSL_get0_alpn_selected(c->secure->native_handle(), &proto, &len);
      const std::string_view chosen(reinterpret_cast<const char*>(proto), proto ? len : 0);
      if (chosen == "h2") return impl.on_ready(c);
      if (impl.auto_mode) return impl.fall_back(*c);
      impl.connect_failed(
          *c, ErrorKind::kConnect,
          fmt::format("HTTP/2 refused by {}: its TLS ALPN chose {} instead of h2 "
                      "(http_version=\"2\" needs h2; leave it out to use HTTP/1.1)",
                      impl.where, chosen.empty() ? "no protocol" : std::string(chosen)));
    });
  }

  std::string handshake_error(Conn& c, const boost::system::error_code& ec) const {
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
            SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) {
      return fmt::format(
          "HTTP/2 refused by {}: its TLS ALPN offers no h2 (alert: no application protocol); "
          "http_version=\"2\" needs h2, leave it out to use HTTP/1.1",
          where);
    }
    std::string msg = fmt::format("TLS handshake with {}: {}", where, ec.message());
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      const long result = SSL_get_verify_result(c.secure->native_handle());
      msg += result == X509_V_OK
                 ? fmt::format(" (certificate does not match host name {})", target.host)
                 : fmt::format(" ({})", X509_verify_cert_error_string(result));
    }
    return msg;
  }

  void on_ready(const ConnPtr& c) {
    c->ready = true;
    h2_confirmed = true;
    c->timer_armed = false;  // the connect deadline no longer applies
    c->timer.cancel();
    c->dirty = true;  // the preface and SETTINGS
    read(c);
    pump();
    flush(*c);
  }

  // Auto mode, ALPN chose HTTP/1.1: nothing was sent on this connection,
  // which goes over to the HTTP/1.1 client with the queue (no handshake
  // is wasted).
  void fall_back(Conn& c) {
    fell_back = true;
    c.handed_over = true;
    Http2Client::TlsStream stream = std::move(*c.secure);
    drop(c);
    std::vector<Http2Request> rest;
    while (!queue.empty()) {
      rest.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    if (on_fallback) on_fallback(std::move(stream), std::move(rest));
  }

  void read(const ConnPtr& c) {
    auto handler = [c](const boost::system::error_code& ec, std::size_t n) {
      if (c->dead) return;
      c->impl->on_read(c, ec, n);
    };
    if (c->secure) {
      c->secure->async_read_some(asio::buffer(c->buf.get(), kReadBufferSize), handler);
      return;
    }
    // Wait for readability, then read: a read tried at once mostly finds
    // nothing yet and costs a wasted syscall per response batch.
    c->plain->async_wait(tcp::socket::wait_read, [c](const boost::system::error_code& ec) {
      if (c->dead) return;
      if (ec) return c->impl->on_read(c, ec, 0);
      boost::system::error_code rec;
      const std::size_t n = c->plain->read_some(asio::buffer(c->buf.get(), kReadBufferSize), rec);
      if (rec == asio::error::would_block) return c->impl->read(c);
      c->impl->on_read(c, rec, n);
    });
  }

  void on_read(const ConnPtr& c, const boost::system::error_code& ec, std::size_t n) {
    auto keep = shared_from_this();  // callbacks may destroy the client
    if (ec) {
      std::string msg = is_eof(ec) ? "connection closed by peer" : ec.message();
      if (c->session.goaway_received()) msg += " after GOAWAY";
      // Over TCP nothing agreed on HTTP/2 beforehand: a server that closes
      // before its SETTINGS most likely does not speak it.
      if (!c->secure && !c->session.settings_received())
        msg +=
            " before any HTTP/2 SETTINGS: the server does not speak HTTP/2 with prior "
            "knowledge (h2c); use http_version=\"1.1\" for this target";
      return lost(*c, ErrorKind::kReset, msg);
    }
    if (!c->session.feed(c->buf.get(), n)) {
      return lost(*c, ErrorKind::kProtocol, c->session.error());
    }
    c->dirty = true;
    deliver(c->session.take_finished());
    if (c->dead || closed) return;
    if (retire_if_done(*c)) return pump();
    read(c);
    pump();
  }

  // A connection that may take no more streams and has none in flight is
  // closed (after a GOAWAY, or when nghttp2 says the session is over).
  bool retire_if_done(Conn& c) {
    if (c.session.in_flight() == 0 &&
        (c.session.goaway_received() || c.session.finished_session())) {
      flush(c);
      drop(c);
      return true;
    }
    return false;
  }

  void flush_all() {
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i]->dirty) flush(*all[i]);
    }
  }

  void flush(Conn& c) {
    if (c.dead || !c.ready || c.write_busy) return;
    c.dirty = false;
    if (!c.session.take_output(c.out)) {
      return lost(c, ErrorKind::kProtocol, c.session.error());
    }
    if (c.out.empty()) return;
    c.writing.swap(c.out);
    c.write_busy = true;
    auto handler = [self = c.shared_from_this()](const boost::system::error_code& ec, std::size_t) {
      if (self->dead) return;
      self->write_busy = false;
      self->writing.clear();
      if (ec) {
        auto keep = self->impl->shared_from_this();
        return self->impl->lost(*self, ErrorKind::kReset, ec.message());
      }
      self->impl->flush(*self);
    };
    if (c.secure) {
      asio::async_write(*c.secure, asio::buffer(c.writing), handler);
    } else {
      asio::async_write(*c.plain, asio::buffer(c.writing), handler);
    }
  }

  void arm_timer(Conn& c, Clock::time_point when) {
    c.timer_armed = true;
    c.timer.expires_at(when);
    c.timer.async_wait([self = c.shared_from_this()](const boost::system::error_code& ec) {
      if (self->dead || ec) return;
      self->timer_armed = false;
      Impl& impl = *self->impl;
      auto keep = impl.shared_from_this();
      if (!self->ready) {
        return impl.connect_failed(*self, ErrorKind::kTimeout,
                                   fmt::format("connect {} timed out after {} ms", impl.where,
                                               impl.options.timeout.count()));
      }
      const Clock::time_point next = self->session.expire(Clock::now());
      self->dirty = true;
      impl.deliver(self->session.take_finished());
      if (self->dead || impl.closed) return;
      if (next != Clock::time_point::max() && !self->timer_armed) impl.arm_timer(*self, next);
      impl.pump();
    });
  }

  // A connection that never became ready. Its requests were still queued:
  // they fail too when no other connection could take them.
  void connect_failed(Conn& c, ErrorKind kind, std::string msg) {
    auto keep = shared_from_this();
    drop(c);
    bool other = false;
    for (const ConnPtr& o : all) other = other || !o->dead;
    if (!other) fail_queue(kind, msg);
    pump();
  }

  void fail_queue(ErrorKind kind, const std::string& msg) {
    std::vector<Http2Session::Finished> failed;
    while (!queue.empty()) {
      Http2Session::Finished f;
      f.req = std::move(queue.front());
      queue.pop_front();
      f.result.error = kind;
      f.result.error_message = msg;
      f.result.http_version = 20;
      f.result.done_at = Clock::now();
      f.result.sent_at = f.result.done_at;
      failed.push_back(std::move(f));
    }
    deliver(std::move(failed));
  }

  // The connection ended with streams in flight: exactly those fail.
  void lost(Conn& c, ErrorKind kind, const std::string& msg) {
    auto keep = shared_from_this();
    c.session.fail_all(kind, msg);
    auto finished = c.session.take_finished();
    drop(c);
    deliver(std::move(finished));
    pump();
  }

  // Hands results to their callbacks; streams the server did not process
  // go back to the front of the queue, once.
  void deliver(std::vector<Http2Session::Finished>&& finished) {
    std::vector<Http2Request> again;
    for (auto& f : finished) {
      if (f.refused && !f.req.refused_once && !closed) {
        f.req.refused_once = true;
        again.push_back(std::move(f.req));
        continue;
      }
      f.req.cb(std::move(f.result));
    }
    for (auto it = again.rbegin(); it != again.rend(); ++it) queue.push_front(std::move(*it));
  }

  void drop(Conn& c) {
    if (c.dead) return;
    c.dead = true;
    boost::system::error_code ignored;
    if (!c.handed_over) c.socket().close(ignored);
    c.timer.cancel();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].get() == &c) {
        ConnPtr keep = std::move(all[i]);
        all.erase(all.begin() + static_cast<std::ptrdiff_t>(i));
        // Dead connections' sessions may still hold streams (close());
        // the pointer keeps `c` valid for the caller.
        graveyard.push_back(std::move(keep));
        break;
      }
    }
    // Freed on the next turn of the loop, when no frame of ours uses it.
    if (!sweep_posted) {
      sweep_posted = true;
      asio::post(io, [weak = std::weak_ptr<Impl>(shared_from_this())] {
        if (auto self = weak.lock()) {
          self->sweep_posted = false;
          self->graveyard.clear();
        }
      });
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    resolver.cancel();
    std::vector<Http2Session::Finished> failed;
    for (const ConnPtr& c : all) {
      c->session.fail_all(ErrorKind::kReset, "shutdown");
      for (auto& f : c->session.take_finished()) failed.push_back(std::move(f));
    }
    while (!all.empty()) drop(*all.back());
    while (!queue.empty()) {
      Http2Session::Finished f;
      f.req = std::move(queue.front());
      queue.pop_front();
      f.result.error = ErrorKind::kReset;
      f.result.error_message = "shutdown";
      f.result.done_at = f.result.sent_at = Clock::now();
      failed.push_back(std::move(f));
    }
    for (auto& f : failed) f.req.cb(std::move(f.result));
  }

  asio::io_context& io;
  Target target;
  ClientOptions options;
  ssl::context* tls;
  bool auto_mode;
  Http2SessionOptions session_options;
  KeptBodies kept;
  std::string where;
  bool ip_literal = false;
  tcp::resolver resolver;
  std::vector<tcp::endpoint> endpoints;
  bool resolving = false;
  bool closed = false;
  bool fell_back = false;
  bool h2_confirmed = false;  // a server agreed to HTTP/2 once
  bool sweep_posted = false;
  bool flush_posted = false;
  std::vector<ConnPtr> all;
  std::vector<ConnPtr> graveyard;
  std::deque<Http2Request> queue;
  Http2Client::Fallback on_fallback;
};

Http2Client::Http2Client(asio::io_context& io, Target target, ClientOptions options,
                         ssl::context* tls, bool auto_mode)
    : impl_(std::make_shared<Impl>(io, std::move(target), options, tls, auto_mode)) {}

Http2Client::~Http2Client() { impl_->close(); }

void Http2Client::send(Http2Request&& r) { impl_->send(std::move(r)); }

void Http2Client::set_fallback(Fallback f) { impl_->on_fallback = std::move(f); }

std::size_t Http2Client::open_connections() const { return impl_->all.size(); }
std::size_t Http2Client::in_flight() const { return impl_->in_flight(); }
std::size_t Http2Client::queued() const { return impl_->queue.size(); }
std::size_t Http2Client::capacity() const {
  return impl_->options.max_connections * impl_->stream_limit();
}
void Http2Client::close() { impl_->close(); }

}  // namespace loadpilot::http
