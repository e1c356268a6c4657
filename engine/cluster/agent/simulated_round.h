#pragma once
// What a simulated agent (`loadpilot agent --simulate N`,
// cluster/agent/simulated_agents.h) reports, worked out without sockets:
// its share of a run's schedule second by second, round frames of a chosen
// size, and the spread of the instants its agents started at.
//
// The share is the real one: agent `index` of `count` takes iterations k
// with k mod count == index (load/engine.h), and iteration k is due at
// Profile::time_of(k). A round frame's statistics say that the second's
// share started and finished; its histograms are filled with distinct
// latencies (5 ms and up, as a busy agent's wide latencies) until the frame
// is about the asked size, since histogram buckets are what make real frames
// large (docs/distributed.md#at-10-to-1000-agents).
//
// Thread-safety: pure functions and plain values.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "load/profile.h"
#include "metrics/stats.h"

namespace loadpilot::agents::sim {

// Iterations of share `index` of `count` due in (from, to] seconds; from < 0
// counts from the start.
std::uint64_t share_due(const load::Profile& profile, std::size_t index, std::size_t count,
                        double from, double to);

// A round's statistics: `started` iterations started and finished (spread
// over the tasks by their index), with `fill` distinct latencies in each
// task-0 histogram.
metrics::IntervalStats round_stats(std::size_t tasks, std::uint64_t started, std::size_t fill,
                                   double last_start_s);

// The fill that makes a round frame of `tasks` tasks about `bytes` long
// (the first fill at or over it; 0 when even an empty one is longer).
std::size_t fill_for_bytes(std::size_t tasks, std::size_t bytes);

// The round frame as an agent sends it over NATS.
std::string round_frame(const std::string& run_id, const std::string& agent_id, std::uint64_t seq,
                        const metrics::IntervalStats& stats);

// The instants a run's agents started at: how far apart they were.
struct StartSpread {
  std::size_t agents = 0;
  double spread_ms = 0;      // latest start minus earliest
  double worst_late_ms = 0;  // latest start minus the intended t0
  std::size_t late = 0;      // agents whose go came after t0
};
StartSpread start_spread(std::chrono::steady_clock::time_point t0,
                         const std::vector<std::chrono::steady_clock::time_point>& starts,
                         std::size_t late);

}  // namespace loadpilot::agents::sim
