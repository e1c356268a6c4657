#pragma once
// Coordinator: the role of a `loadpilot run` that runs no load itself but
// hands shares of its schedule to agents and keeps the run's books
// (docs/distributed.md): N local agent processes (`--agents N`, over
// pipes), N external agents (`--external-agents N`, over NATS), or the
// coordinator service (`--coordinator-url URL`, over HTTP), whose whole run
// is one agent here. All go through one AgentLink per agent
// (cluster/coordinator/agent_link.h); the Engine sees them as Sources. Everything else —
// dashboard, metrics, summary, results, thresholds — is the local run's.
//
// Use: make() (checks and, for external agents, finds them and measures
// their clocks), configure() the EngineOptions, construct the Engine (which
// makes the agents: local ones are spawned, external ones are given their
// assignment), wait_ready(), attach() the Engine for the run, then read
// problems() and add_results() after it.
//
// Thread-safety: one thread; the NATS heartbeat may call Engine::stop().
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster/coordinator/agent_link.h"
#include "cluster/coordinator/external_agents.h"
#include "cluster/transport/http_channel.h"
#include "cluster/transport/nats_client.h"
#include "run/run_config.h"
#include "run/run_setup.h"
#include "run/session.h"

namespace loadpilot::cli {

struct CoordinatorError : SessionError {
  using SessionError::SessionError;
};

class Coordinator : public Session {
 public:
  // Null when the run has no agents. Throws CoordinatorError (exit code 2).
  static std::unique_ptr<Coordinator> make(const RunArgs& args, RunSetup& setup);
  ~Coordinator() override;

  // Makes the engine a coordinator's: no workers, one Source per agent.
  void configure(load::EngineOptions& eo) override;
  // After the Engine exists: every agent said hello with the same metric
  // rows. Throws CoordinatorError.
  void wait_ready(const load::Engine& engine, StartupInterrupt& startup) override;
  // Sets the run's start far enough ahead for every agent (just before
  // Engine::run()).
  void set_start(load::Engine& engine) const override;
  // The engine to stop when the NATS server stays away (null: none).
  void attach(load::Engine* engine) override;

  // How far ahead of now an external run's start must be (0 for local).
  std::chrono::milliseconds start_lead() const;
  std::size_t count() const { return n_; }
  // The agents that run the load, as the run announces them: for the
  // coordinator service, its own agents (count() is 1 there: the service).
  std::size_t agents_shown() const;
  bool external() const { return external_ != nullptr; }
  // The run is the coordinator service's (--coordinator-url).
  bool remote() const { return remote_ != nullptr; }
  // The agents' workers together (local agents).
  std::size_t workers() const { return workers_; }
  // After the run: what went wrong in agents or with the NATS server.
  std::vector<std::string> problems() const override;
  std::vector<std::string> warnings() const override;
  bool python_blocked() const override;
  // lost_agents, and external_agents for a NATS run.
  void add_results(nlohmann::json& results) const override;
  // The external agents' clock line after the summary (nothing for local).
  void print_after_summary(std::FILE* out) const override;
  // The agents shown and their workers.
  void describe(report::LiveHeader& header) const override;

 private:
  Coordinator(const RunArgs& args, RunSetup& setup, std::size_t n);
  void make_external(StartupInterrupt& startup);
  void make_remote(StartupInterrupt& startup);
  // --agents-timeout and --agent-lost-after, checked (CoordinatorError);
  // sets lost_after_ and returns the agents' timeout.
  std::chrono::milliseconds check_agent_timers();

  const RunArgs& args_;
  RunSetup& setup_;
  std::size_t n_;
  std::size_t workers_ = 0;
  std::chrono::milliseconds lost_after_{15000};
  std::vector<agents::AgentLink*> links_;
  // The sum of the agents' round frames since the last round (configure()).
  std::shared_ptr<metrics::RoundAccumulator> merged_;
  std::unique_ptr<agents::NatsClient> nats_;
  std::unique_ptr<ExternalAgents> external_;
  // The external agents' channels, given their shares together, until each
  // one's AgentLink takes its own.
  std::vector<std::unique_ptr<agents::Channel>> channels_;
  // --coordinator-url: the stream, until the Engine's AgentLink takes it;
  // remote_ stays valid while the link lives.
  std::unique_ptr<agents::HttpChannel> remote_channel_;
  agents::HttpChannel* remote_ = nullptr;
  std::chrono::milliseconds ready_timeout_{60000};
  agents::protocol::Bundle bundle_;
  std::atomic<double> broker_lost_s_{0};
  std::atomic<load::Engine*> engine_{nullptr};
};

}  // namespace loadpilot::cli
