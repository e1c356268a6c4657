#pragma once
// `loadpilot agent` (docs/distributed.md#persistent-agents): a persistent
// agent. It connects to a NATS server, announces itself every few seconds
// while idle, and when a coordinator (`run --external-agents N`) gives it a
// share of a run, runs that share in a child `loadpilot run --agent I/N`
// with the plan and scenario bundle it was sent, relays the child's frames
// to the coordinator, then waits for the next run. A coordinator that falls
// silent (no heartbeat for protocol::kCoordinatorSilence) while the agent
// reaches the server has its load stopped; an agent cut off from the server
// keeps its schedule for at most protocol::kUnlinkedLimit
// (agent/coordinator_watch.h). SIGINT/SIGTERM end the agent (and its run,
// drained).
#include <string>

#include "cluster/transport/nats_client.h"

namespace loadpilot::cli {

struct AgentArgs {
  agents::NatsOptions nats;
  std::string agent_id;  // empty: hostname-pid
};

int agent_command(const AgentArgs& args);

}  // namespace loadpilot::cli
