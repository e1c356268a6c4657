#include "http/client.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <optional>
#include <string_view>
#include <vector>

#include "http/http2_client.h"
#include "http/tls_trust.h"

namespace loadpilot::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using metrics::ErrorKind;

namespace {

// Large enough that a typical response arrives in one read; the parser
// copies only partial lines, so the buffer is scratch space, reused.
constexpr std::size_t kReadBufferSize = 16 * 1024;

// A connection idle for less than this is reused for an idempotent request
// without first checking that the server has not closed it: a connection
// just handed back is rarely stale, and such a request may be retried.
constexpr auto kFreshIdle = std::chrono::milliseconds(1);

struct Pending {
  std::shared_ptr<const std::string> request;
  Client::Callback cb;
  bool head = false;
  bool idempotent = false;    // may be sent again once it reached the wire
  bool retried = false;       // this is the second attempt
  std::uint32_t on_wire = 0;  // attempts of which at least one byte was written
  std::uint64_t keep_limit = 0;
  Clock::time_point sent_at{};  // of the first attempt, kept across a retry
  // HTTP bytes written and read for it, every attempt (Result::bytes_sent).
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint32_t retries() const { return on_wire > 1 ? on_wire - 1 : 0; }
};

// The method, the request's first token (build_request wrote it).
std::string_view method_of(const std::string& request) {
  const std::string_view r(request);
  return r.substr(0, std::min(r.find(' '), r.size()));
}

// RFC 9110 9.2.2: repeating these has the effect of sending them once.
bool idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    if (method == m) return true;
  return false;
}

// FIFO of waiting requests. A ring over a vector so that steady queueing
// (all connections busy) allocates nothing once it has grown.
class PendingQueue {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  void push_back(Pending&& p) {
    if (size_ == ring_.size()) grow();
    ring_[(head_ + size_) % ring_.size()] = std::move(p);
    ++size_;
  }
  Pending pop_front() {
    Pending p = std::move(ring_[head_]);
    ring_[head_] = Pending{};
    head_ = (head_ + 1) % ring_.size();
    --size_;
    return p;
  }

