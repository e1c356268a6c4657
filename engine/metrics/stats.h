#pragma once
// Measurement containers. A worker thread owns a Recorder and records into
// it without locks; once a second the collector takes the worker's
// IntervalStats (on the worker's own thread, via its event loop) and merges
// them. Every merge here is exact.
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/error_kind.h"
#include "metrics/custom_metrics.h"
#include "metrics/grpc_counts.h"
#include "metrics/histogram.h"
#include "metrics/websocket_counts.h"

namespace loadpilot::metrics {

// PART as a percentage of WHOLE (0 when WHOLE is 0): error rates.
constexpr double percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

// The error rate (docs/output.md#error-rate): failed outcomes over all
// outcomes, where an outcome is one request that reached the wire, or one
// iteration that failed outside any request (user code raised). So a task
// that raises before sending counts, and the rate never exceeds 100%.
struct TaskStats {
  std::uint64_t requests = 0;          // HTTP requests finished (ok or failed)
  std::uint64_t errors = 0;            // failed requests + iteration_errors
  std::uint64_t iteration_errors = 0;  // iterations failed outside a request
  std::uint64_t iterations = 0;        // task iterations finished (ok or failed)
  // Of those, the ones that sent at least one HTTP request: each has at
  // least one request in `requests`, so requests >= wire_iterations is one
  // of the run's books (docs/output.md#iterations). `wire_known` is false
  // when merged counts came from an agent of an older version that did not
  // report them (merged as AND): then the count is partial and not checked.
  std::uint64_t wire_iterations = 0;
  bool wire_known = true;
  std::array<std::uint64_t, kErrorKindCount> errors_by_kind{};
  Histogram latency;    // per request, from the intended start (us)
  Histogram service;    // per request, from send to last byte (us)
  Histogram iteration;  // per iteration, from intended start to end (us)
  // The HTTP methods its requests used, as method_bit() bits (merged as a
  // union): the CSV's Type column (docs/output.md#--csv-prefix).
  std::uint32_t methods = 0;

  std::uint64_t attempts() const { return requests + iteration_errors; }
  void merge(const TaskStats& other);
};

// The bit of an HTTP method in TaskStats::methods; methods not in the list
// share the last bit, "OTHER".
inline constexpr std::string_view kMethodNames[] = {"GET",    "POST", "PUT",     "PATCH",
                                                    "DELETE", "HEAD", "OPTIONS", "OTHER"};
std::uint32_t method_bit(std::string_view method);
// "GET" or "GET/POST": the methods of BITS in kMethodNames order; "" for none.
std::string method_names(std::uint32_t bits);

// A sub-row (docs/scenarios.md#metrics): the requests of task `task` made
// with the literal name= `name`. Each is also counted in the task's own
// row, so run totals never include sub-rows. Keyed by (task, name).
struct NamedStats {
  std::uint32_t task = 0;
  std::string name;
  std::uint64_t requests = 0;  // HTTP requests finished (ok or failed)
  std::uint64_t errors = 0;    // of those, failed
  Histogram latency;           // per request, from the intended start (us)

  void merge(const NamedStats& other);  // counts only; the key is the caller's
};

// Distinct error messages, counted. Bounded: past kMaxDistinct distinct
// messages, further new ones are counted under "(other messages)".
struct ErrorMessages {
  static constexpr std::size_t kMaxDistinct = 200;
  struct Entry {
    std::uint64_t count = 0;
    double first_seen_s = 0;  // seconds since run start
  };
  std::map<std::pair<ErrorKind, std::string>, Entry> entries;

