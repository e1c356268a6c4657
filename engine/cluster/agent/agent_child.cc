#include "cluster/agent/agent_child.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster/child_run.h"
#include "cluster/coordinator/agent_link.h"
#include "run/exit_codes.h"
#include "run/signal_watcher.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

std::vector<std::string> agent_argv(const RunArgs& args, const plan::Plan& plan, std::size_t i,
                                    std::size_t n, std::size_t max_connections,
                                    std::size_t workers) {
  agents::ChildRun r;
  r.target = plan.target;
  r.scenario = plan.name;
  r.file = args.file;
  r.rps = args.rps;
  r.duration = args.duration;
  r.ramp_up = args.ramp_up;
  r.mode = args.mode;
  r.steps = args.steps;
  r.users = args.users;
  const std::size_t vusers =
      static_cast<std::size_t>(plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers);
  r.max_vusers = std::max<std::size_t>(1, load::share_of(vusers, i, n));
  r.max_connections = std::max<std::size_t>(1, load::share_of(max_connections, i, n));
  r.workers = std::max<std::size_t>(1, load::share_of(workers, i, n));
  r.timeout = args.timeout;
  r.drain = args.drain;
  r.seed = args.seed;
  r.insecure = args.insecure;
  if (plan.http_version != "auto") r.http_version = plan.http_version;
  r.share = AgentShare{i, n};
  return agents::command_line(r);
}

nlohmann::json lost_agents(const std::vector<agents::AgentLink*>& agents) {
  nlohmann::json out = nlohmann::json::array();
  for (const agents::AgentLink* p : agents) {
    const std::optional<agents::AgentLink::Loss> l = p->loss();
    if (!l) continue;
    nlohmann::json absences = nlohmann::json::array();
    for (const agents::AgentLink::Absence& a : p->absences())
      absences.push_back(
          {{"lost_at_s", a.lost_at_s},
           {"back_at_s", a.back_at_s < 0 ? nlohmann::json() : nlohmann::json(a.back_at_s)}});
    out.push_back({{"agent", l->agent},
                   {"who", l->who},
                   {"pid", l->pid >= 0 ? nlohmann::json(l->pid) : nlohmann::json()},
                   {"ended", l->how},
                   {"absences", absences},
                   {"at_s", l->at_s},
                   {"dropped", l->dropped},
                   {"unreported", l->unreported},
                   {"cut_off", l->cut_off}});
  }
  return out;
}

int run_as_agent(load::Engine& engine, const scenario::VUserRuntime* vusers) {
  namespace pipe = agents::pipe_end;
  if (!pipe::open()) {
    fmt::print(stderr, "error: --agent is internal to --agents (no coordinator found)\n");
    return kExitInvalid;
  }
  nlohmann::json hello = {{"type", "hello"}, {"tasks", engine.collector().task_names()}};
  if (!pipe::write_line(hello.dump())) return kExitInvalid;
  const auto go = pipe::read_go();
  if (!go) return kExitInvalid;  // the coordinator went away before the start
  engine.set_start_at(*go);
  int signal_seen = 0;
  bool orphaned = false;
  std::uint64_t seq = 0;
  {
    SignalWatcher signals(engine);  // the coordinator's stop_arrivals() is a SIGINT
    engine.run([&](const metrics::Snapshot& s) {
      const nlohmann::json frame = {{"type", "round"},
                                    {"seq", ++seq},
                                    {"stats", engine.collector().last_round().to_json()},
                                    {"in_flight", s.active},
                                    {"active_users", s.active_users},
                                    {"connections", s.connections}};
      // The coordinator is gone: stop rather than load the target unseen.
      if (!pipe::write_line(frame.dump()) && !orphaned) {
        orphaned = true;
        engine.stop();
      }
    });
    signal_seen = signals.signal();
  }
  const std::string fatal = vusers ? vusers->fatal_error() : std::string();
  const bool blocked = vusers && vusers->python_blocked();
  pipe::write_line(nlohmann::json{
      {"type", "end"},
      {"fatal", fatal},
      {"blocked", blocked},
      {"rounds", seq}}.dump());
  std::fflush(stdout);
  std::fflush(stderr);
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return kExitOk;
}

}  // namespace loadpilot::cli
