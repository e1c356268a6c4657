#include "cluster/agent/simulated_agents.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <vector>

#include "build_info.h"
#include "cluster/agent/simulated_round.h"
#include "cluster/protocol.h"
#include "load/profile.h"
#include "plan/plan.h"
#include "run/exit_codes.h"
#include "run/stop_signals.h"

namespace loadpilot::cli {

namespace {

namespace proto = agents::protocol;
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The token between `prefix` and `suffix` of a subject ("" when it is not
// of that shape).
std::string token_of(const std::string& subject, const std::string& prefix,
                     const std::string& suffix) {
  if (subject.size() <= prefix.size() + suffix.size() || subject.rfind(prefix, 0) != 0 ||
      subject.compare(subject.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  return subject.substr(prefix.size(), subject.size() - prefix.size() - suffix.size());
}

// One simulated agent.
struct Sim {
  std::string id, instance;
  std::string run_id;  // empty: idle
  std::size_t index = 0, count = 1;
  bool has_go = false, started = false, done = false;
  Clock::time_point t0, start_at;
  std::uint64_t seq = 0;  // round frames sent
  double horizon_s = 0;   // its share ends here (the profile's end or a stop)
};

// One run some of them take part in. It stays until the process ends (a
// measurement runs a few).
struct SimRun {
  load::Profile profile{{}};
  std::size_t tasks = 1, fill = 0;
  std::map<std::size_t, std::size_t> members;  // share index -> Sim
  std::size_t late = 0;                        // go messages after their t0
  bool spread_said = false;
  std::unique_ptr<agents::NatsClient::Subscription> control;
};

// A frame to send, worked out under the lock and built outside it.
struct Outgoing {
  std::string run_id, agent_id;
  std::size_t index = 0;
  std::uint64_t seq = 0, started = 0;
  std::size_t tasks = 1, fill = 0;
  double last_start_s = 0;
  bool last = false;
};

class SimulatedAgents {
 public:
  SimulatedAgents(const AgentArgs& args, const SimulateArgs& sim, const std::string& base)
      : frame_bytes_(sim.frame_bytes) {
    for (std::size_t i = 0; i < sim.agents; ++i) {
      Sim s;
      s.id = fmt::format("{}-{:04}", base, i);
      s.instance = proto::new_run_id();
      by_id_[s.id] = sims_.size();
      sims_.push_back(std::move(s));
    }
    agents::NatsOptions no = args.nats;
    no.name = fmt::format("loadpilot agent --simulate {} ({})", sim.agents, base);
    // One delivery thread for every subscription, not one each.
    no.shared_delivery = true;
    nats_ = std::make_unique<agents::NatsClient>(no);
    clock_sub_ = nats_->subscribe("loadpilot.agent.*.clock",
                                  [this](agents::NatsMessage&& m) { on_clock(m); });
    assign_sub_ = nats_->subscribe("loadpilot.agent.*.assign",
                                   [this](agents::NatsMessage&& m) { on_assign(m); });
    discover_sub_ =
        nats_->subscribe(proto::discover_subject(), [this](agents::NatsMessage&&) { announce(); });
  }

  ~SimulatedAgents() {
    clock_sub_.reset();
    assign_sub_.reset();
    discover_sub_.reset();
    // A control handler waits for mu_ while nats.c holds its subscription:
    // the subscriptions go outside the lock.
    std::vector<std::unique_ptr<agents::NatsClient::Subscription>> controls;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, run] : runs_) controls.push_back(std::move(run.control));
    }
  }

  int serve() {
    fmt::print(stderr, "simulate: {} agents ({} to {}) connected to {}; frames of ~{} bytes\n",
               sims_.size(), sims_.front().id, sims_.back().id, agents::redact_url(nats_->url()),
               frame_bytes_);
    Clock::time_point next_announce = Clock::now();
    std::unique_lock lock(mu_);
    while (!quit_) {
      if (Clock::now() >= next_announce) {
        lock.unlock();
        announce();
        lock.lock();
        next_announce = Clock::now() + proto::kAnnounceEvery;
      }
      start_due(Clock::now());
      std::vector<Outgoing> out = rounds_due(Clock::now());
      if (!out.empty()) {
        lock.unlock();
        send(out);
        lock.lock();
        continue;
      }
      cv_.wait_until(lock, std::min(next_announce, next_event()), [&] { return quit_ || woken_; });
      woken_ = false;
    }
    return kExitSigterm;
  }

  void quit() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
  }

 private:
  void on_clock(const agents::NatsMessage& m) {
    const std::string id = token_of(m.subject, "loadpilot.agent.", ".clock");
    const auto it = by_id_.find(id);
    if (it == by_id_.end() || m.reply.empty()) return;
    try {
      const nlohmann::json j = nlohmann::json::parse(m.data);
      const std::string instance = j.is_object() ? j.value("instance", std::string()) : "";
      if (!instance.empty() && instance != sims_[it->second].instance) return;
    } catch (const std::exception&) {
      return;
    }
    nats_->publish(m.reply, nlohmann::json{{"now_ns", now_ns()}}.dump());
  }