  void add(ErrorKind kind, std::string_view message, double at_s, std::uint64_t count = 1);
  void merge(const ErrorMessages& other);
  // Most frequent first; ties by kind then message.
  std::vector<std::pair<std::pair<ErrorKind, std::string>, Entry>> top(std::size_t n) const;
};

// How a request that reached the wire ended, for the status breakdown
// (docs/output.md#status-classes-and-bytes): without a complete response
// (a transport error or time-out), or with a final status of 2xx..5xx.
enum class ResponseClass : std::uint8_t { kNone, k2xx, k3xx, k4xx, k5xx };
constexpr std::size_t kResponseClassCount = 5;
// "none", "2xx", ... "5xx": the names in JSON, CSV and metrics labels.
std::string_view name(ResponseClass c);
// {"none": n, "2xx": n, ...}: COUNTS indexed by ResponseClass, as the
// results file, the ndjson stream and agents write them.
nlohmann::json responses_json(const std::array<std::uint64_t, kResponseClassCount>& counts);
// A response with final status `status` (200..599), or none when
// `complete` is false.
constexpr ResponseClass response_class(int status, bool complete) {
  if (!complete || status < 200 || status > 599) return ResponseClass::kNone;
  return static_cast<ResponseClass>(status / 100 - 1);
}

// Iteration accounting (docs/output.md#iterations), for every run:
//   planned  = started + dropped + not started (the run stopped first)
//   started  = finished + cut_off
struct IntervalStats {
  std::vector<TaskStats> tasks;  // indexed like Plan::tasks
  // Sub-rows in the order they were first seen; merged by (task, name).
  std::vector<NamedStats> named;
  ErrorMessages messages;
  std::uint64_t iterations_started = 0;
  std::uint64_t dropped = 0;           // arrivals that could not start at all
  std::uint64_t dropped_no_vuser = 0;  // of those: every VUser was busy
  std::uint64_t late = 0;              // arrivals started > 1 ms after they were due
  // Of those: closed-model iterations whose pacing slot (constant_pacing)
  // passed while the user's previous iteration still ran.
  std::uint64_t pacing_late = 0;
  std::uint64_t cut_off = 0;  // started, still running when the run ended
  std::uint64_t retries = 0;  // extra attempts of idempotent requests on the wire
  // Responses by class, indexed by ResponseClass, and the HTTP bytes the
  // requests wrote and read (every hop of a redirect is a request of its own).
  std::array<std::uint64_t, kResponseClassCount> responses{};
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  // Of the responses, those over HTTP/2 (the rest: HTTP/1.1).
  std::uint64_t http2_responses = 0;
  // WebSocket connections, messages and closes (docs/protocols.md#websocket).
  WebSocketCounts websocket;
  // gRPC calls by the status they ended with (docs/protocols.md#grpc).
  GrpcCounts grpc_status;
  // The scenario's own metrics (loadpilot.metrics), merged by name.
  CustomMetrics custom;
  // The busiest engine thread's CPU use over the interval, 0..1 (merged
  // as the maximum): tells a generator that could not keep up from a target
  // that could not.
  double busy = 0;
  // The generator's own health over the interval (docs/engine.md#generator-health),
  // each merged as the maximum: several workers of one machine see one
  // stall, so their figures are not summed.
  //  lag_max_ms: the worst lateness of a worker's probe timer (its event
  //    loop could not run that long), and lag_at_s when it was (seconds
  //    since the run's start); stall_ms: a worker's probe lateness beyond
  //    kStallFloorMs, summed over the interval.
  //  cpu: the process's CPU time over the interval per core it may use,
  //    0..1; steal: the machine's steal time share (/proc/stat), 0..1.
  //  python_cpu: the Python thread's CPU use, 0..1; python_held: the share
  //    of wall time it was away from its event loop (running or blocked in
  //    VUser code), 0..1.
  //  cpu_wait: the share of wall time an engine thread (a worker or the
  //    Python thread) was runnable but waiting for a CPU on a run queue
  //    (load/run_queue.h), the longest of them, 0..1: other processes
  //    sharing its cores.
  static constexpr double kStallFloorMs = 2;
  double lag_max_ms = 0, lag_at_s = 0, stall_ms = 0;
  double cpu = 0, steal = 0, python_cpu = 0, python_held = 0, cpu_wait = 0;
  // When the latest iteration of the interval started, seconds since the
  // run's start (merged as the maximum): the achieved rate's time base.
  double last_start_s = 0;

