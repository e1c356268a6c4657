#pragma once
// NatsChannel: the coordinator's end of the link to one external agent
// (`loadpilot agent`, docs/distributed.md), over a NATS server. Frames
// arrive on loadpilot.run.<run>.frames.<index>; control goes out on
// loadpilot.run.<run>.control.<index> (agents/protocol.h).
//
// It subscribes when constructed — before the agent is given the run, so
// no frame is missed — and keeps what arrives until open(). Frames of
// other runs are dropped. The agent's {"type":"exit"} frame closes the
// channel with its words; kill() sends an abort and closes it at once (an
// agent that is not listening any more cannot say how it ended).
//
// go(t0) translates t0 into the agent's clock with the offset the
// coordinator measured (agent's steady clock minus this one's).
//
// Thread-safety: as Channel. Frames are delivered on nats.c's thread.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agents/channel.h"
#include "agents/nats_client.h"

namespace loadpilot::agents {

class NatsChannel : public Channel {
 public:
  NatsChannel(NatsClient& nats, std::string run_id, std::size_t index, std::size_t count,
              std::string agent_id, std::chrono::nanoseconds clock_offset);
  ~NatsChannel() override;

  void open(std::function<void(std::string_view)> on_line,
            std::function<void(std::string)> on_closed) override;
  void go(std::chrono::steady_clock::time_point t0) override;
  void stop() override;
  void kill() override;
  void join() override {}
  std::string who() const override;
  bool ends_when_silent() const override { return false; }

 private:
  void deliver(const std::string& data);
  void close(std::string how);  // mu_ held
  void send(const char* type, std::int64_t t0_ns = 0);

  NatsClient& nats_;
  std::string run_id_;
  std::size_t index_, count_;
  std::string agent_id_;
  std::chrono::nanoseconds offset_;
  std::mutex mu_;
  bool opened_ = false, closed_ = false;
  std::vector<std::string> early_;  // frames before open()
  std::function<void(std::string_view)> on_line_;
  std::function<void(std::string)> on_closed_;
  std::unique_ptr<NatsClient::Subscription> sub_;
};

}  // namespace loadpilot::agents
