#pragma once
// Snapshot: the merged state of a run at one instant, produced once a second
// by the Collector. It feeds the terminal, the ndjson stream, Prometheus and
// the report. Summary: the same, final, at the end of the run.
//
// Windowed figures ("window") cover the last Collector::kWindowSeconds
// seconds, so live graphs show the present rather than the run's history;
// "total" figures cover the whole run.
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/stats.h"

namespace loadpilot::metrics {

struct LatencySummary {
  std::uint64_t count = 0;
  double min_ms = 0, mean_ms = 0, p50_ms = 0, p90_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0,
         max_ms = 0;
  static LatencySummary of(const Histogram& h);
  nlohmann::json to_json() const;
};

// A sub-row of a task: its requests with one literal name=
// (docs/scenarios.md#metrics), also counted in the task's row.
struct NamedSnapshot {
  std::string name;
  std::uint64_t requests = 0, errors = 0;
  double current_rps = 0;  // requests finished in the last interval, per second
  double error_rate = 0;   // percent of requests, whole run
  LatencySummary window;   // recent
  LatencySummary total;    // whole run
};

struct TaskSnapshot {
  std::string name;
  std::uint64_t requests = 0, errors = 0, iterations = 0;
  std::uint64_t attempts = 0;  // requests + iterations failed outside a request
  double current_rps = 0;      // requests finished in the last interval, per second
  double error_rate = 0;       // percent of attempts, whole run
  LatencySummary window;       // recent
  LatencySummary total;        // whole run
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  std::vector<NamedSnapshot> named;  // in the order first seen
};

// The load generator's own health over one collection round
// (docs/engine.md#generator-health): how late its event loops woke, its
// CPU, the machine's steal, the Python thread, its connections. Shares are
// 0..1.
struct GeneratorHealth {
  double lag_max_ms = 0;               // worst lateness of a worker's lag probe
  double lag_at_s = 0;                 // when, seconds since the run's start
  double stall_ms = 0;                 // a worker's probe lateness beyond 2 ms, summed
  double cpu = 0;                      // the process's CPU per usable core
  double steal = 0;                    // the machine's steal time
  double busy = 0;                     // the busiest engine thread's CPU (Snapshot::busy)
  double python_cpu = 0;               // the Python thread's CPU
  double python_held = 0;              // its time away from its event loop (in VUser code)
  double cpu_wait = 0;                 // an engine thread's longest wait for a CPU
  std::uint64_t connections_busy = 0;  // native connections with a request on them or queued for
  std::uint64_t connections_open = 0;
  std::uint64_t send_queue = 0;  // arrivals waiting for a free connection (native tasks)
  // The cores this process may use (its CPU affinity); 0 on a coordinator
  // of agents, whose agents each judge their own.
  unsigned cores = 0;
  nlohmann::json to_json() const;
};

// One collection round as the overload verdict reads it
// (report/verdict.h): what the arrivals did, what the target's service
// time was, and the generator's health.
struct Round {
  double end_s = 0;       // seconds since the run's start at the round's end
  double interval_s = 0;  // the round's length
  std::uint64_t started = 0, late = 0, pacing_late = 0, dropped = 0, dropped_no_vuser = 0;
  std::uint64_t requests = 0;  // requests finished in the round
  double service_s = 0;        // their service times, summed (seconds)
  double service_p50_ms = 0;
  std::uint64_t in_flight = 0;  // iterations in flight at the round's end
  GeneratorHealth health;
  // Arrivals dropped, or over 1% of those started began late (pacing
  // slots missed by a closed user's own long iteration are not lateness).
  bool behind() const {
    const std::uint64_t own_late = late - std::min(late, pacing_late);
    return dropped > 0 || own_late * 100 > started;
  }
};

struct Snapshot {
  double elapsed_s = 0;
  double total_s = 0;
  std::string phase;
  double target_rps = 0;      // profile rate now
  double current_rps = 0;     // requests finished in the last interval, per second
  double iterations_rps = 0;  // iterations started in the last interval, per second
  std::uint64_t requests = 0, errors = 0, iterations = 0, dropped = 0, late = 0, cut_off = 0;
  std::uint64_t attempts = 0;           // requests + iterations failed outside a request
  std::uint64_t started = 0;            // iterations started, whole run
  std::uint64_t interval_requests = 0;  // requests finished in the last interval
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  // Whole run: requests by ResponseClass and HTTP bytes (IntervalStats).
  std::array<std::uint64_t, kResponseClassCount> responses{};
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t active = 0;  // iterations in flight
  // Users present: closed model, users looping (in an iteration or
  // thinking); open model, the iterations in flight (load/pacer.h).
  std::uint64_t active_users = 0;
  std::uint64_t target_users = 0;  // closed model: users the curve wants now
  std::uint64_t connections = 0;   // open connections
  double error_rate = 0;           // percent of attempts, whole run (TaskStats)
  double busy = 0;                 // busiest engine thread's CPU use, last interval
  GeneratorHealth generator;       // last interval
  LatencySummary window;
  LatencySummary total;
  std::vector<TaskSnapshot> tasks;
  // The scenario's custom metrics, whole run (docs/scenarios.md#custom-metrics).
  CustomMetrics custom;

