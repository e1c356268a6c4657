#include "demo/capacity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace loadpilot::demo {

int CapacityPool::default_workers(double capacity_rps) {
  return std::max(1, static_cast<int>(std::lround(capacity_rps * 0.02)));
}

CapacityPool::CapacityPool(double capacity_rps, int workers)
    : workers_(workers > 0 ? workers : default_workers(capacity_rps)) {
  if (!(capacity_rps > 0)) throw std::invalid_argument("capacity must be > 0");
  service_ = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(workers_) / capacity_rps));
  for (int i = 0; i < workers_; ++i) free_at_.push(Clock::time_point::min());
}

CapacityPool::Clock::time_point CapacityPool::admit(Clock::time_point received) {
  std::lock_guard<std::mutex> lock(mu_);
  const Clock::time_point start = std::max(received, free_at_.top());
  free_at_.pop();
  const Clock::time_point done = start + service_;
  free_at_.push(done);
  return done;
}

}  // namespace loadpilot::demo
