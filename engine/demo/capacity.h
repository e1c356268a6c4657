#pragma once
// CapacityPool: demo-api's `--capacity N` (docs/capacity.md#a-target-with-a-known-capacity).
// A service with a known capacity, as a ground truth for capacity searches:
// `workers` servers, each taking a fixed service time of workers / N seconds
// per request, first come first served. Below N requests/s every request
// finds a free server and takes the service time; above it they queue, so
// latency climbs for as long as the excess lasts.
//
// No thread is blocked: admit() only computes when a request's response is
// ready (the connection holds it on a timer until then), so the pool itself
// is the only bound on throughput.
//
// Thread-safety: admit() may be called from any thread (one mutex; a few
// thousand calls a second cost nothing).
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <vector>

namespace loadpilot::demo {

class CapacityPool {
 public:
  using Clock = std::chrono::steady_clock;

  // Workers when --capacity-workers is not given: a service time near
  // 20 ms (capacity x 0.02, at least 1).
  static int default_workers(double capacity_rps);

  // capacity_rps > 0; workers >= 1 (0: default_workers()).
  CapacityPool(double capacity_rps, int workers);

  // A request received at `received`: when its response is ready — after
  // the earliest-free server is free, plus the service time.
  Clock::time_point admit(Clock::time_point received);

  Clock::duration service_time() const { return service_; }
  int workers() const { return workers_; }

 private:
  int workers_;
  Clock::duration service_;
  std::mutex mu_;
  // When each server is next free, earliest on top.
  std::priority_queue<Clock::time_point, std::vector<Clock::time_point>,
                      std::greater<Clock::time_point>>
      free_at_;
};

}  // namespace loadpilot::demo