 private:
  void grow() {
    std::vector<Pending> bigger(ring_.empty() ? 16 : ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
    ring_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<Pending> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

bool is_eof(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

}  // namespace

struct Client::Impl {
  struct Conn : std::enable_shared_from_this<Conn> {
    Conn(asio::io_context& io, ssl::context* tls) : timer(io), buf(new char[kReadBufferSize]) {
      if (tls) {
        secure.emplace(io, *tls);
      } else {
        plain.emplace(io);
      }
    }
    Conn(asio::io_context& io, ssl::stream<tcp::socket>&& established)
        : timer(io), buf(new char[kReadBufferSize]) {
      secure.emplace(std::move(established));
    }
    tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }
    template <class F>
    void with_stream(F&& f) {
      if (secure) {
        f(*secure);
      } else {
        f(*plain);
      }
    }

    Impl* impl = nullptr;
    std::optional<tcp::socket> plain;
    std::optional<ssl::stream<tcp::socket>> secure;
    std::shared_ptr<const std::vector<tcp::endpoint>> endpoints;  // outlives async_connect
    asio::steady_timer timer;
    Clock::time_point deadline{};
    bool timer_armed = false;
    ResponseParser parser;
    std::unique_ptr<char[]> buf;
    Pending pending;
    std::size_t index = 0;  // position in Impl::all_
    std::uint64_t served = 0;
    Clock::time_point idle_since{};
    bool busy = false;
    bool dead = false;
    bool connected = false;
    bool wrote = false;      // the current attempt put bytes on the wire
    bool got_bytes = false;  // the current attempt received response bytes
  };
  using ConnPtr = std::shared_ptr<Conn>;

  Impl(asio::io_context& io_, Target target_, ClientOptions options_)
      : io(io_), target(std::move(target_)), options(options_), resolver(io_) {
    if (options.max_connections == 0) options.max_connections = 1;
    kept.limit = options.max_kept_total;
    const bool ipv6 = target.host.find(':') != std::string::npos;
    where = ipv6 ? fmt::format("[{}]:{}", target.host, target.port)
                 : fmt::format("{}:{}", target.host, target.port);
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(target.host, ec);
    ip_literal = !ec;
    if (ip_literal) {
      endpoints = std::make_shared<std::vector<tcp::endpoint>>(
          std::vector<tcp::endpoint>{tcp::endpoint(addr, target.port)});
    }
    if (target.tls()) setup_tls();
  }

  void setup_tls() {
    tls.emplace(ssl::context::tls_client);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3);
    if (options.insecure) {
      tls->set_verify_mode(ssl::verify_none);
      return;
    }
    trust_system_roots(*tls);
    tls->set_verify_mode(ssl::verify_peer);
    tls->set_verify_callback(ssl::host_name_verification(target.host));
  }

  void send(std::shared_ptr<const std::string> request, bool head, Callback cb,
            std::uint64_t max_kept_body) {
    if (closed) {
      // Never call back from inside send().
      asio::post(io, [cb = std::move(cb)]() mutable {
        deliver_error(std::move(cb), Clock::time_point{}, ErrorKind::kReset, "client closed");
      });
      return;
    }
    Pending p;
    p.idempotent = idempotent(method_of(*request));
    p.request = std::move(request);
    p.cb = std::move(cb);
    p.head = head;
    p.keep_limit = max_kept_body != 0 ? max_kept_body : options.max_kept_body;
    if (queue.empty() && !idle.empty()) {
      Conn* c = idle.back();
      idle.pop_back();
      start(*c, std::move(p));
      return;
    }
    queue.push_back(std::move(p));
    pump();
  }

  // Hands queued requests to idle connections (LIFO: the warmest one), then
  // to new connections while under the limit.
  void pump() {
    while (!queue.empty() && !closed) {
      if (!idle.empty()) {
        Conn* c = idle.back();
        idle.pop_back();
        start(*c, queue.pop_front());
      } else if (all.size() < options.max_connections) {
        if (!endpoints) {
          resolve();
          return;
        }
        open(queue.pop_front());
      } else {
        return;
      }
    }
  }

  // Resolved once per Client: every connection goes to the same endpoints.
  void resolve() {
    if (resolving) return;
    resolving = true;
    resolver.async_resolve(
        target.host, std::to_string(target.port),
        [this, alive = alive](const boost::system::error_code& ec,
                              const tcp::resolver::results_type& results) {
          if (!*alive) return;
          resolving = false;
          if (closed) return;
          if (ec || results.empty()) {
            const std::string msg =
                fmt::format("resolve {}: {}", target.host, ec ? ec.message() : "no addresses");
            while (!queue.empty()) {
              Pending p = queue.pop_front();
              deliver_error(std::move(p.cb), p.sent_at, ErrorKind::kConnect, msg);
            }
            return;
          }
          auto eps = std::make_shared<std::vector<tcp::endpoint>>();
          for (const auto& r : results) eps->push_back(r.endpoint());
          endpoints = std::move(eps);
          pump();
        });
  }

  // A TLS connection the HTTP/2 side opened, whose ALPN chose HTTP/1.1
  // (auto mode): it joins the pool as an idle connection.
  void adopt(ssl::stream<tcp::socket>&& stream) {
    if (closed || all.size() >= options.max_connections) return;  // closed with `stream`
    auto c = std::make_shared<Conn>(io, std::move(stream));
    c->impl = this;
    c->index = all.size();
    c->connected = true;
    c->idle_since = Clock::now();
    boost::system::error_code ignored;
    c->socket().non_blocking(true, ignored);
    all.push_back(c);
    idle.push_back(c.get());
  }

  void open(Pending&& p) {
    auto c = std::make_shared<Conn>(io, tls ? &*tls : nullptr);
    c->impl = this;
    c->index = all.size();
    c->endpoints = endpoints;
    all.push_back(c);
    c->busy = true;
    c->pending = std::move(p);
    c->deadline = Clock::now() + options.timeout;
    arm_timer(*c);
    if (c->secure && !ip_literal) {
      SSL_set_tlsext_host_name(c->secure->native_handle(), target.host.c_str());
    }
    asio::async_connect(c->socket(), *c->endpoints,
                        [c](const boost::system::error_code& ec, const tcp::endpoint&) {
                          if (!c->dead) c->impl->on_connect(c, ec);
                        });
  }

  void on_connect(const ConnPtr& c, const boost::system::error_code& ec) {
    if (ec) {
      return fail(*c, ErrorKind::kConnect, fmt::format("connect {}: {}", where, ec.message()));
    }
    boost::system::error_code ignored;
    c->socket().set_option(tcp::no_delay(true), ignored);
    c->socket().non_blocking(true, ignored);
    if (!c->secure) {
      c->connected = true;
      return write(*c);
    }
    c->secure->async_handshake(ssl::stream_base::client, [c](const boost::system::error_code& hec) {
      if (c->dead) return;
      if (hec) {
        return c->impl->fail(*c, ErrorKind::kConnect, c->impl->handshake_error(*c, hec));
      }
      c->connected = true;
      c->impl->write(*c);
    });
  }

  // OpenSSL's "certificate verify failed" does not say what was wrong with
  // the certificate; the verify result does.
  std::string handshake_error(Conn& c, const boost::system::error_code& ec) const {
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

  // A request on an already-open connection.
  void start(Conn& c, Pending&& p) {
    const Clock::time_point now = Clock::now();
    if ((!p.idempotent || now - c.idle_since >= kFreshIdle) && !still_open(c)) {
      drop(c);
      return open(std::move(p));
    }
    c.busy = true;
    c.pending = std::move(p);
    c.deadline = now + options.timeout;
    arm_timer(c);
    write(c);
  }

  // Whether an idle connection may carry a request: the server has neither
  // closed it nor sent anything (bytes nobody asked for break the framing;
  // over TLS they are most likely a close_notify). One non-blocking peek.
  static bool still_open(Conn& c) {
    char byte;
    const ssize_t n = ::recv(c.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  void write(Conn& c) {
    c.got_bytes = false;
    c.wrote = false;
    c.parser.reset(c.pending.head, options.keep_response, c.pending.keep_limit, &kept);
    if (c.pending.sent_at == Clock::time_point{}) c.pending.sent_at = Clock::now();
    c.with_stream([&](auto& stream) {
      asio::async_write(
          stream, asio::buffer(*c.pending.request),
          [self = c.shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
            if (self->dead) return;
            if (n > 0) {
              self->wrote = true;
              ++self->pending.on_wire;
              self->pending.bytes_sent += n;
            }
            if (ec) return self->impl->transport_error(*self, ec);
            self->impl->read(*self);
          });
    });
  }

  void read(Conn& c) {
    if (c.plain) {
      // Wait for readability, then read: a read attempted right after the
      // write usually finds nothing yet and costs a wasted syscall.
      c.plain->async_wait(tcp::socket::wait_read,
                          [self = c.shared_from_this()](const boost::system::error_code& ec) {
                            if (self->dead) return;
                            if (ec) return self->impl->on_read(*self, ec, 0);
                            boost::system::error_code rec;
                            const std::size_t n = self->plain->read_some(
                                asio::buffer(self->buf.get(), kReadBufferSize), rec);
                            if (rec == asio::error::would_block) return self->impl->read(*self);
                            self->impl->on_read(*self, rec, n);
                          });
      return;
    }
    c.secure->async_read_some(
        asio::buffer(c.buf.get(), kReadBufferSize),
        [self = c.shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          if (!self->dead) self->impl->on_read(*self, ec, n);
        });
  }

  void on_read(Conn& c, const boost::system::error_code& ec, std::size_t n) {
    if (ec) {
      if (is_eof(ec) && c.parser.on_eof() == ResponseParser::Status::kDone) {
        return complete(c, false);
      }
      return transport_error(c, ec);
    }
    c.got_bytes = true;
    c.pending.bytes_received += n;
    std::size_t used = 0;
    switch (c.parser.feed(c.buf.get(), n, &used)) {
      case ResponseParser::Status::kNeedMore:
        return read(c);
      case ResponseParser::Status::kDone:
        // Bytes after the response were never asked for: the connection's
        // framing can no longer be trusted.
        return complete(c, used < n);
      case ResponseParser::Status::kError:
        return fail(c, ErrorKind::kProtocol, c.parser.error());
    }
  }

  void complete(Conn& c, bool stray_bytes) {
    Result r;
    r.status = c.parser.status();
    r.body_bytes = c.parser.body_bytes();
    if (options.keep_response) {
      r.headers = std::move(c.parser.headers());
      r.body = std::move(c.parser.body());
      r.body_dropped = c.parser.body_dropped();
      if (r.body_dropped != BodyDrop::kNone) r.body_limit = c.parser.body_limit();
      c.parser.release();  // the body is the callback's now
    }
    r.retries = c.pending.retries();
    r.bytes_sent = c.pending.bytes_sent;
    r.bytes_received = c.pending.bytes_received;
    if (r.status >= 400 && c.pending.request) r.request_line = request_label(*c.pending.request);
    r.sent_at = c.pending.sent_at;
    r.done_at = Clock::now();
    Callback cb = std::move(c.pending.cb);
    c.pending.request.reset();
    c.busy = false;
    c.idle_since = r.done_at;
    ++c.served;
    if (!c.parser.keep_alive() || stray_bytes) {
      drop(c);
      pump();
    } else if (!queue.empty()) {
      start(c, queue.pop_front());
    } else {
      idle.push_back(&c);
    }
    cb(std::move(r));  // last: the callback may send, close, or destroy us
  }

  void transport_error(Conn& c, const boost::system::error_code& ec) {
    // An idle keep-alive connection the server closed as we wrote: not the
    // request's fault, so once more on a fresh connection, if sending it
    // twice is harmless or it never reached the server (see client.h).
    const bool stale = c.served > 0 && !c.got_bytes;
    if (stale && !c.pending.retried && (c.pending.idempotent || !c.wrote)) {
      Pending p = std::move(c.pending);
      p.retried = true;
      drop(c);
      return open(std::move(p));
    }
    std::string msg;
    if (is_eof(ec)) {
      msg = c.parser.error().empty() ? "connection closed by peer" : c.parser.error();
    } else {
      msg = ec.message();
    }
    if (stale && !c.pending.idempotent && c.wrote) {
      msg += fmt::format(" on a reused connection (not retried: {} is not idempotent)",
                         method_of(*c.pending.request));
    }
    fail(c, ErrorKind::kReset, msg);
  }

  void fail(Conn& c, ErrorKind kind, std::string msg) {
    Pending p = std::move(c.pending);
    drop(c);
    pump();
    deliver_error(std::move(p.cb), p.sent_at, kind, std::move(msg), &p);
  }

  // `p`, when given: the request's attempts so far (retries, bytes).
  static void deliver_error(Callback cb, Clock::time_point sent_at, ErrorKind kind, std::string msg,
                            const Pending* p = nullptr) {
    Result r;
    r.error = kind;
    r.error_message = std::move(msg);
    if (p) {
      r.retries = p->retries();
      r.bytes_sent = p->bytes_sent;
      r.bytes_received = p->bytes_received;
    }
    r.done_at = Clock::now();
    r.sent_at = sent_at == Clock::time_point{} ? r.done_at : sent_at;
    cb(std::move(r));
  }

  // The timer is armed lazily: a request only moves the deadline forward,
  // and an expiry that finds a later deadline re-arms. That keeps timer
  // queue traffic to about one operation per connection per timeout.
  void arm_timer(Conn& c) {
    if (c.timer_armed) return;
    c.timer_armed = true;
    c.timer.expires_at(c.deadline);
    c.timer.async_wait([self = c.shared_from_this()](const boost::system::error_code& ec) {
      self->timer_armed = false;
      if (self->dead || ec || !self->busy) return;
      if (Clock::now() < self->deadline) return self->impl->arm_timer(*self);
      const auto ms = self->impl->options.timeout.count();
      std::string msg;
      if (!self->connected) {
        msg = fmt::format("connect {} timed out after {} ms", self->impl->where, ms);
      } else if (!self->got_bytes) {
        msg = fmt::format("no response within {} ms", ms);
      } else {
        // A trickling or endless response: say how far it got.
        msg = fmt::format("response not complete within {} ms ({})", ms, self->parser.progress());
      }
      self->impl->fail(*self, ErrorKind::kTimeout, std::move(msg));
    });
  }

  // Ends a connection without calling anyone back; in-flight handlers see
  // `dead` and return.
  void drop(Conn& c) {
    c.dead = true;
    c.busy = false;
    c.parser.release();
    boost::system::error_code ignored;
    c.socket().close(ignored);
    c.timer.cancel();
    for (std::size_t i = 0; i < idle.size(); ++i) {
      if (idle[i] == &c) {
        idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    const std::size_t i = c.index;
    ConnPtr keep = std::move(all[i]);  // c stays valid until we return
    if (i + 1 != all.size()) {
      all[i] = std::move(all.back());
      all[i]->index = i;
    }
    all.pop_back();
  }

  void close() {
    if (closed) return;
    closed = true;
    resolver.cancel();
    std::vector<Pending> failed;
    while (!queue.empty()) failed.push_back(queue.pop_front());
    while (!all.empty()) {
      Conn& c = *all.back();
      if (c.busy) failed.push_back(std::move(c.pending));
      drop(c);
    }
    for (auto& p : failed) {
      deliver_error(std::move(p.cb), p.sent_at, ErrorKind::kReset, "shutdown", &p);
    }
  }

  asio::io_context& io;
  Target target;
  ClientOptions options;
  std::string where;        // host:port for messages
  bool ip_literal = false;  // the host is an address: no SNI, no resolving
  tcp::resolver resolver;
  std::optional<ssl::context> tls;
  std::shared_ptr<const std::vector<tcp::endpoint>> endpoints;
  bool resolving = false;
  bool closed = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::vector<ConnPtr> all;  // every open (or opening) connection
  std::vector<Conn*> idle;   // a stack: reuse the most recently used
  PendingQueue queue;
  KeptBodies kept;  // shared by every connection's parser
};

Client::Client(asio::io_context& io, Target target, ClientOptions options)
    : impl_(std::make_unique<Impl>(io, target, options)) {
  // docs/protocols.md#choosing-http2: HTTP/2 when asked for, or over TLS
  // unless HTTP/1.1 is asked for (ALPN then decides).
  const bool h2 = options.http_version == HttpVersion::k2 ||
                  (options.http_version == HttpVersion::kAuto && target.tls());
  if (!h2) return;
  h2_ = std::make_unique<Http2Client>(io, std::move(target), options,
                                      impl_->tls ? &*impl_->tls : nullptr,
                                      options.http_version == HttpVersion::kAuto);
  h2_->set_fallback([this](Http2Client::TlsStream&& stream, std::vector<Http2Request>&& queued) {
    impl_->adopt(std::move(stream));
    fall_back(std::move(queued));
  });
  use_h2_ = true;
}

Client::~Client() {
  if (h2_) h2_->close();
  impl_->close();
  *impl_->alive = false;
}

void Client::fall_back(std::vector<Http2Request>&& queued) {
  use_h2_ = false;
  for (Http2Request& r : queued) {
    impl_->send(std::move(r.request), r.head, std::move(r.cb), r.keep_limit);
  }
}

void Client::send(std::shared_ptr<const std::string> request, bool head, Callback cb,
                  std::uint64_t max_kept_body) {
  if (use_h2_) {
    Http2Request r;
    r.request = std::move(request);
    r.head = head;
    r.cb = std::move(cb);
    r.keep_limit = max_kept_body != 0 ? max_kept_body : impl_->options.max_kept_body;
    return h2_->send(std::move(r));
  }
  impl_->send(std::move(request), head, std::move(cb), max_kept_body);
}

std::size_t Client::open_connections() const {
  return impl_->all.size() + (h2_ ? h2_->open_connections() : 0);
}
std::size_t Client::busy_connections() const {
  return impl_->all.size() - impl_->idle.size() + (h2_ ? h2_->in_flight() : 0);
}
std::size_t Client::queued() const { return impl_->queue.size() + (h2_ ? h2_->queued() : 0); }
std::size_t Client::capacity() const {
  return use_h2_ ? h2_->capacity() : impl_->options.max_connections;
}
void Client::close() {
  if (h2_) h2_->close();
  impl_->close();
}

std::optional<metrics::ErrorKind> failure_of(const Result& r, std::string* message) {
  if (r.error) {
    *message = r.error_message;
    return r.error;
  }
  if (r.status < 400) return std::nullopt;
  *message = r.request_line.empty() ? fmt::format("HTTP {}", r.status)
                                    : fmt::format("HTTP {} {}", r.status, r.request_line);
  return r.status >= 500 ? metrics::ErrorKind::kHttp5xx : metrics::ErrorKind::kHttp4xx;
}

namespace {

bool is_id(std::string_view segment) {
  if (segment.empty()) return false;
  if (std::all_of(segment.begin(), segment.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return true;
  if (segment.size() < 16) return false;
  bool digit = false;
  for (char c : segment) {
    const bool dec = c >= '0' && c <= '9';
    digit = digit || dec;
    if (!dec && !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F') && c != '-') return false;
  }
  return digit;
}

}  // namespace

std::string request_label(std::string_view raw) {
  raw = raw.substr(0, std::min(raw.find('\r'), raw.size()));
  const auto space = raw.find(' ');
  if (space == std::string_view::npos || space == 0) return "";
  const std::string_view method = raw.substr(0, space);
  std::string_view target = raw.substr(space + 1);
  target = target.substr(0, std::min(target.find(' '), target.size()));
  target = target.substr(0, std::min(target.find_first_of("?#"), target.size()));
  // Absolute form (through a proxy): the path after the authority.
  if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
    const auto path = target.find('/', scheme + 3);
    target = path == std::string_view::npos ? std::string_view("/") : target.substr(path);
  }
  if (target.empty() || target.front() != '/') return "";
  std::string path;
  while (!target.empty()) {
    target.remove_prefix(1);  // the '/'
    const auto end = std::min(target.find('/'), target.size());
    const std::string_view segment = target.substr(0, end);
    path += '/';
    path += is_id(segment) ? std::string_view("{id}") : segment;
    target.remove_prefix(end);
  }
  constexpr std::size_t kMaxPath = 120;
  if (path.size() > kMaxPath) path = path.substr(0, kMaxPath) + "...";
  return fmt::format("{} {}", method, path);
}

}  // namespace loadpilot::http
