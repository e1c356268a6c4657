#pragma once
// RunRelay: what a run leaves behind on its persistent agent
// (cluster/agent/persistent_agent.h) until the next one: the round frames it
// sent (a coordinator that missed some asks for them again,
// cluster/transport/nats_channel.h), the subscription to its control
// subject, and the agent's judgement of its coordinator.
//
// Thread-safety: on_control() runs on the NATS delivery thread, the rest
// of the agent on its own; `mu` guards rounds, child and the budget.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "cluster/agent/coordinator_watch.h"
#include "cluster/agent/resend_budget.h"
#include "cluster/protocol.h"
#include "cluster/transport/nats_client.h"
#include "cluster/transport/pipe_channel.h"

namespace loadpilot::agents {

struct RunRelay {
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kKeptRounds = 600;
  std::mutex mu;
  std::deque<std::pair<std::uint64_t, std::string>> rounds;  // seq, frame as sent
  PipeChannel* child = nullptr;                              // while it runs
  // The coordinator's last word, and whether to give up on it.
  CoordinatorWatch watch{Clock::now(), protocol::kCoordinatorSilence, std::chrono::seconds(1),
                         std::chrono::seconds(3), protocol::kUnlinkedLimit};
  std::unique_ptr<NatsClient::Subscription> control;
  ResendBudget resend_budget;  // frames sent again, per second
  std::optional<Clock::time_point> refusal_said;

  // A message on the run's control subject: `resend` republishes the
  // rounds asked for (within the budget) through `publish`; go, stop and
  // abort go to the child while it runs. Anything else, or a message for
  // another run, is ignored. `say` logs.
  void on_control(const std::string& data, const std::string& run_id,
                  const std::function<void(const std::string&)>& publish,
                  const std::function<void(const std::string&)>& say);

 private:
  void resend(const std::vector<std::uint64_t>& asked, const std::string& run_id,
              const std::function<void(const std::string&)>& publish,
              const std::function<void(const std::string&)>& say);
};

}  // namespace loadpilot::agents
