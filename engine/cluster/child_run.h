#pragma once
// ChildRun: a `loadpilot run` this process starts to run part of a
// distributed run — a local agent (`run --agents N`), a persistent agent's
// run (`loadpilot agent`), the coordinator service's run child
// (`coordinator --serve`) — and the one place its command line is written
// (docs/architecture.md#where-each-role-lives). The child reads its share
// from these options; what passes on its pipes afterwards is the frames
// of cluster/protocol.h (its pipe end: PipeEnd below).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "run/run_config.h"

namespace loadpilot::agents {

struct ChildRun {
  std::string target;
  std::string scenario;
  std::string file;       // the scenario file, relative to the child's folder
  std::string plan_file;  // the plan as the coordinator resolved it; empty: none
  // Overrides of the scenario's own profile (local agents load the file).
  std::optional<std::string> rps, duration, ramp_up, mode;
  std::optional<int> steps, users;
  std::size_t max_vusers = 0;  // 0: not given
  std::size_t max_connections = 0;
  std::size_t workers = 0;  // 0: not given
  std::string timeout = "30s";
  std::string drain = "2s";
  std::uint64_t seed = 1;
  bool insecure = false;
  std::string http_version;  // --http-version; empty: the scenario's own
  // Share I of N of an agents' run (--agent I/N): frames on fd 3, control
  // on fd 4, no output of its own.
  std::optional<cli::AgentShare> share;
  // The coordinator service's run child: coordinates the service's N
  // external agents and reports on fd 3 in ndjson.
  std::size_t external_agents = 0;
  std::string agents_timeout, agent_lost_after, results_json;
  bool serve_child = false;
};

// `loadpilot run ...` for `run`, this program first (argv[0]).
std::vector<std::string> command_line(const ChildRun& run);

// This program's path, for its children.
std::string self_exe();

// The child's end of the pipes (cluster/transport/pipe_channel.h): lines
// out on fd 3, lines in on fd 4.
namespace pipe_end {
inline constexpr int kFramesFd = 3;
inline constexpr int kControlFd = 4;
// Both fds open: this process was started as a child run.
bool open();
// One line on fd 3 (a newline added); false when the parent has gone.
bool write_line(const std::string& line);
// One line from fd 4, without its newline; nullopt at its end.
std::optional<std::string> read_line();
// "go T0_NS" from fd 4: the start instant, nullopt when the parent went
// away or sent anything else.
std::optional<std::chrono::steady_clock::time_point> read_go();
}  // namespace pipe_end

}  // namespace loadpilot::agents
