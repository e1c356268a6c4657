#include "cluster/agent/simulated_round.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "load/engine.h"

namespace loadpilot::agents::sim {

std::uint64_t share_due(const load::Profile& profile, std::size_t index, std::size_t count,
                        double from, double to) {
  const std::uint64_t before =
      from < 0 ? 0 : load::share_of(profile.count_due_by(from), index, count);
  const std::uint64_t by = load::share_of(profile.count_due_by(to), index, count);
  return by > before ? by - before : 0;
}

metrics::IntervalStats round_stats(std::size_t tasks, std::uint64_t started, std::size_t fill,
                                   double last_start_s) {
  metrics::IntervalStats s(std::max<std::size_t>(1, tasks));
  s.iterations_started = started;
  s.last_start_s = started > 0 ? last_start_s : 0;
  for (std::size_t t = 0; t < s.tasks.size(); ++t) {
    metrics::TaskStats& row = s.tasks[t];
    row.iterations = started / s.tasks.size() + (t < started % s.tasks.size() ? 1 : 0);
    row.wire_iterations = row.iterations;
    // One request per iteration, plus (task 0) the filler's requests.
    row.requests = row.iterations + (t == 0 ? fill : 0);
    if (row.requests > 0) row.methods = metrics::method_bit("GET");
    row.latency.record(1000, row.iterations);
    row.service.record(900, row.iterations);
    row.iteration.record(1000, row.iterations);
  }
  for (std::size_t i = 0; i < fill; ++i) {
    const std::uint64_t us = 5000 + 37 * i;
    s.tasks[0].latency.record(us);
    s.tasks[0].service.record(us - 100);
  }
  s.responses[static_cast<std::size_t>(metrics::ResponseClass::k2xx)] = s.tasks[0].requests;
  for (std::size_t t = 1; t < s.tasks.size(); ++t)
    s.responses[static_cast<std::size_t>(metrics::ResponseClass::k2xx)] += s.tasks[t].requests;
  return s;
}

std::string round_frame(const std::string& run_id, const std::string& agent_id, std::uint64_t seq,
                        const metrics::IntervalStats& stats) {
  return nlohmann::json{{"type", "round"},     {"seq", seq},       {"stats", stats.to_json()},
                        {"in_flight", 0},      {"connections", 1}, {"run_id", run_id},
                        {"agent_id", agent_id}}
      .dump();
}

std::size_t fill_for_bytes(std::size_t tasks, std::size_t bytes) {
  const auto size = [&](std::size_t fill) {
    return round_frame("0123456789abcdef", "sim-0000", 100, round_stats(tasks, 100, fill, 99.9))
        .size();
  };
  if (size(0) >= bytes) return 0;
  std::size_t lo = 0, hi = 1;
  while (size(hi) < bytes && hi < (1u << 20)) hi *= 2;
  while (lo + 1 < hi) {  // size(lo) < bytes <= size(hi)
    const std::size_t mid = lo + (hi - lo) / 2;
    (size(mid) < bytes ? lo : hi) = mid;
  }
  return hi;
}

StartSpread start_spread(std::chrono::steady_clock::time_point t0,
                         const std::vector<std::chrono::steady_clock::time_point>& starts,
                         std::size_t late) {
  StartSpread out;
  out.agents = starts.size();
  out.late = late;
  if (starts.empty()) return out;
  const auto [lo, hi] = std::minmax_element(starts.begin(), starts.end());
  out.spread_ms = std::chrono::duration<double, std::milli>(*hi - *lo).count();
  out.worst_late_ms = std::max(0.0, std::chrono::duration<double, std::milli>(*hi - t0).count());
  return out;
}

}  // namespace loadpilot::agents::sim
