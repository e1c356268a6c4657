#pragma once
// Faults: the behaviour knobs of DemoOptions as decisions per request —
// when a response may be released (latency, jitter, stall windows) and
// whether it becomes an injected 503.
//
// One per worker, each with its own generator seeded from (seed, worker), so
// a run is repeatable for a given seed and thread count. Not thread-safe.
#include <chrono>
#include <cstdint>
#include <random>

#include "demo/demo_api.h"

namespace loadpilot::demo {

class Faults {
 public:
  using Clock = std::chrono::steady_clock;

  // `start`: the server's start, origin of the stall windows.
  Faults(const DemoOptions& options, Clock::time_point start, int worker_index);

  // Whether release_time() can ever differ from the receipt time.
  bool delays() const { return delays_; }
  // Draws: true for error_rate percent of calls.
  bool inject_error();
  // When a response to a request received at `received` may be sent.
  Clock::time_point release_time(Clock::time_point received);

 private:
  Clock::time_point start_;
  Clock::duration latency_{};
  double jitter_ns_ = 0;
  double error_rate_ = 0;
  Clock::duration stall_every_{};
  Clock::duration stall_for_{};
  bool delays_ = false;
  std::mt19937_64 rng_;
};

}  // namespace loadpilot::demo
