#include "cluster/service/api_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "http/request_parser.h"
#include "run/stop_signals.h"

namespace loadpilot::agents {

namespace {

using Clock = std::chrono::steady_clock;

std::string json_error(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

std::string peer_name(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    return fmt::format("{}:{}", buf, ntohs(a->sin_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
  inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
  return fmt::format("[{}]:{}", buf, ntohs(a->sin6_port));
}

// The connection threads must never take SIGINT/SIGTERM: the process's
// own handling (cluster/service/service.cc) waits for them on the main thread.
struct BlockStopSignals {
  BlockStopSignals() {
    const sigset_t set = cli::stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~BlockStopSignals() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  sigset_t old;
};

}  // namespace

bool is_loopback_host(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || h == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, h.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

std::string http_error_message(int status, std::size_t max_body) {
  switch (status) {
    case 411:
      return "length required: send the body with a Content-Length (chunked request bodies are "
             "not supported)";
    case 413:
      return fmt::format("the request body is over the limit of {} bytes", max_body);
    case 431:
      return fmt::format("the request's header fields are too large (over {} bytes together)",
                         http::RequestParser::kMaxHeadBytes);
    case 505:
      return "HTTP version not supported: send HTTP/1.1 (or 1.0)";
    default:
      return "malformed HTTP request";
  }
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
  return CRYPTO_memcmp(ha, hb, sizeof ha) == 0;
}

ApiServer::ApiServer(ApiServerOptions options, Screen screen, Handler handler)
    : options_(std::move(options)), screen_(std::move(screen)), handler_(std::move(handler)) {
  std::string host = options_.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.port);
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw ApiError(fmt::format("--listen {}:{}: cannot resolve the host: {}", options_.host,
                               options_.port, gai_strerror(rc)));
  int err = 0;
  for (addrinfo* ai = res; ai && listen_fd_ < 0; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      err = errno;
      ::close(fd);
      continue;
    }
    listen_fd_ = fd;
    host_ = host;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0)
    throw ApiError(fmt::format("cannot listen on {}:{}: {}", options_.host, options_.port,
                               std::strerror(err)));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

ApiServer::~ApiServer() { stop(); }

std::string ApiServer::address() const {
  return host_.find(':') != std::string::npos ? fmt::format("[{}]:{}", host_, port_)
                                              : fmt::format("{}:{}", host_, port_);
}

void ApiServer::start() {
  BlockStopSignals blocked;
  acceptor_ = std::thread([this] { front_loop(); });
}

void ApiServer::stop() {
  if (stopping_.exchange(true)) return;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  std::unique_lock lock(mu_);
  for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
  cv_.wait(lock, [this] { return threads_ == 0; });
}

// A connection on the front thread: its head arriving, or (once answered)
// the unread rest of its request being dropped until `deadline`.
struct ApiServer::Waiting {
  Waiting(int fd, std::string peer, std::size_t max_body, Clock::time_point deadline)
      : fd(fd), peer(std::move(peer)), parser(max_body), deadline(deadline) {}
  int fd;
  std::string peer;
  std::string buf;
  http::RequestParser parser;
  Clock::time_point deadline;
  bool draining = false;
};

namespace {

void set_blocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK); }

std::string seconds(std::chrono::milliseconds d) {
  return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

void ApiServer::front_loop() {
  std::list<Waiting> waiting;
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    auto now = Clock::now();
    auto next = now + std::chrono::milliseconds(200);
    for (const Waiting& w : waiting) {
      fds.push_back({w.fd, POLLIN, 0});
      next = std::min(next, w.deadline);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait, 0))) < 0)
      continue;
    now = Clock::now();
    std::size_t i = 1;
    for (auto it = waiting.begin(); it != waiting.end(); ++i) {
      bool keep = true;
      if (fds[i].revents != 0) {
        keep = read_head(*it);
      } else if (now >= it->deadline) {
        if (it->draining) {
          keep = false;
        } else {
          answer_now(*it, 408, "application/json",
                     json_error(fmt::format("the request's headers did not arrive within {}",
                                            seconds(options_.head_timeout))));
        }
      }
      if (keep) {
        ++it;
      } else {
        if (it->fd >= 0) ::close(it->fd);
        it = waiting.erase(it);
      }
    }
    if (fds[0].revents != 0) accept_all(waiting);
  }
  for (Waiting& w : waiting) ::close(w.fd);
}

void ApiServer::accept_all(std::list<Waiting>& waiting) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors: the listening socket stays readable, so pause
      // rather than spin.
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const auto ms = options_.write_timeout.count();
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    // Full: the connection waiting longest goes, so a crowd of slow
    // clients cannot keep a new one (a probe, a stop) out.
    if (waiting.size() >= options_.max_waiting && !waiting.empty()) {
      ::close(waiting.front().fd);
      waiting.pop_front();
    }
    waiting.emplace_back(fd, peer_name(ss), options_.max_body,
                         Clock::now() + options_.head_timeout);
  }
}

