#pragma once
// `--agents auto`, the default of `loadpilot run` (docs/engine.md#processes):
// how many local agent processes a run gets when none were asked for.
#include <cstddef>
#include <string>

#include "plan/plan.h"

namespace loadpilot::cli {

// Below this peak rate (iterations/s) one Python thread keeps up with a
// task of a request or two, so a run stays in one process.
inline constexpr double kAutoAgentsMinRate = 10000;
// Runs shorter than this stay in one process: each agent starts an
// interpreter and loads the scenario (a few hundred ms on a busy machine),
// and a short run is most often a smoke test.
inline constexpr double kAutoAgentsMinSeconds = 5;

struct AutoAgents {
  std::size_t agents = 1;
  // Why it is more than one, for the start line; empty for one.
  std::string why;
};

// What the run needs, as far as the choice goes.
struct AutoAgentsInput {
  bool python = false;    // some task runs as Python (one thread per process)
  std::size_t cores = 1;  // the cores this process may run on
  std::size_t connections = 1;
  std::size_t workers = 0;     // --workers, 0 when not given
  std::size_t max_vusers = 0;  // the VUser pool, 0 when there is none
};

// One process unless the run's tasks run in Python and one Python thread
// would be its bottleneck: rps="max", or a peak rate of at least
// kAutoAgentsMinRate, for at least kAutoAgentsMinSeconds. Then one agent
// per core, no more than the connections, --workers and the VUser pool
// allow (each agent needs one of each).
AutoAgents choose_agents(const plan::Plan& plan, const AutoAgentsInput& in);

// The cores this process may run on (its affinity mask), at least 1.
std::size_t available_cores();

}  // namespace loadpilot::cli
