#include "demo/http2_connection.h"

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "demo/grpc_service.h"
#include "http/request_parser.h"

namespace loadpilot::demo {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using Clock = Faults::Clock;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr std::uint32_t kMaxStreams = 256;
constexpr std::size_t kReadBuffer = 32 * 1024;

// One request on its stream: what the client sent, then what we answer.
struct Stream {
  std::string method, path, body, tag;
  bool grpc = false;  // content-type application/grpc
  bool too_large = false;
  std::string answer;  // the response body
  std::size_t answer_sent = 0;
  std::string status, length, location;
};

template <class Socket>
class H2Connection : public std::enable_shared_from_this<H2Connection<Socket>> {
 public:
  H2Connection(Worker& worker, Socket socket)
      : worker_(worker), socket_(std::move(socket)), in_(kReadBuffer) {}

  ~H2Connection() {
    if (session_) nghttp2_session_del(session_);
  }

  void start() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_server_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    flush();
    read();
  }

 private:
  static H2Connection& self(void* user) { return *static_cast<H2Connection*>(user); }

  Stream* stream(std::int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : &it->second;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user).streams_[frame->hd.stream_id];
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                       std::uint8_t, void* user) {
    Stream* s = self(user).stream(frame->hd.stream_id);
    if (!s) return 0;
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") s->method = v;
    if (n == ":path") s->path = v;
    if (n == "x-demo-tag") s->tag = v;
    if (n == "content-type") s->grpc = v.starts_with("application/grpc");
    return 0;
  }

  static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                     std::size_t len, void* user) {
    Stream* s = self(user).stream(id);
    if (!s) return 0;
    if (s->body.size() + len > RequestParser::kMaxBodyBytes) {
      s->too_large = true;
      return 0;
    }
    s->body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      self(user).handle(frame->hd.stream_id);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    self(user).streams_.erase(id);
    return 0;
  }

  static ssize_t read_answer(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* source, void*) {
    Stream& s = *static_cast<Stream*>(source->ptr);
    const std::size_t n = std::min(length, s.answer.size() - s.answer_sent);
    std::memcpy(buf, s.answer.data() + s.answer_sent, n);
    s.answer_sent += n;
    if (s.answer_sent == s.answer.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  // The same decisions as the HTTP/1.1 connection's handle().
  void handle(std::int32_t id) {
    Stream* s = stream(id);
    if (!s) return;
    if (s->too_large) {
      return respond(id, *s, 413, R"({"error":"request body over 1 MiB"})", {});
    }
    Request request;
    request.method = s->method;
    request.target = s->path;
    request.tag = s->tag;
    request.body = s->body;
    request.content_length = s->body.size();
    const RouteMatch match = match_route(request.method, request.target);
    if (match.route == Route::kGrpc && s->grpc) {
      worker_.counters.count(Route::kGrpc);
      return respond_grpc(id, *s);
    }
    worker_.answer(match, request, &reply_);
    const bool head = s->method == "HEAD";
    std::string body = head ? std::string() : std::string(reply_.body);
    if (takes_knobs(match.route) && worker_.faults.delays()) {
      const Clock::time_point now = Clock::now();
      const Clock::time_point release = worker_.faults.release_time(now);
      if (release > now) {
        // Only this stream waits; the others go on.
        auto timer = std::make_shared<asio::steady_timer>(worker_.io, release);
        timer->async_wait([self = this->shared_from_this(), id, timer, status = reply_.status,
                           body = std::move(body), length = reply_.body.size(),
                           location = reply_.location](boost::system::error_code ec) mutable {
          if (ec || self->closed_) return;
          if (Stream* st = self->stream(id)) {
            self->respond(id, *st, status, std::move(body), location, length);
            self->flush();
          }
        });
        return;
      }
    }
    respond(id, *s, reply_.status, std::move(body), reply_.location, reply_.body.size());
  }

  void respond(std::int32_t id, Stream& s, int status, std::string body, std::string_view location,
               std::size_t length = std::string::npos) {
    s.answer = std::move(body);
    s.status = std::to_string(status);
    s.length = std::to_string(length == std::string::npos ? s.answer.size() : length);
    s.location = location;
    auto nv = [](std::string_view n, std::string_view v) {
      return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                        reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                        v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    nghttp2_nv headers[4];
    std::size_t n = 0;
    headers[n++] = nv(":status", s.status);
    headers[n++] = nv("content-type", "application/json");
    // RFC 9110 8.6: no Content-Length in a 204 (nor 304).
    if (status != 204 && status != 304) headers[n++] = nv("content-length", s.length);
    if (!s.location.empty()) headers[n++] = nv("location", s.location);
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = &read_answer;
    nghttp2_submit_response(session_, id, headers, n, s.answer.empty() ? nullptr : &provider);
  }

  // A gRPC call (demo/grpc_service.h): OK is HEADERS, the message and
  // trailers with grpc-status 0; any other status is trailers-only (one
  // HEADERS frame ending the stream), as gRPC servers answer.
  void respond_grpc(std::int32_t id, Stream& s) {
    const GrpcReply g = call_shop(s.path, s.body);
    const std::string code = std::to_string(g.status);
    const nghttp2_nv headers[] = {
        nv(":status", "200"),
        nv("content-type", "application/grpc"),
        nv("grpc-status", code),
        nv("grpc-message", g.message),
    };
    if (g.status != 0) {
      nghttp2_submit_response(session_, id, headers, g.message.empty() ? 3 : 4, nullptr);
      return;
    }
    s.answer = g.body;
    nghttp2_data_provider provider{};
    provider.source.ptr = &s;
    provider.read_callback = &read_grpc_answer;
    nghttp2_submit_response(session_, id, headers, 2, &provider);
  }

  static ssize_t read_grpc_answer(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                                  std::size_t length, std::uint32_t* flags,
                                  nghttp2_data_source* source, void* user) {
    const ssize_t n = read_answer(session, id, buf, length, flags, source, user);
    if (*flags & NGHTTP2_DATA_FLAG_EOF) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const nghttp2_nv trailers[] = {nv("grpc-status", "0")};
      nghttp2_submit_trailer(session, id, trailers, 1);
    }
    return n;
  }

  static nghttp2_nv nv(std::string_view n, std::string_view v) {
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  }

  void read() {
    socket_.async_read_some(asio::buffer(in_), [self = this->shared_from_this()](
                                                   boost::system::error_code ec, std::size_t n) {
      if (ec) return self->close();
      const ssize_t rv = nghttp2_session_mem_recv(
          self->session_, reinterpret_cast<const std::uint8_t*>(self->in_.data()), n);
      if (rv < 0) {
        self->flush();  // nghttp2 queued a GOAWAY saying why
        return;
      }
      self->flush();
      if (!self->closed_) self->read();
    });
  }

  void flush() {
    if (writing_ || closed_) return;
    for (;;) {
      const std::uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) return close();
      if (n == 0) break;
      out_.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (out_.empty()) {
      if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) close();
      return;
    }
    writing_ = true;
    sending_.swap(out_);
    asio::async_write(socket_, asio::buffer(sending_),
                      [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->sending_.clear();
                        if (ec) return self->close();
                        self->flush();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.lowest_layer().close(ignored);
  }

  Worker& worker_;
  Socket socket_;
  nghttp2_session* session_ = nullptr;
  std::vector<char> in_;
  std::string out_, sending_;
  bool writing_ = false;
  bool closed_ = false;
  std::map<std::int32_t, Stream> streams_;
  Reply reply_;
};

void start_h2c(Worker& worker, tcp::socket socket) {
  std::make_shared<H2Connection<tcp::socket>>(worker, std::move(socket))->start();
}

void sniff(Worker& worker, std::shared_ptr<tcp::socket> socket,
           std::shared_ptr<std::function<void(tcp::socket)>> http1) {
  socket->async_wait(tcp::socket::wait_read, [&worker, socket,
                                              http1](boost::system::error_code ec) {
    if (ec) return;
    char head[kPreface.size()];
    const ssize_t n = ::recv(socket->native_handle(), head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n <= 0) return (*http1)(std::move(*socket));  // closed: the HTTP/1.1 side says so
    const std::string_view got(head, static_cast<std::size_t>(n));
    if (got != kPreface.substr(0, got.size())) return (*http1)(std::move(*socket));
    // "PRI" starts no HTTP/1.x request; nghttp2 checks the rest.
    if (got.size() >= 3) return start_h2c(worker, std::move(*socket));
    // One or two bytes so far: look again a little later rather than spin
    // on a socket that stays readable.
    auto timer = std::make_shared<asio::steady_timer>(worker.io, std::chrono::milliseconds(5));
    timer->async_wait([&worker, socket, http1, timer](boost::system::error_code wait_ec) {
      if (!wait_ec) sniff(worker, socket, http1);
    });
  });
}

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kH2, sizeof kH2, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void sniff_http2(Worker& worker, tcp::socket socket, std::function<void(tcp::socket)> http1) {
  sniff(worker, std::make_shared<tcp::socket>(std::move(socket)),
        std::make_shared<std::function<void(tcp::socket)>>(std::move(http1)));
}

std::shared_ptr<ssl::context> make_demo_tls_context() {
  auto fail = [](const char* what) -> std::runtime_error {
    return std::runtime_error(std::string("TLS certificate: ") + what);
  };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) throw fail("cannot make a P-256 key");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  if (!san) throw fail("cannot add the subject alternative names");
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw fail("cannot sign");

  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  SSL_CTX* native = tls->native_handle();
  if (SSL_CTX_use_certificate(native, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(native, key.get()) != 1)
    throw fail("cannot use the certificate");
  SSL_CTX_set_alpn_select_cb(native, &select_h2, nullptr);
  return tls;
}

void serve_tls_connection(Worker& worker, tcp::socket socket, ssl::context& tls) {
  asio::post(worker.io, [&worker, &tls, socket = std::move(socket)]() mutable {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), tls);
    stream->async_handshake(ssl::stream_base::server, [&worker,
                                                       stream](boost::system::error_code ec) {
      if (ec) return;
      const unsigned char* proto = nullptr;
      unsigned int len = 0;
      SSL_get0_alpn_selected(stream->native_handle(), &proto, &len);
      if (len != 2 || std::memcmp(proto, "h2", 2) != 0) return;  // no h2: closed
      std::make_shared<H2Connection<ssl::stream<tcp::socket>>>(worker, std::move(*stream))->start();
    });
  });
}

}  // namespace loadpilot::demo
