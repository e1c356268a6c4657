#include "run/auto_agents.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "load/profile.h"
#include "run/run_config.h"

namespace loadpilot::cli {

AutoAgents choose_agents(const plan::Plan& plan, const AutoAgentsInput& in) {
  const plan::ProfileSpec& spec = plan.profile;
  // A closed model's rate is its users' pace, not known in advance.
  if (!in.python || spec.closed()) return {};
  const load::Profile profile = load::Profile::from_spec(spec);
  if (profile.total_s() < kAutoAgentsMinSeconds) return {};
  std::string load;
  if (spec.unlimited) {
    load = "rps=\"max\"";
  } else {
    const double peak = profile.peak_rate();
    if (peak < kAutoAgentsMinRate) return {};
    load = fmt::format("up to {:.0f} iterations/s", peak);
  }
  std::size_t n = std::min<std::size_t>(in.cores, kMaxProcesses);
  n = std::min(n, in.connections);
  if (in.workers) n = std::min(n, in.workers);
  if (in.max_vusers) n = std::min(n, in.max_vusers);
  if (n <= 1) return {};
  return {n,
          fmt::format("--agents auto: Python tasks at {} on {} cores; --agents 1 for one process",
                      load, in.cores)};
}

std::size_t available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<std::size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace loadpilot::cli
