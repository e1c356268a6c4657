#pragma once
// `loadpilot run --processes N` (docs/engine.md#processes): the coordinator
// spawns N agent processes (cluster/coordinator/agent_link.h, cluster/transport/pipe_channel.h),
// each a `loadpilot run` with the hidden option `--agent I/N` that runs share I of the schedule and
// reports to it instead of printing anything of its own.
#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "load/engine.h"
#include "plan/plan.h"
#include "run/run_config.h"

namespace loadpilot::scenario {
class VUserRuntime;
}
namespace loadpilot::agents {
class AgentLink;
}

namespace loadpilot::cli {

// Agent i's (0-based) command line: this executable, the scenario as the
// coordinator resolved it, and its share of connections, workers and VUsers.
std::vector<std::string> agent_argv(const RunArgs& args, const plan::Plan& plan, std::size_t i,
                                    std::size_t n, std::size_t max_connections,
                                    std::size_t workers);

// The results file's "lost_agents": one entry per agent that ended before
// its share was done (docs/output.md), after the run.
nlohmann::json lost_agents(const std::vector<agents::AgentLink*>& agents);

// The agent's side of a run: says hello with its metric rows on fd 3, waits
// for "go" on fd 4, runs, sends a frame per round and an end frame. Returns
// the exit code.
int run_as_agent(load::Engine& engine, const scenario::VUserRuntime* vusers);

}  // namespace loadpilot::cli
