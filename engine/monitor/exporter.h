#pragma once
// Exporter: serves a run's RunMetrics over HTTP (`GET /metrics`, Prometheus
// text format) with prometheus-cpp's pull server, from the moment it is
// constructed — before any traffic — until it is destroyed.
//
// Contract:
//  * The constructor checks the host with resolve_listen_host() (IPv4
//    only: the server library has no IPv6), then binds host:port or throws ExporterError whose
//    message names host:port and why (e.g. the port is in use), so `loadpilot run` can exit 2
//    before sending anything. Port 0 takes a free port; port() tells which.
//  * The server's threads are started with SIGINT/SIGTERM blocked, so those
//    signals keep reaching the run's own signal handling.
//  * linger() keeps serving the final values for a while after the run so
//    the last scrape is not lost; SIGINT or SIGTERM cuts it short.
//  * scraped() tells whether anything has fetched /metrics yet, so that
//    `run` waits after the run only when a scraper is there to be served.
// Thread-safety: update/finish/linger from the run thread only; scrapes are
// served on the server's own threads.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "monitor/run_metrics.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace loadpilot::monitor {

class ExporterError : public std::runtime_error {
 public:
  explicit ExporterError(const std::string& message, bool port_in_use = false)
      : std::runtime_error(message), port_in_use_(port_in_use) {}
  // The address was fine but another process holds the port: `run` only
  // warns about that when the port was its default (docs/monitoring.md).
  bool port_in_use() const { return port_in_use_; }

 private:
  bool port_in_use_;
};

// The numeric address to listen on for TEXT, checked strictly (the HTTP
// server underneath would read "999.1.1.1" as 231.1.1.1):
//  * an IPv4 address: four decimal parts 0..255 ("0.0.0.0", "127.0.0.1");
//  * an IPv6 address, with or without brackets ("::", "[::1]"), when
//    `ipv6` (else refused with the reason);
//  * a host name that resolves ("localhost"): its first IPv4 address, else
//    (with `ipv6`) its first IPv6 one.
// Anything that reads as a number but is not a full IPv4 address ("1.2.3",
// "10.0.0.256", "0x7f") is refused rather than resolved. Throws
// ExporterError "FLAG: PROBLEM (got "TEXT")". IPv6 results have no brackets.
std::string resolve_listen_host(std::string_view flag, const std::string& text, bool ipv6);

struct ExporterOptions {
  std::string host = "127.0.0.1";
  int port = 9090;
};

class Exporter {
 public:
  Exporter(const ExporterOptions& options, const RunInfo& info);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  int port() const { return port_; }
  // http://HOST:PORT/metrics, with a wildcard host shown as 127.0.0.1
  // (reachable from this machine; the bind address is in listen_address()).
  std::string url() const;
  std::string listen_address() const;  // HOST:PORT as bound

  void update(const metrics::Snapshot& s, const metrics::IntervalStats& round) {
    metrics_->update(s, round);
  }
  // The run is over: the phase becomes "done" or "interrupted".
  void finish(bool interrupted) { metrics_->set_phase(interrupted ? "interrupted" : "done"); }
  void set_phase(const std::string& phase) { metrics_->set_phase(phase); }

  // The coordinator service serves one exporter for its lifetime and many
  // runs: begin_run() replaces the run series with a fresh set (counters
  // start again at 0) from the run thread; add_registry() serves series of
  // its own beside them (their names must differ from the run's).
  void begin_run(const RunInfo& info);
  void add_registry(const std::shared_ptr<prometheus::Registry>& registry);
  // Blocks for `seconds` while scrapes go on, or until SIGINT/SIGTERM
  // (taken, also when already pending). Returns the signal that ended it
  // early, or 0.
  int linger(double seconds);
  // True once a scrape of /metrics has been served (any thread).
  bool scraped() const;

 private:
  class ScrapeCounter;
  std::unique_ptr<RunMetrics> metrics_;
  std::shared_ptr<ScrapeCounter> scrapes_;
  std::string host_;  // numeric IPv4, from resolve_listen_host()
  int port_ = 0;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace loadpilot::monitor
