#include "cluster/transport/http_channel.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "build_info.h"
#include "cluster/coordinator/agent_link.h"
#include "http/ascii.h"

namespace loadpilot::agents {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// A connected socket to the service, or throws AgentError.
int connect_to(const ServiceUrl& url, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw AgentError(
        fmt::format("cannot reach the coordinator service at {}: {}", url.text, gai_strerror(rc)));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    const int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) continue;
    int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      rc = ::poll(&p, 1, remaining_ms(deadline));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0) {
        why = "no answer (connect timed out)";
        rc = -1;
      } else if (rc > 0 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        why = std::strerror(err ? err : errno);
        rc = -1;
      }
    } else if (rc != 0) {
      why = std::strerror(errno);
    }
    if (rc == 0) {
      fd = s;
    } else {
      ::close(s);
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    throw AgentError(fmt::format("cannot reach the coordinator service at {}: {}", url.text, why));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, std::string_view data, const ServiceUrl& url) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw AgentError(fmt::format("the coordinator service at {} closed the connection: {}",
                                   url.text, std::strerror(errno)));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

struct Head {
  int status = 0;
  bool chunked = false;
  std::optional<std::size_t> length;
  std::string rest;  // body bytes read past the head
};

// Reads the answer's head (and what came with it) before the deadline.
Head read_head(int fd, const ServiceUrl& url, Clock::time_point deadline) {
  std::string buf;
  std::size_t end = std::string::npos;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > 64 * 1024)
      throw AgentError(
          fmt::format("{} is not a LoadPilot coordinator service (its answer's head "
                      "is over 64 KiB)",
                      url.text));
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc == 0)
      throw AgentError(
          fmt::format("the coordinator service at {} did not answer in time", url.text));
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw AgentError(
          fmt::format("the coordinator service at {} closed the connection without "
                      "an answer",
                      url.text));
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  Head h;
  const std::string_view head(buf.data(), end);
  std::size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      std::from_chars(status_line.data() + 9, status_line.data() + 12, h.status).ec != std::errc())
    throw AgentError(fmt::format("{} is not a LoadPilot coordinator service (it answered \"{}\")",
                                 url.text, status_line.substr(0, 80)));
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    const std::size_t e = rest.find("\r\n");
    const std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? "" : rest.substr(e + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (http::iequals(name, "transfer-encoding")) {
      h.chunked = value.find("chunked") != std::string_view::npos;
    } else if (http::iequals(name, "content-length")) {
      std::size_t n = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc())
        h.length = n;
    }
  }
  h.rest = buf.substr(end + 4);
  return h;
}

// A whole (short) body after the head: error answers carry Content-Length.
std::string read_body(int fd, Head& h, Clock::time_point deadline) {
  std::string body = std::move(h.rest);
  const std::size_t want = std::min<std::size_t>(h.length.value_or(1 << 20), 1 << 20);
  while (body.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    body.append(chunk, static_cast<std::size_t>(n));
  }
  return body.substr(0, want);
}

// "the message" of {"error": ..., "errors": [...]}, or the text itself.
std::string service_message(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return body.substr(0, 400);
  std::string out = j.value("error", std::string());
  if (j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"])
      out += "\n  - " + (e.is_string() ? e.get<std::string>() : e.dump());
  return out;
}

std::string request_head(const ServiceUrl& url, std::string_view method, std::string_view path,
                         const std::string& token, std::size_t length) {
  std::string head = fmt::format(
      "{} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: loadpilot/{}\r\nAccept: "
      "application/x-ndjson\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
      method, path, url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host,
      url.port, kVersion, length);
  if (!token.empty()) head += "Authorization: Bearer " + token + "\r\n";
  return head + "Connection: close\r\n\r\n";
}

}  // namespace

std::optional<ServiceUrl> parse_service_url(const std::string& text, std::string* why) {
  why->clear();
  ServiceUrl u;
  std::string s = text;
  while (!s.empty() && s.back() == '/') s.pop_back();
  u.text = s;
  if (s.rfind("https://", 0) == 0) {
    *why =
        "https is not supported: the service speaks plain HTTP (reach it through "
        "`kubectl port-forward` or the cluster's network)";
    return std::nullopt;
  }
  if (s.rfind("http://", 0) != 0) {
    *why = "expected http://HOST:PORT";
    return std::nullopt;
  }
  std::string hostport = s.substr(7);
  if (hostport.find('/') != std::string::npos || hostport.find('?') != std::string::npos ||
      hostport.find('@') != std::string::npos) {
    *why = "expected http://HOST:PORT with no path, query or user";
    return std::nullopt;
  }
  std::string port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) {
      *why = "unclosed '[' in the host";
      return std::nullopt;
    }
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size()) {
      if (hostport[close + 1] != ':') {
        *why = "expected ':' after ']'";
        return std::nullopt;
      }
      port_text = hostport.substr(close + 2);
    }
  } else {
    const auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port_text = hostport.substr(colon + 1);
  }
  if (u.host.empty()) {
    *why = "the host is missing";
    return std::nullopt;
  }
  if (!port_text.empty()) {
    int port = 0;
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      *why = fmt::format("bad port \"{}\"", port_text);
      return std::nullopt;
    }
    u.port = port;
  }
  return u;
}

