#pragma once
// TimeSeries: one point per collection round (once a second) of a run, kept
// for the HTML report and the results file. The live views show the present;
// this keeps the history so the report can draw the whole run.
//
// What a point holds: the run's time (and the wall clock), target and achieved rates, iterations
// in flight, the users present (and, in a closed model, the users the curve
// wants), the windowed latency percentiles (Collector::kWindowSeconds), the
// cumulative request and error counts, the error rate of the last interval,
// and per task the achieved rate, windowed p50/p99 and interval error rate;
// the cumulative late and dropped arrivals, responses by status class and
// HTTP bytes sent and received; and, when the collection round's
// statistics are passed in, the windowed service time (send to last byte)
// p50/p99 (docs/report.md#what-the-results-file-gains).
//
// to_json() writes columns (one array per field) rather than rows: that is
// what the report's charts consume, and it is about half the size. Values
// are rounded (milliseconds to 1 us, rates to 0.01) so that a one-hour run
// stays small. Runs longer than kMaxPoints rounds are thinned evenly (every
// k-th point plus the last one) when serialized; counters are cumulative, so
// thinning loses resolution but no requests.
//
// The profile's end: a round shorter than half a second taken there (the
// run's last flush) is folded into the point before (its totals, in-flight
// counts and error rate), and a closed model's point there keeps the users
// wanted during its last second; so the series end on the profile's last
// second and never on a target of 0 the run did not have.
//
// Thread-safety: none. add() is called on the engine's collector thread.
#include <array>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/snapshot.h"

namespace loadpilot::report {

class TimeSeries {
 public:
  static constexpr std::size_t kMaxPoints = 7200;  // two hours at 1 s

  struct TaskPoint {
    double rps = 0;
    double p50_ms = 0, p99_ms = 0;
    double error_rate = 0;  // percent of this task's requests in the interval
  };
  struct Point {
    double t = 0;       // seconds since the run started
    double unix_s = 0;  // wall clock when the point was taken (Unix seconds)
    double target_rps = 0, current_rps = 0, iterations_rps = 0;
    std::uint64_t active = 0;
    std::uint64_t active_users = 0, target_users = 0;
    double p50_ms = 0, p90_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
    std::uint64_t requests = 0, errors = 0;  // cumulative
    double error_rate = 0;                   // percent of requests in the interval
    std::uint64_t late = 0, dropped = 0;     // arrivals, cumulative
    // Cumulative: requests by metrics::ResponseClass, and HTTP bytes.
    std::array<std::uint64_t, metrics::kResponseClassCount> responses{};
    std::uint64_t bytes_sent = 0, bytes_received = 0;
    double service_p50_ms = 0, service_p99_ms = 0;  // windowed, send to last byte
    std::vector<TaskPoint> tasks;                   // indexed like task_names()
    metrics::GeneratorHealth generator;             // the load generator's own side
  };

  // `closed`: a closed model's run, whose users to_json() writes out.
  explicit TimeSeries(std::vector<std::string> task_names, bool closed = false);

  // Stamps the point with the wall clock now, or with `unix_s` (tests).
  void add(const metrics::Snapshot& s);
  void add(const metrics::Snapshot& s, double unix_s);
  // The same, with the round's own statistics (Collector::last_round()),
  // from which the point also gets its service-time percentiles.
  void add(const metrics::Snapshot& s, const metrics::IntervalStats& round);
  void add(const metrics::Snapshot& s, const metrics::IntervalStats& round, double unix_s);

  // Every point added, unthinned (report/csv_export.h writes them all).
  const std::vector<Point>& points() const { return points_; }
  const std::vector<std::string>& task_names() const { return task_names_; }

  // {"interval_s": 1, "t": [...], "target_rps": [...], "current_rps": [...],
  //  "iterations_rps": [...], "active": [...], "p50_ms": [...], "p95_ms": [...],
  //  "p99_ms": [...], "max_ms": [...], "requests": [...], "errors": [...],
  //  "error_rate": [...], "late": [...], "dropped": [...],
  //  "responses_2xx", "responses_3xx", "responses_4xx", "responses_5xx",
  //  "responses_none", "bytes_sent", "bytes_received": [...] (cumulative),
  //  with round statistics: "service_p50_ms": [...], "service_p99_ms": [...],
  //  closed model only: "active_users": [...], "target_users": [...],
  //  "tasks": [{"name": "...", "rps": [...], "p50_ms": [...], "p99_ms": [...],
  //             "error_rate": [...]}]}
  nlohmann::json to_json() const;

 private:
  std::vector<std::string> task_names_;
  bool closed_;
  std::vector<Point> points_;
  // Cumulative counters at the previous point, to turn them into interval
  // rates: [0] all tasks, [i + 1] task i.
  std::vector<std::uint64_t> last_attempts_, last_errors_;  // error-rate counters
  // The same counters at the point before the last: a round folded into
  // the last point gets its error rate over both intervals.
  std::vector<std::uint64_t> base_attempts_, base_errors_;
  // A round this short taken at the profile's end is the run's last flush,
  // not a second of its own: it is folded into the point before.
  static constexpr double kShortRoundS = 0.5;
  void fold_into_last(const metrics::Snapshot& s);
  static void take_window_and_totals(Point& p, const metrics::Snapshot& s);
  // Service-time histograms of the last Collector::kWindowSeconds rounds.
  std::deque<metrics::Histogram> service_window_;
  bool has_service_ = false;  // some point came with its round's statistics
};

}  // namespace loadpilot::report
