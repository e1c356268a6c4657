#pragma once
// `loadpilot agent --simulate N` (docs/distributed.md#simulated-agents): N
// agent identities in one process, for measuring a coordinator with many
// agents on one machine. Each speaks the real protocol (cluster/protocol.h)
// over one connection to a real NATS server: it announces itself while
// idle, answers clock requests, takes its share of a run when assigned
// (hello at once), starts at the go's t0, and sends a round frame of about
// `frame_bytes` bytes a second that counts its share of the schedule as
// started and finished (cluster/agent/simulated_round.h), then its end and
// exit frames. It sends no HTTP and runs no scenario code; it does not keep
// frames to send again (a frame the coordinator misses stays missing and
// fails that run's books, which is what a measurement wants to see).
//
// Ids are `<agent-id>-<i>` (i from 0, four digits at least). SIGINT or
// SIGTERM ends it; each run's start spread is printed on stderr:
//   simulate: run R: 1000 agents started within 1.2 ms (the last 0.4 ms after t0;
//   0 go messages came late)
#include <cstddef>
#include <string>

#include "cluster/agent/persistent_agent.h"

namespace loadpilot::cli {

struct SimulateArgs {
  std::size_t agents = 0;  // 0: a real agent, not simulated ones
  std::size_t frame_bytes = 10'000;
};

int simulate_command(const AgentArgs& args, const SimulateArgs& sim);

}  // namespace loadpilot::cli
