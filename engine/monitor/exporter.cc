#include "monitor/exporter.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

namespace loadpilot::monitor {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// The server library reports a failed bind without the reason; binding a
// probe socket the same way recovers errno for the message.
// errno of binding host:port once more, after the server failed to (0:
// the bind worked, so something else stopped the server).
int bind_failure(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int err = 0;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) err = errno;
  close(fd);
  return err;
}

std::string bind_failure_reason(int err) {
  if (err == 0) return "the server could not start";
  return err == EADDRINUSE ? "the port is already in use" : std::strerror(err);
}

// RFC 1123 host name characters; the rest (spaces, '/', '@', ...) cannot
// name a host and would only reach the resolver as noise.
bool host_name_chars(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

// True when the last dot-separated label is all digits: resolvers read
// such names as (old-style, wrapping) IPv4 numbers, never as names.
bool ends_in_number(std::string_view s) {
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  const auto dot = s.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? s : s.substr(dot + 1);
  return !last.empty() &&
         std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string resolve_listen_host(std::string_view flag, const std::string& text, bool ipv6) {
  const auto problem = [&](std::string_view why) {
    return ExporterError(fmt::format("{}: {} (got \"{}\")", flag, why, text));
  };
  in_addr v4{};
  in6_addr v6{};
  // glibc's inet_pton(AF_INET) takes only four decimal parts 0..255 with
  // no leading zeros: exactly the strict dotted quad.
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return text;
  std::string bare = text;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  if (inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    if (!ipv6) {
      throw problem(
          "IPv6 is not supported here; use an IPv4 address (0.0.0.0 for every interface, "
          "127.0.0.1 for this machine only)");
    }
    char out[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &v6, out, sizeof out);
    return out;
  }
  if (text.empty()) throw problem("must be an IPv4 or IPv6 address or a host name");
  if (ends_in_number(text))
    throw problem("not an IPv4 address: it needs four decimal parts, each from 0 to 255");
  if (!host_name_chars(text)) throw problem("not an IPv4 or IPv6 address, nor a host name");
  addrinfo hints{};
  hints.ai_family = ipv6 ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  // The resolver also reads old numeric forms ("0x7f", "127.1"): a name it
  // takes as a number is a mistyped address.
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(text.c_str(), nullptr, &hints, &found) == 0) {
    freeaddrinfo(found);
    throw problem("not an IPv4 address: it needs four decimal parts, each from 0 to 255");
  }
  hints.ai_flags = 0;
  if (const int rc = getaddrinfo(text.c_str(), nullptr, &hints, &found); rc != 0)
    throw problem(fmt::format("cannot resolve the host name: {}", gai_strerror(rc)));
  std::string first_v4, first_v6;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char out[INET6_ADDRSTRLEN];
    if (a->ai_family == AF_INET && first_v4.empty()) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, out,
                sizeof out);
      first_v4 = out;
    } else if (a->ai_family == AF_INET6 && first_v6.empty()) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, out,
                sizeof out);
      first_v6 = out;
    }
  }
  freeaddrinfo(found);
  if (!first_v4.empty()) return first_v4;
  if (!first_v6.empty()) return first_v6;
  throw problem(ipv6 ? "the host name has no IPv4 or IPv6 address"
                     : "the host name has no IPv4 address");
}

// Counts the scrapes: the server asks every registered collectable for its
// metrics once per GET /metrics. It adds none of its own.
class Exporter::ScrapeCounter : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    count.fetch_add(1);
    return {};
  }
  mutable std::atomic<std::uint64_t> count{0};
};

Exporter::Exporter(const ExporterOptions& options, const RunInfo& info)
    : metrics_(std::make_unique<RunMetrics>(info)),
      scrapes_(std::make_shared<ScrapeCounter>()),
      port_(options.port) {
  if (options.port < 0 || options.port > 65535)
    throw ExporterError(fmt::format("--metrics-port: must be 0..65535 (got {})", options.port));
  // The server library is built without IPv6 (it would fail to start on
  // "[::1]:9090" without saying why).
  host_ = resolve_listen_host("--metrics-host", options.host, /*ipv6=*/false);
  const std::string address = listen_address();
  // Threads inherit the signal mask: start the server's with the stop
  // signals blocked so they are never delivered there.
  const sigset_t set = stop_signals();
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception&) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    const int err = bind_failure(host_, port_);
    throw ExporterError(fmt::format("cannot serve metrics on {}: {} (--metrics-host, "
                                    "--metrics-port; --no-metrics turns the endpoint off)",
                                    address, bind_failure_reason(err)),
                        err == EADDRINUSE);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (!ports.empty()) port_ = ports.front();
  exposer_->RegisterCollectable(metrics_->registry());
  exposer_->RegisterCollectable(scrapes_);
}

void Exporter::begin_run(const RunInfo& info) {
  auto fresh = std::make_unique<RunMetrics>(info);
  // Never both at once: a scrape would see every family twice.
  exposer_->RemoveCollectable(metrics_->registry());
  exposer_->RegisterCollectable(fresh->registry());
  metrics_ = std::move(fresh);
}

void Exporter::add_registry(const std::shared_ptr<prometheus::Registry>& registry) {
  exposer_->RegisterCollectable(registry);
}

bool Exporter::scraped() const { return scrapes_->count.load() > 0; }

Exporter::~Exporter() {
  // The server's accept loop notices a stop only between polls of up to two
  // seconds; connecting to it while it stops wakes it, so the process does
  // not sit out the rest of that poll at exit.
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (host_ == "0.0.0.0" || inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1)
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!stopped.load()) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd >= 0) {
        connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
        close(fd);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  exposer_.reset();
  stopped.store(true);
  waker.join();
}

std::string Exporter::listen_address() const { return fmt::format("{}:{}", host_, port_); }

std::string Exporter::url() const {
  return fmt::format("http://{}:{}/metrics", host_ == "0.0.0.0" ? "127.0.0.1" : host_, port_);
}

int Exporter::linger(double seconds) {
  if (!(seconds > 0)) return 0;
  const sigset_t set = stop_signals();
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int sig = -1;
  for (;;) {
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    const double whole = std::floor(left);
    const timespec wait{static_cast<time_t>(whole), static_cast<long>((left - whole) * 1e9)};
    sig = sigtimedwait(&set, nullptr, &wait);
    if (sig > 0 || errno != EINTR) break;  // a stop signal, or the time is up
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return sig > 0 ? sig : 0;
}

}  // namespace loadpilot::monitor
