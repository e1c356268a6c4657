#pragma once
// ServeChild: the run process of the coordinator service
// (`loadpilot coordinator --serve`, docs/distributed.md#the-coordinator-service).
// For each POST /run the service starts a `loadpilot run ... --external-agents N
// --serve-child` with the pipes of cluster/transport/pipe_channel.h: this run
// coordinates the service's agents as any `--external-agents` run does, and
// reports to the service on fd 3 — one JSON line each:
//   {"type":"hello","tasks":[...],"start_in_ms":N}  its agents are ready
//   {"type":"snapshot",...}                          the --output ndjson lines
//   {"type":"round","seq":N,"stats":{...},"in_flight":N,"connections":N,
//    "elapsed_s":S,"phase":P,"target_rps":R}          the merged round
//   {"type":"summary",...}                            as --output ndjson
//   {"type":"end","fatal":"...","blocked":B,"rounds":N}
// After hello it waits for "go <t0>" on fd 4 and starts at t0 or after its
// agents' start lead, whichever is later. hello, round and end are the
// agents' frames (cluster/protocol.h), so the client of the service keeps
// the books of the whole run with an AgentLink, as for one agent.
//
// Thread-safety: one thread at a time (the run thread, then the collector's
// callback, then the run thread again).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "load/engine.h"
#include "metrics/snapshot.h"
#include "run/session.h"

namespace loadpilot::cli {

class ServeChild : public SnapshotSink {
 public:
  // Null when fds 3 and 4 are not open (not started by the service).
  static std::unique_ptr<ServeChild> open();
  ~ServeChild() override;

  // Where the ndjson lines go.
  std::FILE* out() const { return out_; }
  // Says hello (with its metric rows, the start lead and how many agents
  // run it) and waits for go. Returns the start instant, or nothing when
  // the service went away.
  std::optional<std::chrono::steady_clock::time_point> hello_and_wait(
      const std::vector<std::string>& tasks, std::chrono::milliseconds lead, std::size_t agents);
  // One round frame (the collector's last round); false when the service
  // is gone.
  bool on_snapshot(const load::Engine& engine, const metrics::Snapshot& s) override;
  void end(const std::vector<std::string>& problems, bool blocked) override;

 private:
  explicit ServeChild(std::FILE* out) : out_(out) {}
  bool write(const std::string& line);
  std::FILE* out_;
  std::uint64_t seq_ = 0;
};

}  // namespace loadpilot::cli