  explicit IntervalStats(std::size_t task_count = 0) : tasks(task_count) {}
  void merge(const IntervalStats& other);
  // The index in `named` of the sub-row (task, name), added empty when new.
  std::size_t named_row(std::size_t task, std::string_view name);

  // Lossless JSON, for agent processes reporting to their coordinator
  // (histograms as Histogram::to_json). from_json throws
  // std::invalid_argument naming the bad field.
  nlohmann::json to_json() const;
  static IntervalStats from_json(const nlohmann::json& j);
};

// Owned by one worker thread; no synchronisation.
class Recorder {
 public:
  explicit Recorder(std::size_t task_count) : current_(task_count) {}

  static constexpr std::size_t kNotNamed = static_cast<std::size_t>(-1);

  // `error` is nullopt for success. `message` is kept only for errors.
  // `named`, from named_row(), also counts the request in that sub-row.
  void record_request(std::size_t task, std::uint64_t latency_us, std::uint64_t service_us,
                      const ErrorKind* error, std::string_view message, double now_s,
                      std::size_t named = kNotNamed);
  // The sub-row (task, name) to pass to record_request, added when new.
  // Indices stay valid across take().
  std::size_t named_row(std::size_t task, std::string_view name) {
    return current_.named_row(task, name);
  }
  // What one request that ended put on and took off the wire: its class
  // (response_class()) and bytes. Recorded where the response arrives,
  // for every request, whichever row record_request() counts it in.
  // Task TASK sent a request with this method (method_bit()).
  void record_method(std::size_t task, std::uint32_t bit) {
    if (task < current_.tasks.size()) current_.tasks[task].methods |= bit;
  }
  // HTTP2: it went over HTTP/2.
  void record_response(ResponseClass c, std::uint64_t bytes_sent, std::uint64_t bytes_received,
                       bool http2 = false) {
    ++current_.responses[static_cast<std::size_t>(c)];
    current_.http2_responses += http2 ? 1 : 0;
    current_.bytes_sent += bytes_sent;
    current_.bytes_received += bytes_received;
  }
  // REACHED_WIRE: the iteration sent at least one request, each recorded
  // by record_request() before the iteration ends.
  void record_iteration(std::size_t task, std::uint64_t duration_us, bool reached_wire);
  // An iteration-level error not tied to one request (exception, check).
  void record_iteration_error(std::size_t task, ErrorKind kind, std::string_view message,
                              double now_s);
  void record_started(bool late) {
    ++current_.iterations_started;
    if (late) ++current_.late;
  }
  void record_pacing_late() { ++current_.pacing_late; }
  void record_dropped(std::uint64_t n = 1) { current_.dropped += n; }
  void record_dropped_no_vuser() {
    ++current_.dropped;
    ++current_.dropped_no_vuser;
  }
  void record_cut_off(std::uint64_t n) { current_.cut_off += n; }
  void record_retries(std::uint64_t n) { current_.retries += n; }
  WebSocketCounts& websocket() { return current_.websocket; }
  void record_grpc_status(int code) { current_.grpc_status.add(code); }
  void record_busy(double fraction) { current_.busy = std::max(current_.busy, fraction); }
  // One wake of a lag probe, `late_ms` after it was due, at `at_s`.
  void record_lag(double late_ms, double at_s) {
    if (late_ms > current_.lag_max_ms) {
      current_.lag_max_ms = late_ms;
      current_.lag_at_s = at_s;
    }
    if (late_ms > IntervalStats::kStallFloorMs) current_.stall_ms += late_ms;
  }
  void record_python(double cpu, double held) {
    current_.python_cpu = std::max(current_.python_cpu, cpu);
    current_.python_held = std::max(current_.python_held, held);
  }
  // An engine thread's share of the interval spent waiting for a CPU.
  void record_cpu_wait(double share) { current_.cpu_wait = std::max(current_.cpu_wait, share); }
  void note_start(double at_s) { current_.last_start_s = std::max(current_.last_start_s, at_s); }

  // Returns everything recorded since the last take() and starts afresh
  // (sub-rows keep their keys, with zero counts).
  IntervalStats take();

 private:
  IntervalStats current_;
};

}  // namespace loadpilot::metrics