std::unique_ptr<HttpChannel> HttpChannel::start_run(const ServiceUrl& url, const std::string& token,
                                                    const std::string& body,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const int fd = connect_to(url, deadline);
  try {
    send_all(fd, request_head(url, "POST", "/run", token, body.size()), url);
    send_all(fd, body, url);
    Head h = read_head(fd, url, deadline);
    if (h.status == 200 && h.chunked)
      return std::unique_ptr<HttpChannel>(new HttpChannel(url, token, fd, std::move(h.rest), true));
    const std::string message = service_message(read_body(fd, h, deadline));
    std::string what;
    switch (h.status) {
      case 401:
        what = fmt::format(
            "the coordinator service at {} refused the API token (401): {}; give it with "
            "--api-token or LOADPILOT_API_TOKEN",
            url.text, message);
        break;
      case 409:
        what = fmt::format("the coordinator service at {} is busy (409): {}", url.text, message);
        break;
      case 400:
        what = fmt::format("the coordinator service at {} refused the run (400): {}", url.text,
                           message);
        break;
      case 413:
        what = fmt::format("the coordinator service at {} refused the run as too large (413): {}",
                           url.text, message);
        break;
      default:
        what = fmt::format("the coordinator service at {} answered {}: {}", url.text, h.status,
                           message);
    }
    throw AgentError(what);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

HttpChannel::HttpChannel(ServiceUrl url, std::string token, int fd, std::string rest, bool chunked)
    : url_(std::move(url)),
      token_(std::move(token)),
      fd_(fd),
      rest_(std::move(rest)),
      chunked_(chunked) {}

HttpChannel::~HttpChannel() {
  kill();
  join();
  ::close(fd_);
}

void HttpChannel::open(std::function<void(std::string_view)> on_line,
                       std::function<void(std::string)> on_closed) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  reader_ = std::thread([this, on_line = std::move(on_line), on_closed = std::move(on_closed)] {
    read_stream(on_line, on_closed);
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void HttpChannel::read_stream(std::function<void(std::string_view)> on_line,
                              std::function<void(std::string)> on_closed) {
  std::string raw = std::move(rest_);  // chunked bytes not decoded yet
  std::string text;                    // decoded bytes not split into lines yet
  bool last_chunk = false;
  bool broken = false;
  auto deliver = [&](std::string_view line) {
    if (line.empty()) return;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const std::string type = j.is_object() && j.contains("type") && j["type"].is_string()
                                 ? j["type"].get<std::string>()
                                 : "";
    if (type == "hello") {
      std::lock_guard lock(mu_);
      if (const auto it = j.find("start_in_ms"); it != j.end() && it->is_number_integer())
        start_in_ms_ = it->get<long long>();
      if (const auto it = j.find("agents"); it != j.end() && it->is_number_unsigned())
        agents_ = it->get<std::size_t>();
    } else if (type == "results") {
      std::lock_guard lock(mu_);
      results_ = j.value("results", nlohmann::json());
      return;
    } else if (type == "exit") {
      std::lock_guard lock(mu_);
      exit_how_ = j.value("how", std::string());
      return;
    }
    if (type == "hello" || type == "round" || type == "end" || type == "failed") on_line(line);
  };
  for (;;) {
    // Decode what is complete.
    for (;;) {
      const std::size_t eol = raw.find("\r\n");
      if (eol == std::string::npos) break;
      std::size_t size = 0;
      const auto r = std::from_chars(raw.data(), raw.data() + eol, size, 16);
      if (r.ec != std::errc()) {
        broken = true;
        break;
      }
      if (size == 0) {
        last_chunk = true;
        break;
      }
      if (raw.size() < eol + 2 + size + 2) break;
      text.append(raw, eol + 2, size);
      raw.erase(0, eol + 2 + size + 2);
    }
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
      deliver(std::string_view(text).substr(start, nl - start));
    text.erase(0, start);
    if (last_chunk || broken) break;
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    raw.append(chunk, static_cast<std::size_t>(n));
  }
  std::string how;
  {
    std::lock_guard lock(mu_);
    how = last_chunk ? (exit_how_.empty() ? "ended its stream"
                                          : "ended its stream (its run process " + exit_how_ + ")")
                     : "was cut off: the connection closed in the middle of the stream";
  }
  on_closed(how);
}

void HttpChannel::go(std::chrono::steady_clock::time_point) {}

void HttpChannel::stop() {
  try {
    stop_service_run(url_, token_, std::chrono::seconds(5));
  } catch (const AgentError& e) {
    // Closing the stream stops the run too (the service watches for it).
    fmt::print(stderr, "warning: {}; closing the stream instead\n", e.what());
    kill();
  }
}

void HttpChannel::kill() { ::shutdown(fd_, SHUT_RDWR); }

void HttpChannel::join() {
  if (reader_.joinable()) reader_.join();
}

std::string HttpChannel::who() const {
  return fmt::format("the coordinator service at {}", url_.text);
}

std::size_t HttpChannel::service_agents() const {
  std::lock_guard lock(mu_);
  return agents_;
}

std::chrono::milliseconds HttpChannel::start_lead() const {
  std::lock_guard lock(mu_);
  return std::chrono::milliseconds(start_in_ms_);
}

nlohmann::json HttpChannel::service_results() const {
  std::lock_guard lock(mu_);
  return results_;
}

std::string stop_service_run(const ServiceUrl& url, const std::string& token,
                             std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } conn{connect_to(url, deadline)};
  send_all(conn.fd, request_head(url, "POST", "/stop", token, 0), url);
  Head h = read_head(conn.fd, url, deadline);
  const std::string message = service_message(read_body(conn.fd, h, deadline));
  if (h.status != 202 && h.status != 200)
    throw AgentError(fmt::format("the coordinator service at {} did not stop the run ({}): {}",
                                 url.text, h.status, message));
  return message;
}

}  // namespace loadpilot::agents