  void on_assign(const agents::NatsMessage& m) {
    const auto it = by_id_.find(token_of(m.subject, "loadpilot.agent.", ".assign"));
    if (it == by_id_.end()) return;
    nlohmann::json reply = {{"ok", true}};
    std::string hello, hello_subject;
    try {
      proto::Assignment a = proto::Assignment::from_json(nlohmann::json::parse(m.data));
      if (!a.instance.empty() && a.instance != sims_[it->second].instance) return;
      const plan::Plan plan = plan::Plan::from_json(a.plan);
      std::lock_guard lock(mu_);
      Sim& s = sims_[it->second];
      if (!s.run_id.empty()) throw std::runtime_error(fmt::format("busy with run {}", s.run_id));
      take(s, a, plan);
      nlohmann::json names = nlohmann::json::array();
      for (const plan::TaskSpec& t : plan.tasks) names.push_back(t.name);
      hello = nlohmann::json{
          {"type", "hello"},
          {"tasks", names},
          {"run_id", a.run_id},
          {"agent_id",
           s.id}}.dump();
      hello_subject = proto::frames_subject(a.run_id, a.index);
    } catch (const std::exception& e) {
      reply = {{"ok", false}, {"error", e.what()}};
      hello.clear();
    }
    if (!m.reply.empty()) nats_->publish(m.reply, reply.dump());
    if (!hello.empty()) nats_->publish(hello_subject, hello);
  }

  // Gives Sim `s` its share of run a.run_id (mu_ held).
  void take(Sim& s, const proto::Assignment& a, const plan::Plan& plan) {
    s.run_id = a.run_id;
    s.index = a.index;
    s.count = a.count;
    s.has_go = s.started = s.done = false;
    s.seq = 0;
    auto [it, fresh] = runs_.try_emplace(a.run_id);
    SimRun& run = it->second;
    if (fresh) {
      run.profile = load::Profile::of(plan);
      run.tasks = std::max<std::size_t>(1, plan.tasks.size());
      run.fill = agents::sim::fill_for_bytes(run.tasks, frame_bytes_);
      run.control = nats_->subscribe(
          fmt::format("loadpilot.run.{}.control.*", a.run_id),
          [this, run_id = a.run_id](agents::NatsMessage&& m) { on_control(run_id, m); });
    }
    s.horizon_s = run.profile.total_s();
    run.members[a.index] = static_cast<std::size_t>(&s - sims_.data());
  }

  void on_control(const std::string& run_id, const agents::NatsMessage& m) {
    const std::string tail =
        token_of(m.subject, fmt::format("loadpilot.run.{}.control.", run_id), "");
    try {
      const nlohmann::json j = nlohmann::json::parse(m.data);
      if (j.value("run_id", std::string()) != run_id) return;
      const std::string type = j.value("type", std::string());
      std::lock_guard lock(mu_);
      SimRun& run = runs_.at(run_id);
      Sim& s = sims_.at(run.members.at(std::stoul(tail)));
      if (s.run_id != run_id || s.done) return;
      const Clock::time_point now = Clock::now();
      if (type == "go" && !s.has_go) {
        s.has_go = true;
        s.t0 = Clock::time_point(std::chrono::nanoseconds(j.at("t0_ns").get<std::int64_t>()));
        if (now > s.t0) {
          ++run.late;
          s.started = true;
          s.start_at = now;
        }
      } else if (type == "stop") {
        const double at = s.has_go ? std::chrono::duration<double>(now - s.t0).count() : 0;
        s.horizon_s = std::clamp(at, 0.0, s.horizon_s);
      } else if (type == "abort") {
        s.horizon_s = 0;
        s.done = true;
        s.run_id.clear();
      }
    } catch (const std::exception&) {
      return;  // not a control message of ours
    }
    woken_ = true;
    cv_.notify_all();
  }

  void announce() {
    std::vector<std::string> messages;
    {
      std::lock_guard lock(mu_);
      for (const Sim& s : sims_)
        messages.push_back(nlohmann::json{{"type", "announce"},
                                          {"agent_id", s.id},
                                          {"host", "simulated"},
                                          {"pid", getpid()},
                                          {"instance", s.instance},
                                          {"version", kVersion},
                                          {"state", s.run_id.empty() ? "idle" : "busy"}}
                               .dump());
    }
    for (const std::string& m : messages) nats_->publish(proto::announce_subject(), m);
  }

