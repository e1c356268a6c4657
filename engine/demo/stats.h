#pragma once
// Request counting for /stats: exact, and cheap on the hot path.
//
// Each worker owns a RouteCounters and is its only writer, so counting is a
// relaxed load and store, no read-modify-write shared between cores. /stats
// sums all workers' counters (relaxed loads from any thread). Counters never
// go down: a reset records the current sums as a baseline that later
// snapshots subtract, so a reset can never lose an increment racing with it.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "demo/routes.h"

namespace loadpilot::demo {

using RouteCounts = std::array<std::uint64_t, kCountedRoutes>;

class alignas(64) RouteCounters {
 public:
  // Only the owning worker's thread may call this.
  void count(Route r) {
    auto& c = counts_[static_cast<std::size_t>(r)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Any thread.
  std::uint64_t get(std::size_t route) const {
    return counts_[route].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kCountedRoutes> counts_{};
};

// StatsBoard: the merged view. add() all counters before serving starts;
// snapshot(), reset() and to_json() are then safe from any thread.
class StatsBoard {
 public:
  void add(const RouteCounters* counters) { workers_.push_back(counters); }

  RouteCounts snapshot() const;  // counts since the last reset
  void reset();
  // {"total":N,"routes":{"GET /health":n,...}}, every route present.
  std::string to_json() const;

 private:
  RouteCounts totals() const;

  std::vector<const RouteCounters*> workers_;
  mutable std::mutex mu_;
  RouteCounts baseline_{};
};

}  // namespace loadpilot::demo
