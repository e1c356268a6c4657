#include "monitor/exporter.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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
std::string bind_failure_reason(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return fmt::format("\"{}\" is not an IPv4 address (e.g. 0.0.0.0 or 127.0.0.1)", host);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::strerror(errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::string reason = "the server could not start";
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    reason = errno == EADDRINUSE ? "the port is already in use" : std::strerror(errno);
  }
  close(fd);
  return reason;
}

}  // namespace

Exporter::Exporter(const ExporterOptions& options, const RunInfo& info)
    : metrics_(info), host_(options.host), port_(options.port) {
  if (options.port < 0 || options.port > 65535)
    throw ExporterError(fmt::format("--metrics-port: must be 0..65535 (got {})", options.port));
  const std::string address = fmt::format("{}:{}", host_, port_);
  // Threads inherit the signal mask: start the server's with the stop
  // signals blocked so they are never delivered there.
  const sigset_t set = stop_signals();
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception&) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw ExporterError(
        fmt::format("cannot serve metrics on {}: {} (--metrics-host, "
                    "--metrics-port; --no-metrics turns the endpoint off)",
                    address, bind_failure_reason(host_, port_)));
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (!ports.empty()) port_ = ports.front();
  exposer_->RegisterCollectable(metrics_.registry());
}

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
  const bool wildcard = host_ == "0.0.0.0" || host_.empty();
  return fmt::format("http://{}:{}/metrics", wildcard ? "127.0.0.1" : host_, port_);
}

bool Exporter::linger(double seconds) {
  if (!(seconds > 0)) return false;
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
  return sig > 0;
}

}  // namespace loadpilot::monitor
