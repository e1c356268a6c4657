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
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
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

// Requests counted by their X-Demo-Tag header (http::Request::tag), at
// most kSlots distinct values per worker (32 bytes each at most); the rest
// under "(other)". One writer (the owning worker); any thread reads: a
// slot's name is written before its `used` flag is released.
class alignas(64) TagCounters {
 public:
  static constexpr std::size_t kSlots = 16;
  static constexpr std::size_t kMaxName = 32;
  // Only the owning worker's thread; an empty tag is not counted.
  void count(std::string_view tag);
  // Any thread: each used slot's name and count, then "(other)" when any.
  std::vector<std::pair<std::string, std::uint64_t>> read() const;

 private:
  struct Slot {
    std::array<char, kMaxName> name{};
    std::size_t size = 0;
    std::atomic<bool> used{false};
    std::atomic<std::uint64_t> count{0};
  };
  std::array<Slot, kSlots> slots_;
  std::atomic<std::uint64_t> other_{0};
};

// StatsBoard: the merged view. add() all counters before serving starts;
// snapshot(), reset() and to_json() are then safe from any thread.
class StatsBoard {
 public:
  void add(const RouteCounters* counters) { workers_.push_back(counters); }
  void add_tags(const TagCounters* tags) { tags_.push_back(tags); }
  // Requests by X-Demo-Tag since the last reset, summed over workers.
  std::vector<std::pair<std::string, std::uint64_t>> tag_counts() const;

  RouteCounts snapshot() const;  // counts since the last reset
  void reset();
  // {"total":N,"routes":{"GET /health":n,...},"tags":{"TAG":n,...}}, every
  // route present, tags only as seen.
  std::string to_json() const;

 private:
  RouteCounts totals() const;

  std::vector<std::pair<std::string, std::uint64_t>> tag_totals() const;

  std::vector<const RouteCounters*> workers_;
  std::vector<const TagCounters*> tags_;
  mutable std::mutex mu_;
  RouteCounts baseline_{};
  std::map<std::string, std::uint64_t> tag_baseline_;
};

}  // namespace loadpilot::demo
