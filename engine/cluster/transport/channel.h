#pragma once
// Channel: the coordinator's end of the link to one agent — how frames
// come from it and how it is told to start and stop. Two kinds
// (docs/distributed.md): PipeChannel, a child process of this machine
// joined by pipes (`--agents N`), and NatsChannel, an agent on any machine
// reached through a NATS server (`--external-agents N`). AgentLink
// (cluster/coordinator/agent_link.h) keeps the books of a run on top of either, so
// local and remote agents share one code path.
//
// Frames and control messages are the ones of cluster/protocol.h.
//
// Contract:
// - open() is called once. on_line receives every frame the agent sends,
//   one JSON document per call, on one thread at a time, in order for a
//   pipe (a NATS frame may come late or twice: frames carry a sequence
//   number). on_closed is called once, when the agent is gone for good,
//   with how it ended in words ("was killed by SIGKILL", "exited with code
//   3"); no on_line follows it.
// - go(t0): start the share of the schedule at t0, an instant of this
//   machine's steady clock (the channel translates it into the agent's).
// - stop(): no new iterations; drain and end. kill(): end at once; for a
//   channel that cannot reach the agent any more, the channel closes
//   itself (on_closed follows).
// - A pipe agent that is silent too long is killed (ends_when_silent());
//   a NATS agent is marked lost and may come back.
//
// Thread-safety: every method may be called from any thread after open().
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace loadpilot::agents {

struct Frame;  // cluster/frame.h

class Channel {
 public:
  // A frame as the agent sent it, and what the channel read of it already
  // (null: not read): a channel that reads every frame anyway (NatsChannel,
  // to check its run) hands it on, so that it is read once, not twice.
  using OnFrame = std::function<void(std::string_view frame, Frame* parsed)>;

  virtual ~Channel() = default;
  virtual void open(std::function<void(std::string_view frame)> on_line,
                    std::function<void(std::string how)> on_closed) = 0;
  // open() for a reader that takes frames read already (AgentLink); the
  // same contract. By default nothing is read before.
  virtual void open_parsed(OnFrame on_frame, std::function<void(std::string how)> on_closed) {
    open([on_frame = std::move(on_frame)](std::string_view line) { on_frame(line, nullptr); },
         std::move(on_closed));
  }
  virtual void go(std::chrono::steady_clock::time_point t0) = 0;
  virtual void stop() = 0;
  virtual void kill() = 0;
  // Waits until on_closed has been called (after kill(), promptly).
  virtual void join() = 0;
  // How messages name this agent: "agent 2 of 3 (pid 4242)",
  // "agent host-a-17 (2 of 3)".
  virtual std::string who() const = 0;
  virtual bool ends_when_silent() const = 0;
  // The agent's process id on this machine, or -1 (a remote agent).
  virtual long long process_id() const { return -1; }
};

}  // namespace loadpilot::agents
