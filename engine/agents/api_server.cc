#include "agents/api_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
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

#include "demo/request_parser.h"

namespace loadpilot::agents {

namespace {

using Clock = std::chrono::steady_clock;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

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
// own handling (cli/serve_command.cc) waits for them on the main thread.
struct BlockStopSignals {
  BlockStopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
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

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char ha[SHA256_DIGEST_LENGTH], hb[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), ha);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), hb);
  return CRYPTO_memcmp(ha, hb, sizeof ha) == 0;
}

bool ApiResponder::write_all(std::string_view data) {
  if (failed_) return false;
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = true;  // gone, reset, or stalled past the write time-out
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ApiResponder::respond(int status, std::string_view content_type, std::string_view body) {
  const std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: "
      "no-store\r\nConnection: close\r\n\r\n",
      status, reason(status), content_type, body.size());
  return write_all(head) && write_all(body);
}

bool ApiResponder::begin_stream(std::string_view content_type) {
  streaming_ = true;
  return write_all(fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nCache-Control: "
      "no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n",
      content_type));
}

bool ApiResponder::send_line(std::string_view line) {
  return write_all(fmt::format("{:x}\r\n{}\n\r\n", line.size() + 1, line));
}

void ApiResponder::end_stream() {
  if (streaming_) write_all("0\r\n\r\n");
}

bool ApiResponder::peer_gone() const {
  if (failed_) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) return true;
  if (p.revents & POLLIN) {
    // A client sends nothing after its request: readable means EOF.
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  return false;
}

ApiServer::ApiServer(ApiServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
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
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
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
  acceptor_ = std::thread([this] { accept_loop(); });
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

void ApiServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, 200);
    if (r <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const auto ms = options_.write_timeout.count();
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::unique_lock lock(mu_);
    if (threads_ >= options_.max_connections || stopping_.load()) {
      lock.unlock();
      ApiResponder(fd).respond(503, "application/json", json_error("too many connections"));
      ::close(fd);
      continue;
    }
    ++threads_;
    open_.push_back(fd);
    std::thread([this, fd, peer = peer_name(ss)] { serve(fd, peer); }).detach();
  }
}

void ApiServer::serve(int fd, std::string peer) {
  ApiResponder out(fd);
  std::string buf;
  demo::RequestParser parser(options_.max_body);
  demo::Request req;
  std::size_t consumed = 0;
  const auto deadline = Clock::now() + options_.read_timeout;
  int error_status = 0;
  for (;;) {
    const demo::RequestParser::Result r = parser.parse(buf, &req, &consumed);
    if (r == demo::RequestParser::Result::kDone) break;
    if (r == demo::RequestParser::Result::kError) {
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
    const std::string why =
        error_status == 408 ? fmt::format("the request did not arrive within {} s",
                                          options_.read_timeout.count() / 1000)
        : error_status == 413
            ? fmt::format("the request body is over the limit of {} bytes", options_.max_body)
            : "malformed HTTP request";
    out.respond(error_status, "application/json", json_error(why));
  } else if (error_status == 0) {
    ApiRequest request;
    request.method = std::string(req.method);
    const std::string_view target = req.target;
    const auto q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    request.authorization = std::string(req.authorization);
    request.body = std::string(req.body);
    request.peer = peer;
    buf.clear();
    try {
      handler_(request, out);
    } catch (const std::exception& e) {
      if (!out.streaming()) out.respond(500, "application/json", json_error(e.what()));
    }
    out.end_stream();
  }
  ::shutdown(fd, SHUT_WR);
  std::unique_lock lock(mu_);
  open_.remove(fd);
  ::close(fd);
  --threads_;
  cv_.notify_all();
}

}  // namespace loadpilot::agents
