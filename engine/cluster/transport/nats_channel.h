#pragma once
// NatsChannel: the coordinator's end of the link to one external agent
// (`loadpilot agent`, docs/distributed.md), over a NATS server. Frames
// arrive on loadpilot.run.<run>.frames.<index>; control goes out on
// loadpilot.run.<run>.control.<index> (cluster/protocol.h).
//
// It subscribes when constructed — before the agent is given the run, so
// no frame is missed — and keeps what arrives until open(). Frames of
// other runs are dropped.
//
// Round frames are numbered 1, 2, ...; the agent keeps the ones it sent.
// A NATS server keeps nothing, so a frame published while the coordinator
// was away (a server restart) is gone: when a number is skipped, or the
// end frame says more were sent than came, the channel asks the agent to
// send the missing ones again ({"type":"resend","seqs":[...]}, at most once
// a second per gap) and passes each on once, whenever it comes. The
// agent's {"type":"exit"} frame closes the channel with its words — after
// the missing rounds came, or kResendWait later (AgentLink then reports
// what never came). kill() sends an abort and closes it at once.
//
// A frame that comes after more than 1.5 s without one is answered at once
// with {"type":"heartbeat"} on the agent's control subject: the agent was
// cut off and heard no heartbeat meanwhile.
//
// go(t0) translates t0 into the agent's clock with the offset the
// coordinator measured (agent's steady clock minus this one's).
//
// Thread-safety: as Channel. Frames are delivered on nats.c's thread; a
// close held back for missing rounds happens on a thread of its own.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/transport/channel.h"
#include "cluster/transport/nats_client.h"

namespace loadpilot::agents {

struct Frame;  // cluster/frame.h

class NatsChannel : public Channel {
 public:
  // How long an exit waits for rounds asked again.
  static constexpr std::chrono::seconds kResendWait{3};

  NatsChannel(NatsClient& nats, std::string run_id, std::size_t index, std::size_t count,
              std::string agent_id, std::chrono::nanoseconds clock_offset);
  ~NatsChannel() override;

  void open(std::function<void(std::string_view)> on_line,
            std::function<void(std::string)> on_closed) override;
  void open_parsed(OnFrame on_frame, std::function<void(std::string)> on_closed) override;
  void go(std::chrono::steady_clock::time_point t0) override;
  void stop() override;
  void kill() override;
  void join() override;
  std::string who() const override;
  bool ends_when_silent() const override { return false; }

 private:
  void deliver(const std::string& data);
  // mu_ held, opened; `parsed`: the frame read from `data`, or null to read it.
  void handle(const std::string& data, Frame* parsed);
  void close(std::string how);                              // mu_ held
  void ask_again();                                         // mu_ held
  void send_now(const char* type, std::int64_t t0_ns = 0);  // without waiting
  void send(const char* type, std::int64_t t0_ns = 0);      // and flushed, but a go

  NatsClient& nats_;
  std::string run_id_;
  std::size_t index_, count_;
  std::string agent_id_;
  std::chrono::nanoseconds offset_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool opened_ = false, closed_ = false;
  std::vector<std::string> early_;  // frames before open()
  OnFrame on_frame_;
  std::function<void(std::string)> on_closed_;
  // Round numbers passed on, the highest one known to exist, and when the
  // missing ones were last asked for.
  std::set<std::uint64_t> seen_;
  std::uint64_t known_ = 0;
  std::optional<std::chrono::steady_clock::time_point> asked_at_;
  std::optional<std::string> exit_how_;  // the exit frame came; closing waits
  // When its last frame came; a frame after more than kReturnAfter (its
  // rounds come once a second) is answered with a heartbeat.
  static constexpr std::chrono::milliseconds kReturnAfter{1500};
  std::optional<std::chrono::steady_clock::time_point> heard_at_;
  std::thread closer_;
  std::unique_ptr<NatsClient::Subscription> sub_;
};

}  // namespace loadpilot::agents
