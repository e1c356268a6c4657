#pragma once
// Source: what the Engine drives once a second — something that starts
// iterations on the run's schedule and reports what it measured. A Worker
// (a thread of this process) is one; an agent process (agents/) is another,
// standing for a whole child `loadpilot run` that takes a share of the
// schedule.
//
// Thread-safety: every method may be called from any thread. The sink
// passed to report() may be called on another thread, exactly once.
#include <chrono>
#include <functional>

#include "metrics/snapshot.h"

namespace loadpilot::load {

class Source {
 public:
  virtual ~Source() = default;
  // Starts its share of the schedule, whose time origin is t0.
  virtual void start(std::chrono::steady_clock::time_point t0) = 0;
  // Hands the measurements since the last report to `sink`.
  virtual void report(std::function<void(metrics::WorkerReport&&)> sink) = 0;
  // Stops starting new iterations; in-flight ones continue.
  virtual void stop_arrivals() = 0;
  // Ends the run for this source: no new iterations, and what is still in
  // flight is counted as cut off (docs/output.md#iterations). A source that
  // keeps its own books (an agent process) may do this by itself.
  virtual void cut_off() { stop_arrivals(); }
  // Abandons what is in flight and ends.
  virtual void abort() = 0;
  virtual void join() = 0;
};

}  // namespace loadpilot::load
