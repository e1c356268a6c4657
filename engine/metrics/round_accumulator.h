#pragma once
// RoundAccumulator: one second's measurements summed as they arrive, from
// many threads, so that closing the round merges a few partial sums instead
// of one report per source. A coordinator of 1,000 agents gets 1,000 round
// frames a second; merged one by one when the round closes, they held the
// collector thread for tens of milliseconds of CPU (and, on a busy machine,
// much longer in wall time) just when the round was due. Merged as each
// frame arrives, on the thread that read it, the cost is spread over the
// second and the round's close takes kShards sums (docs/distributed.md).
//
// Contract: add() merges exactly (IntervalStats::merge); take() returns
// everything added since the last take() and nothing twice: each add()
// lands in exactly one take(), the one after it or a later one.
//
// Thread-safety: add() from any thread; it locks one of kShards shards,
// the first free one from a place chosen by the calling thread, so two
// delivery threads rarely wait on each other. take() from one thread at a
// time.
#include <array>
#include <cstddef>
#include <mutex>

#include "metrics/stats.h"

namespace loadpilot::metrics {

class RoundAccumulator {
 public:
  static constexpr std::size_t kShards = 4;

  explicit RoundAccumulator(std::size_t task_count);
  RoundAccumulator(const RoundAccumulator&) = delete;
  RoundAccumulator& operator=(const RoundAccumulator&) = delete;

  void add(IntervalStats&& stats);
  IntervalStats take();

 private:
  struct Shard {
    std::mutex mu;
    IntervalStats sum;
    bool empty = true;
  };
  std::size_t task_count_;
  std::array<Shard, kShards> shards_;
};

}  // namespace loadpilot::metrics
