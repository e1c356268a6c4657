#pragma once
// RunMetrics: the Prometheus view of one run — every `loadpilot_*` series,
// kept in a prometheus-cpp Registry and updated from the Collector's
// once-a-second Snapshot. docs/monitoring.md lists the series; their names
// are public interface.
//
// Contract:
//  * Every series exists from construction: per-task series for every task
//    and the error-kind counters start at 0, so the first scrape of a run
//    already shows every task.
//  * Percentile, max and mean gauges cover the Collector's window (the last
//    metrics::Collector::kWindowSeconds seconds), like the live dashboard;
//    with no request finished in the window they read 0. Counters cover the
//    whole run and equal the Snapshot's cumulative counts after each update.
//  * loadpilot_request_duration_seconds{task} observes every finished request
//    exactly once: update() adds the round's per-task latency histogram
//    (latency from the intended start, as everywhere in LoadPilot). Bucket
//    assignment is exact below 4.096 ms and within the HDR histogram's
//    resolution (1/2048) above.
//
// Thread-safety: update() and set_phase() are called from one thread (the
// run thread); scrapes read the registry concurrently, which prometheus-cpp
// makes safe per value (a scrape may see one update half applied).
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/snapshot.h"
#include "metrics/stats.h"
#include "monitor/custom_series.h"
#include "monitor/websocket_metrics.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace loadpilot::monitor {

// Upper bounds (seconds) of loadpilot_request_duration_seconds, for HTTP
// latencies from sub-millisecond loopback calls to the default 30 s timeout.
// Fixed, so histograms from several LoadPilot processes can be summed.
std::span<const double> latency_buckets_s();

// Per-bucket (not cumulative) counts of `h` (values in microseconds) for the
// upper bounds `bounds_s`, plus a last element for +Inf: the form
// prometheus::Histogram::ObserveMultiple takes. Each HDR bucket goes to the
// first bound at or above its lowest value. `sum_s`, when given, receives
// the exact sum of the values in seconds.
std::vector<double> bucket_increments(const metrics::Histogram& h, std::span<const double> bounds_s,
                                      double* sum_s = nullptr);

// A phase as a label value: lower case, "/" read as "of", every other run of
// non-alphanumerics one "_" ("ramp-up" -> "ramp_up", "step 2/5" ->
// "step_2_of_5", "max rate" -> "max_rate"); docs/monitoring.md lists them.
std::string phase_label(std::string_view phase);

struct RunInfo {
  std::string scenario;
  std::string version;
  std::vector<std::string> tasks;  // Plan::tasks order, as in the Collector
  std::string phase;               // at the start, e.g. Profile::phase_at(0)
  double target_rps = 0;           // at the start
  std::string model = "open";      // "open" or "closed" (plan::ProfileSpec::model)
  // A run of several scenarios: each task's scenario (parallel to
  // `tasks`, whose names are then "SCENARIO.TASK"). Its per-task series
  // carry scenario="SCENARIO" and task="TASK"; a run of one leaves this
  // empty and its series carry task= alone, as they always have.
  std::vector<std::string> task_scenarios = {};
};

class RunMetrics {
 public:
  explicit RunMetrics(const RunInfo& info);
  ~RunMetrics();
  RunMetrics(const RunMetrics&) = delete;
  RunMetrics& operator=(const RunMetrics&) = delete;

  // Applies one collection round: `s` is the Snapshot add_round returned and
  // `round` the same round's merged stats (Collector::last_round()). Each
  // round must be passed exactly once.
  void update(const metrics::Snapshot& s, const metrics::IntervalStats& round);

  // loadpilot_phase{phase=phase_label(P)} becomes 1 and every other phase
  // 0. Phases are the profile's ("ramp-up", "steady", "step 2/5", ...), then
  // "done" or "interrupted" when the run is over.
  void set_phase(const std::string& phase);

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // The exposition text a scrape would return now.
  std::string text() const;

 private:
  struct Task;

  // The constructor's parts, one group of series each (run_metrics.cc).
  void add_run_series(prometheus::Registry& r);
  void add_generator_series(prometheus::Registry& r);
  void add_breakdown_series(prometheus::Registry& r);
  void add_task_series(prometheus::Registry& r, const RunInfo& info);
  void add_info_series(prometheus::Registry& r, const RunInfo& info);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* current_rps_;
  prometheus::Gauge* target_rps_;
  prometheus::Gauge* active_;
  prometheus::Gauge* active_users_;
  prometheus::Gauge* target_users_;
  prometheus::Gauge* p50_;
  prometheus::Gauge* p95_;
  prometheus::Gauge* p99_;
  prometheus::Gauge* max_;
  prometheus::Gauge* mean_;
  prometheus::Gauge* elapsed_;
  prometheus::Counter* requests_;
  prometheus::Counter* errors_;
  prometheus::Counter* attempts_;
  prometheus::Counter* started_;
  prometheus::Counter* dropped_;
  prometheus::Counter* cut_off_;
  prometheus::Counter* bytes_sent_;
  prometheus::Counter* bytes_received_;
  std::vector<prometheus::Counter*> errors_by_kind_;
  std::vector<prometheus::Counter*> responses_;  // by metrics::ResponseClass
  std::vector<std::unique_ptr<Task>> tasks_;
  prometheus::Family<prometheus::Gauge>* phase_family_;
  std::map<std::string, prometheus::Gauge*> phases_;
  // loadpilot_generator_*: the generator's health, last second
  // (metrics::GeneratorHealth), and its stall time, whole run.
  std::vector<prometheus::Gauge*> generator_;
  prometheus::Counter* stall_ = nullptr;
  std::unique_ptr<WebSocketMetrics> websocket_;  // loadpilot_websocket_*
  std::unique_ptr<CustomSeries> custom_;         // loadpilot_custom_*

  // Cumulative values already added to the counters.
  std::uint64_t requests_seen_ = 0, errors_seen_ = 0, attempts_seen_ = 0, started_seen_ = 0,
                dropped_seen_ = 0, cut_off_seen_ = 0, bytes_sent_seen_ = 0,
                bytes_received_seen_ = 0;
  std::array<std::uint64_t, metrics::kErrorKindCount> kinds_seen_{};
  std::array<std::uint64_t, metrics::kResponseClassCount> responses_seen_{};
};

}  // namespace loadpilot::monitor
