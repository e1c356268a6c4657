#pragma once
// `loadpilot find`'s options (docs/capacity.md); the search itself:
// capacity/find_run.h.
#include "capacity/find_run.h"

namespace CLI {
class App;
}

namespace loadpilot::cli {

void add_find_command(CLI::App& app, FindArgs& a);
// --external-agents, --nats-*, --agents-timeout, --agent-lost-after,
// --coordinator-url, --api-token (defined with `run`'s options).
void add_remote_agent_options(CLI::App& cmd, RunArgs& a);

}  // namespace loadpilot::cli