  bool closed = false;  // closed model: target_users is meaningful
  // A run of several scenarios (docs/scenarios.md#several-scenarios-in-one-run):
  // each one's own snapshot (its tasks by their own names), in the plan's
  // order; `scenario` names the one a snapshot is of. Empty in a run of one.
  std::string scenario;
  std::vector<Snapshot> scenarios;
  // What the end of the run waits for ("waiting for agent a2 (2 of 2)'s
  // last report, 2 s"), or empty: the sources' WorkerReport::notice.
  std::string notice;
  nlohmann::json to_json() const;  // the ndjson line format (docs/output.md)
};

// One worker's contribution to a collection round.
struct WorkerReport {
  IntervalStats stats;
  std::uint64_t in_flight = 0;
  std::uint64_t active_users = 0;  // load::Pacer::active_users
  std::uint64_t connections = 0;
  std::uint64_t connections_busy = 0;  // load::Sender::busy, at most its capacity
  std::uint64_t send_queue = 0;        // arrivals waiting for a connection
  // A run of several scenarios: the scenario (index into Plan::scenarios)
  // whose worker sent it, its tasks indexed like that scenario's; kNoLane:
  // a report of the whole run (a run of one, the host, the Python runtime).
  static constexpr std::size_t kNoLane = static_cast<std::size_t>(-1);
  std::size_t lane = kNoLane;
  // What the end of the run waits for, for the live views (an agent's last
  // report: cluster/coordinator/final_reports.h); empty for most rounds.
  std::string notice;
};

// Seconds in which the run could not keep up with its arrival curve
// (arrivals dropped, or over 1% of them started late), and what the engine
// saw in them: the verdict of the summary (report/summary.h) comes from it.
struct Overload {
  std::uint64_t seconds = 0;
  double busy_sum = 0;  // the busiest thread's CPU use, summed over them
  std::uint64_t dropped_no_vuser = 0;
  std::uint64_t connections_max = 0;
  double busy_mean() const { return seconds ? busy_sum / static_cast<double>(seconds) : 0; }
};

// Merges worker reports into cumulative and windowed statistics. Owned by
// the collector thread; not thread-safe.
class Collector {
 public:
  static constexpr std::size_t kWindowSeconds = 10;

  explicit Collector(std::vector<std::string> task_names);

  // Adds one round of reports covering `interval_s` seconds and returns the
  // resulting snapshot (elapsed/phase/target filled in by the caller).
  Snapshot add_round(std::vector<WorkerReport>& reports, double interval_s);

  const IntervalStats& cumulative() const { return cumulative_; }
  // The stats of the latest round alone (what add_round last merged), e.g.
  // to feed each request exactly once into an external histogram. Valid
  // after the first add_round(); empty (no tasks) before.
  const IntervalStats& last_round() const { return window_.empty() ? empty_ : window_.back(); }
  const std::vector<std::string>& task_names() const { return task_names_; }
  // Whole-run latency of all tasks merged (kept up to date round by round).
  const Histogram& total_latency() const { return total_latency_; }
  const Overload& overload() const { return overload_; }
  // The most users present in any round (Snapshot::active_users).
  std::uint64_t peak_active_users() const { return peak_active_users_; }
  // Every round so far, in order: the evidence of the overload verdict.
  const std::vector<Round>& rounds() const { return rounds_; }

 private:
  std::vector<std::string> task_names_;
  IntervalStats cumulative_;
  Histogram total_latency_;
  std::deque<IntervalStats> window_;
  std::vector<double> last_rates_;        // current, iterations, then per task
  std::vector<double> last_named_rates_;  // per sub-row of cumulative_.named
  IntervalStats empty_;
  Overload overload_;
  std::uint64_t peak_active_users_ = 0;
  std::vector<Round> rounds_;
  double rounds_end_s_ = 0;
};

}  // namespace loadpilot::metrics