bool ApiServer::read_head(Waiting& w) {
  char chunk[16384];
  if (w.draining) {
    // Bounded per wake-up so one fast sender does not hold the others up.
    for (int reads = 0; reads < 64; ++reads) {
      const ssize_t n = ::recv(w.fd, chunk, sizeof chunk, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }
  const ssize_t n = ::recv(w.fd, chunk, sizeof chunk, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  if (n <= 0) return false;  // the client left
  w.buf.append(chunk, static_cast<std::size_t>(n));
  http::Request req;
  std::size_t consumed = 0;
  const http::RequestParser::Result r = w.parser.parse(w.buf, &req, &consumed);
  if (r == http::RequestParser::Result::kError) {
    const int status = w.parser.error_status();
    answer_now(w, status, "application/json",
               json_error(http_error_message(status, options_.max_body)));
    return true;
  }
  if (r == http::RequestParser::Result::kNeedMore && req.method.empty()) return true;

  // The head is complete; the body, if any, is not read yet.
  ApiRequest head;
  head.method = std::string(req.method);
  head.path = std::string(http::target_path(req.target));
  if (const auto q = req.target.find('?'); q != std::string_view::npos)
    head.query = std::string(req.target.substr(q + 1));
  head.authorization = std::string(req.authorization);
  head.peer = w.peer;
  const bool head_only = head.method == "HEAD";
  ApiAnswer verdict;
  if (screen_) {
    try {
      verdict = screen_(head);
    } catch (const std::exception& e) {
      verdict = ApiAnswer{500, "application/json", json_error(e.what()), {}};
    }
  }
  if (verdict.status != 0) {
    answer_now(w, verdict.status, verdict.content_type, verdict.body, verdict.headers, head_only);
    return true;
  }
  const std::size_t body = req.content_length;
  std::string busy;
  {
    std::lock_guard lock(mu_);
    if (threads_ >= options_.max_connections) {
      busy = fmt::format("busy: {} requests are being served; retry shortly", threads_);
    } else if (body > options_.max_bodies_in_flight - bodies_in_flight_) {
      busy = fmt::format(
          "busy: request bodies of {} bytes are being received (at most {} together); retry "
          "shortly",
          bodies_in_flight_, options_.max_bodies_in_flight);
    } else {
      bodies_in_flight_ += body;
      ++threads_;
      open_.push_back(w.fd);
    }
  }
  if (!busy.empty()) {
    answer_now(w, 503, "application/json", json_error(busy), "Retry-After: 1\r\n", head_only);
    return true;
  }
  set_blocking(w.fd);
  std::thread([this, fd = w.fd, peer = w.peer, buf = std::move(w.buf), body]() mutable {
    serve(fd, std::move(peer), std::move(buf), body);
  }).detach();
  w.fd = -1;  // the connection's thread owns it now
  return false;
}

void ApiServer::answer_now(Waiting& w, int status, std::string_view content_type,
                           std::string_view body, std::string_view headers, bool head_only) {
  // The answer is small: it fits the socket's send buffer, and a client
  // that does not read it loses it rather than stalling the front thread.
  ApiResponder(w.fd, head_only).respond(status, content_type, body, headers);
  ::shutdown(w.fd, SHUT_WR);
  // Closing with unread bytes would reset the connection and could destroy
  // the answer before the client reads it: drop what it still sends.
  w.draining = true;
  std::string().swap(w.buf);
  w.deadline = Clock::now() + options_.linger;
}

bool ApiServer::wait_idle(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [this] { return threads_ == 0; });
}

void ApiServer::serve(int fd, std::string peer, std::string buf, std::size_t reserved) {
  ApiResponder out(fd);
  http::RequestParser parser(options_.max_body);
  http::Request req;
  std::size_t consumed = 0;
  buf.reserve(buf.size() + reserved);
  const auto deadline = Clock::now() + options_.read_timeout;
  int error_status = 0;
  for (;;) {
    const http::RequestParser::Result r = parser.parse(buf, &req, &consumed);
    if (r == http::RequestParser::Result::kDone) break;
    if (r == http::RequestParser::Result::kError) {
      error_status = parser.error_status();
      break;
    }
    if (req.expect_continue) {
      // curl asks before a large body; say go (once).
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      ::send(fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
      req.expect_continue = false;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      error_status = 408;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000))) <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_status = -1;  // the client left
      break;
    }
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  if (error_status > 0) {
    const std::string why = error_status == 408
                                ? fmt::format("the request body did not arrive within {}",
                                              seconds(options_.read_timeout))
                                : http_error_message(error_status, options_.max_body);
    out.respond(error_status, "application/json", json_error(why));
  } else if (error_status == 0) {
    ApiRequest request;
    request.method = std::string(req.method);
    const std::string_view target = req.target;
    request.path = std::string(http::target_path(target));
    if (const auto q = target.find('?'); q != std::string_view::npos)
      request.query = std::string(target.substr(q + 1));
    request.authorization = std::string(req.authorization);
    request.peer = peer;
    // The body moves out of the read buffer rather than being copied.
    const std::size_t body_at = consumed - req.body.size();
    const std::size_t body_size = req.body.size();
    buf.resize(body_at + body_size);
    buf.erase(0, body_at);
    request.body = std::move(buf);
    ApiResponder answer(fd, request.method == "HEAD");
    try {
      handler_(request, answer);
    } catch (const std::exception& e) {
      if (!answer.streaming()) answer.respond(500, "application/json", json_error(e.what()));
    }
    answer.end_stream();
  }
  std::string().swap(buf);
  // glibc keeps a thread's freed heap for reuse; hand a large body's pages
  // back so the service's resident size falls after the request.
  if (reserved >= 1024 * 1024) malloc_trim(0);
  ::shutdown(fd, SHUT_WR);
  std::unique_lock lock(mu_);
  bodies_in_flight_ -= reserved;
  open_.remove(fd);
  ::close(fd);
  --threads_;
  cv_.notify_all();
}

}  // namespace loadpilot::agents
