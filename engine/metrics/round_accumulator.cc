#include "metrics/round_accumulator.h"

#include <functional>
#include <thread>
#include <utility>

namespace loadpilot::metrics {

RoundAccumulator::RoundAccumulator(std::size_t task_count) : task_count_(task_count) {
  for (Shard& s : shards_) s.sum = IntervalStats(task_count_);
}

void RoundAccumulator::add(IntervalStats&& stats) {
  const std::size_t first = std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards;
  // The first shard that is free; if every one is busy, wait for the
  // calling thread's own.
  std::unique_lock<std::mutex> lock;
  std::size_t at = first;
  for (std::size_t i = 0; i < kShards; ++i) {
    const std::size_t k = (first + i) % kShards;
    std::unique_lock<std::mutex> tried(shards_[k].mu, std::try_to_lock);
    if (tried.owns_lock()) {
      lock = std::move(tried);
      at = k;
      break;
    }
  }
  if (!lock.owns_lock()) lock = std::unique_lock<std::mutex>(shards_[at].mu);
  Shard& s = shards_[at];
  if (s.empty) {
    // The first frame of a shard's round is taken whole, not copied.
    s.sum = std::move(stats);
    if (s.sum.tasks.size() < task_count_) s.sum.tasks.resize(task_count_);
  } else {
    s.sum.merge(stats);
  }
  s.empty = false;
}

IntervalStats RoundAccumulator::take() {
  IntervalStats out(task_count_);
  for (Shard& s : shards_) {
    IntervalStats taken(task_count_);
    {
      std::lock_guard lock(s.mu);
      if (s.empty) continue;
      std::swap(taken, s.sum);
      s.empty = true;
    }
    out.merge(taken);
  }
  return out;
}

}  // namespace loadpilot::metrics
