#pragma once
// ExternalAgents: the coordinator's side of a run on `loadpilot agent`s
// reached through NATS (`run --external-agents N`, docs/distributed.md):
// finds N idle agents, measures each one's clock offset, keeps the run's
// heartbeat going, and gives each agent its share of the run.
//
// Order of use: discover(), sync_clocks(), start_heartbeat(), then
// connect(i) for every agent (or connect_all()) (which subscribes to its frames and sends it
// its Assignment). The destructor stops the heartbeat: agents that hear
// none stop their load within protocol::kCoordinatorSilence.
//
// Thread-safety: one thread calls the methods (sync_clocks() and
// connect_all() use threads of their own inside); the heartbeat runs on its
// own thread and calls on_broker_lost there.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cluster/protocol.h"
#include "cluster/transport/channel.h"
#include "cluster/transport/nats_client.h"

namespace loadpilot::cli {

struct ExternalAgent {
  std::string id, host;
  std::string instance;  // the agent process (protocol.h: announce)
  long long pid = 0;
  // Its steady clock minus ours, from the round trip with the smallest RTT.
  std::chrono::nanoseconds offset{0};
  double rtt_ms = 0;
};

class ExternalAgents {
 public:
  ExternalAgents(agents::NatsClient& nats, std::string run_id);
  ~ExternalAgents();

  // Waits up to `timeout` for n idle agents. Throws agents::AgentError
  // naming the agents it did see.
  void discover(std::size_t n, std::chrono::milliseconds timeout);
  // Measures every agent's clock, several agents at a time. Throws
  // agents::AgentError when an agent does not answer.
  void sync_clocks();
  // Publishes the heartbeat once a second; calls on_broker_lost once when
  // the NATS server has been away for `broker_timeout`.
  void start_heartbeat(std::chrono::milliseconds broker_timeout,
                       std::function<void(double seconds)> on_broker_lost);
  // The channel to agent `a.index`, after giving it `a` (with this run's id). Throws
  // agents::AgentError when the agent refuses or does not answer.
  std::unique_ptr<agents::Channel> connect(agents::protocol::Assignment a);
  // connect() for every assignment, several agents at a time; the channels
  // in the assignments' order.
  std::vector<std::unique_ptr<agents::Channel>> connect_all(
      std::vector<agents::protocol::Assignment> assignments);

  const std::vector<ExternalAgent>& agents() const { return agents_; }
  // How far ahead of now the run's start must be so that every agent's go
  // message arrives first.
  std::chrono::milliseconds start_lead() const;
  // Half the best round trip of the worst-measured agent: how far one
  // agent's start may be off the intended instant from clock error alone
  // (two agents may be off in opposite directions).
  double max_uncertainty_ms() const;
  nlohmann::json to_json() const;

 private:
  void sync_clock(ExternalAgent& a);
  // Tells the agent process `instance` that `id` is taken; `first` says by
  // whom.
  void refuse(const std::string& id, const std::string& instance, const std::string& first);

  agents::NatsClient& nats_;
  std::string run_id_;
  std::vector<ExternalAgent> agents_;
  std::thread heartbeat_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  // After discover(): refuses other processes announcing a chosen id.
  std::unique_ptr<agents::NatsClient::Subscription> guard_;
};

}  // namespace loadpilot::cli