  // Starts every agent whose t0 has come (mu_ held); says a run's spread
  // once all of its agents started.
  void start_due(Clock::time_point now) {
    for (Sim& s : sims_) {
      if (s.run_id.empty() || !s.has_go || s.started || now < s.t0) continue;
      s.started = true;
      s.start_at = Clock::now();
    }
    for (auto& [run_id, run] : runs_) {
      if (run.spread_said) continue;
      std::vector<Clock::time_point> starts;
      Clock::time_point t0 = Clock::time_point::max();
      for (const auto& [index, i] : run.members) {
        if (!sims_[i].started) return;
        starts.push_back(sims_[i].start_at);
        t0 = std::min(t0, sims_[i].t0);
      }
      run.spread_said = true;
      const agents::sim::StartSpread sp = agents::sim::start_spread(t0, starts, run.late);
      fmt::print(stderr,
                 "simulate: run {}: {} agents started within {:.3f} ms (the last {:.3f} ms after "
                 "t0; {} go messages came late)\n",
                 run_id, sp.agents, sp.spread_ms, sp.worst_late_ms, sp.late);
      std::fflush(stderr);
    }
  }

  // The round frames due now (mu_ held); an agent whose last round is among
  // them is idle again.
  std::vector<Outgoing> rounds_due(Clock::time_point now) {
    std::vector<Outgoing> out;
    for (Sim& s : sims_) {
      if (s.run_id.empty() || !s.started) continue;
      const double into = std::chrono::duration<double>(now - s.t0).count();
      const double from = static_cast<double>(s.seq), to = std::min(from + 1, s.horizon_s);
      // A round is due a second after the previous one, or at once after
      // the share ended (a stop).
      if (into < from + 1 && into < s.horizon_s) continue;
      const SimRun& run = runs_.at(s.run_id);
      Outgoing o{s.run_id, s.id, s.index, ++s.seq, 0, run.tasks, run.fill, to, false};
      o.started = agents::sim::share_due(run.profile, s.index, s.count, s.seq == 1 ? -1 : from,
                                         std::max(from, to));
      o.last = to >= s.horizon_s;
      if (o.last) {
        s.done = true;
        s.run_id.clear();
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  // When the main loop must next look (mu_ held).
  Clock::time_point next_event() const {
    Clock::time_point next = Clock::now() + std::chrono::seconds(1);
    for (const Sim& s : sims_) {
      if (s.run_id.empty() || !s.has_go) continue;
      if (!s.started) {
        next = std::min(next, s.t0);
        continue;
      }
      const double at = std::min(static_cast<double>(s.seq + 1), s.horizon_s);
      next = std::min(next, s.t0 + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(at)));
    }
    return next;
  }

  void send(const std::vector<Outgoing>& out) {
    for (const Outgoing& o : out) {
      const std::string subject = proto::frames_subject(o.run_id, o.index);
      const metrics::IntervalStats stats =
          agents::sim::round_stats(o.tasks, o.started, o.fill, o.last_start_s);
      nats_->publish(subject, agents::sim::round_frame(o.run_id, o.agent_id, o.seq, stats));
      if (!o.last) continue;
      const nlohmann::json ids = {{"run_id", o.run_id}, {"agent_id", o.agent_id}};
      nlohmann::json end = {{"type", "end"}, {"fatal", ""}, {"blocked", false}, {"rounds", o.seq}};
      nlohmann::json exit = {{"type", "exit"}, {"how", "exited with code 0"}};
      end.update(ids);
      exit.update(ids);
      nats_->publish(subject, end.dump());
      nats_->publish(subject, exit.dump());
    }
  }

  std::size_t frame_bytes_;
  std::vector<Sim> sims_;                               // fixed after the constructor
  std::unordered_map<std::string, std::size_t> by_id_;  // fixed after the constructor
  std::unique_ptr<agents::NatsClient> nats_;
  std::unique_ptr<agents::NatsClient::Subscription> clock_sub_, assign_sub_, discover_sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, SimRun> runs_;
  bool quit_ = false, woken_ = false;
};

}  // namespace

int simulate_command(const AgentArgs& args, const SimulateArgs& sim) {
  const std::string base = args.agent_id.empty() ? proto::default_agent_id() : args.agent_id;
  const std::string last = fmt::format("{}-{:04}", base, sim.agents - 1);
  if (const std::string why = proto::check_agent_id(last); !why.empty()) {
    fmt::print(stderr, "error: --agent-id: with --simulate the ids are {}-0000..: {}\n", base, why);
    return kExitInvalid;
  }
  const sigset_t sigs = block_stop_signals();
  std::unique_ptr<SimulatedAgents> agents;
  try {
    agents = std::make_unique<SimulatedAgents>(args, sim, base);
  } catch (const agents::NatsError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  int sig = 0;
  std::thread watcher([&] {
    sigwait(&sigs, &sig);
    agents->quit();
  });
  agents->serve();
  watcher.join();
  return sig == SIGINT ? kExitSigint : kExitSigterm;
}

}  // namespace loadpilot::cli
