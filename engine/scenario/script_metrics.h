#pragma once
// ScriptMetrics: the process's storage of the custom metrics a scenario's
// Python code declares and adds to (loadpilot.metrics,
// docs/scenarios.md#custom-metrics), behind the embedded module
// `_loadpilot_metrics`.
//
// Declarations are process-wide (a scenario file is imported once per
// process) and give each name a slot, so that `.add(value)` is one call
// with an index: no lookup by name on the hot path. Values are kept while
// a run is open (VUserRuntime::start() to its end) and taken once a second
// by the VUserRuntime with its other measurements; a value added while the
// file is imported is refused (it belongs to no run: each process that
// imports the file would count it), one added after the run is ignored.
//
// Thread-safety: every member takes the one mutex; the Python thread adds,
// the collector takes.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "metrics/custom_metrics.h"
#include "plan/custom_keys.h"

namespace loadpilot::scenario {

class ScriptMetrics {
 public:
  static ScriptMetrics& instance();

  // The slot of NAME (a new one when NAME is new). Throws
  // std::invalid_argument past plan::kMaxCustomMetrics names or when NAME
  // has another kind (loadpilot.metrics checks both first, with the
  // caller's file and line).
  std::size_t declare(const std::string& name, metrics::CustomKind kind, const std::string& where);
  // The metrics declared so far, in order.
  std::vector<plan::CustomMetricSpec> declared() const;

  // Why VALUE cannot be added to SLOT ("" when it can), else adds it.
  std::string add(std::size_t slot, double value);
  // The name of SLOT, for messages.
  std::string name_of(std::size_t slot) const;

  // A run starts at T0: values are kept from now, and STOP_RUN ends the
  // run when the scenario's code cannot go on (refuse()).
  void open(std::chrono::steady_clock::time_point t0,
            std::function<void(const std::string&)> stop_run);
  // The run is over: values added from now are ignored.
  void close();
  // Everything added since the last take(), but by the threads kept apart.
  metrics::CustomMetrics take();
  // A VUserRuntime's Python thread: what it adds is kept apart and taken
  // by take_thread(), so that each scenario of a run of several has its
  // own values (each scenario's runtime has its own thread).
  void keep_thread_apart(std::thread::id thread);
  // What THREAD added since its last take_thread().
  metrics::CustomMetrics take_thread(std::thread::id thread);
  // The scenario's code asked for what cannot be given (too many names):
  // ends the run with MESSAGE when one is open.
  void refuse(const std::string& message);

  enum class State { kImporting, kOpen, kClosed };
  State state() const;

 private:
  mutable std::mutex mu_;
  metrics::CustomMetrics current_;
  // The threads kept apart and their values (their slots are current_'s,
  // those declared after the thread was kept apart added as first used).
  std::vector<std::pair<std::thread::id, metrics::CustomMetrics>> threads_;
  std::vector<std::string> where_;
  State state_ = State::kImporting;
  std::chrono::steady_clock::time_point t0_{};
  std::function<void(const std::string&)> stop_run_;
};

}  // namespace loadpilot::scenario
