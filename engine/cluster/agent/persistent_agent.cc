#include "cluster/agent/persistent_agent.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "build_info.h"
#include "cluster/agent/coordinator_watch.h"
#include "cluster/agent/resend_budget.h"
#include "cluster/agent/run_relay.h"
#include "cluster/bundle_files.h"
#include "cluster/child_run.h"
#include "cluster/protocol.h"
#include "cluster/transport/pipe_channel.h"
#include "plan/duration.h"
#include "run/exit_codes.h"
#include "run/stop_signals.h"

namespace loadpilot::cli {

namespace {

namespace proto = agents::protocol;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string host_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
}

class PersistentAgent {
 public:
  PersistentAgent(const AgentArgs& args, std::string id)
      : id_(std::move(id)), instance_(proto::new_run_id()) {
    agents::NatsOptions no = args.nats;
    no.name = "loadpilot agent " + id_;
    no.on_state = [this](bool connected) {
      say(connected ? "reconnected to the NATS server" : "lost the NATS server; reconnecting");
    };
    nats_ = std::make_unique<agents::NatsClient>(no);
    // Two agents with one id would both take the same share of a run: an
    // id that answers already is taken.
    if (nats_->request(proto::agent_subject(id_, "clock"), "{}", std::chrono::milliseconds(500)))
      throw agents::NatsError(fmt::format(
          "--agent-id: another agent with the id \"{}\" is connected to {}; ids must be unique",
          id_, agents::redact_url(nats_->url())));
    clock_sub_ =
        nats_->subscribe(proto::agent_subject(id_, "clock"), [this](agents::NatsMessage&& m) {
          // A coordinator measures the clock of the process it chose; a
          // request without an instance (the check above) is anyone's.
          if (m.reply.empty() || !for_me(m.data)) return;
          nats_->publish(m.reply, nlohmann::json{{"now_ns", now_ns()}}.dump());
        });
    refused_sub_ =
        nats_->subscribe(proto::agent_subject(id_, "refused"), [this](agents::NatsMessage&& m) {
          std::string reason;
          try {
            const nlohmann::json j = nlohmann::json::parse(m.data);
            if (!j.is_object() || j.value("instance", std::string()) != instance_) return;
            reason = j.value("reason", std::string("its id is taken"));
          } catch (const std::exception&) {
            return;
          }
          {
            std::lock_guard lock(mu_);
            // A run it was given stays its own (assignments name the
            // instance); it goes when idle.
            if (!run_id_.empty() || quit_signal_ != 0) return;
            refused_ = reason;
            quit_signal_ = kRefused;
          }
          cv_.notify_all();
        });
    assign_sub_ = nats_->subscribe(proto::agent_subject(id_, "assign"),
                                   [this](agents::NatsMessage&& m) { on_assign(m); });
    discover_sub_ =
        nats_->subscribe(proto::discover_subject(), [this](agents::NatsMessage&&) { announce(); });
  }

  // Serves runs until a signal; returns the exit code.
  int serve() {
    say(fmt::format("connected to {}; waiting for a run", agents::redact_url(nats_->url())));
    std::unique_lock lock(mu_);
    while (quit_signal_ == 0) {
      if (pending_) {
        proto::Assignment a = std::move(*pending_);
        pending_.reset();
        lock.unlock();
        run_one(a);
        lock.lock();
        run_id_.clear();
        if (quit_signal_ == 0) say("waiting for the next run");
        continue;
      }
      lock.unlock();
      announce();
      lock.lock();
      cv_.wait_for(lock, proto::kAnnounceEvery, [&] { return pending_ || quit_signal_ != 0; });
    }
    if (quit_signal_ == kRefused) {
      fmt::print(stderr, "error: --agent-id: a coordinator refused this agent: {}\n", refused_);
      return kExitInvalid;
    }
    return quit_signal_ == SIGINT ? kExitSigint : kExitSigterm;
  }

  // Refused by a coordinator: serve() returned for that, not for a signal.
  bool refused() {
    std::lock_guard lock(mu_);
    return quit_signal_ == kRefused;
  }

  void quit(int sig) {
    {
      std::lock_guard lock(mu_);
      if (quit_signal_ == kRefused) return;
      quit_signal_ = sig;
    }
    cv_.notify_all();
  }

 private:
  static constexpr int kRefused = -1;  // quit_signal_: refused by a coordinator

  // A message naming an agent process: for this one, or for any.
  bool for_me(const std::string& data) const {
    try {
      const nlohmann::json j = nlohmann::json::parse(data);
      if (!j.is_object()) return true;
      const auto it = j.find("instance");
      return it == j.end() || !it->is_string() || it->get<std::string>().empty() ||
             *it == instance_;
    } catch (const std::exception&) {
      return true;
    }
  }

  void say(const std::string& what) {
    fmt::print(stderr, "agent {}: {}\n", id_, what);
    std::fflush(stderr);
  }

  void announce() {
    std::string state;
    {
      std::lock_guard lock(mu_);
      state = run_id_.empty() ? "idle" : "busy";
    }
    nats_->publish(proto::announce_subject(), nlohmann::json{{"type", "announce"},
                                                             {"agent_id", id_},
                                                             {"host", host_name()},
                                                             {"pid", getpid()},
                                                             {"instance", instance_},
                                                             {"version", kVersion},
                                                             {"state", state}}
                                                  .dump());
  }

  void on_assign(const agents::NatsMessage& m) {
    // Meant for another process with this id: not a word from this one.
    if (!for_me(m.data)) return;
    nlohmann::json reply = {{"ok", true}};
    {
      std::lock_guard lock(mu_);
      if (!run_id_.empty()) {
        reply = {{"ok", false}, {"error", fmt::format("busy with run {}", run_id_)}};
      } else if (quit_signal_ != 0) {
        reply = {{"ok", false}, {"error", "shutting down"}};
      } else {
        try {
          proto::Assignment a = proto::Assignment::from_json(nlohmann::json::parse(m.data));
          run_id_ = a.run_id;
          pending_ = std::move(a);
        } catch (const std::exception& e) {
          reply = {{"ok", false}, {"error", e.what()}};
        }
      }
    }
    if (!m.reply.empty()) nats_->publish(m.reply, reply.dump());
    cv_.notify_all();
    announce();
  }

  // Writes the bundle and the plan into a fresh folder; returns it. A
  // bundle that cannot be written, or a machine that cannot write it,
  // throws with the entry named and leaves nothing behind (the service's
  // unpacking, cluster/bundle_files.h).
  fs::path unpack(const proto::Assignment& a) {
    const std::vector<std::string> problems = proto::bundle_layout_problems(a.bundle);
    if (!problems.empty()) throw std::runtime_error(fmt::format("{}", fmt::join(problems, "; ")));
    return proto::unpack_bundle(a.bundle, "loadpilot-agent-", a.plan.dump());
  }

  void publish_frame(const proto::Assignment& a, nlohmann::json frame,
                     agents::RunRelay* relay = nullptr) {
    frame["run_id"] = a.run_id;
    frame["agent_id"] = id_;
    const std::string data = frame.dump();
    if (relay != nullptr && frame.value("type", std::string()) == "round") {
      std::lock_guard lock(relay->mu);
      relay->rounds.emplace_back(frame.value("seq", std::uint64_t{0}), data);
      if (relay->rounds.size() > agents::RunRelay::kKeptRounds) relay->rounds.pop_front();
    }
    nats_->publish(proto::frames_subject(a.run_id, a.index), data);
  }

  // One run it was given, from unpacking its bundle to its end.
  void run_one(const proto::Assignment& a) {
    const std::string scenario = a.plan.value("name", std::string("?"));
    say(fmt::format("run {}: share {} of {} of scenario {} against {}", a.run_id, a.index + 1,
                    a.count, scenario, a.plan.value("target", std::string("?"))));
    fs::path dir;
    std::unique_ptr<agents::PipeChannel> child;
    try {
      dir = unpack(a);
      child = std::make_unique<agents::PipeChannel>(child_options(a, dir));
    } catch (const std::exception& e) {
      publish_frame(a, {{"type", "failed"}, {"error", e.what()}});
      publish_frame(a, {{"type", "exit"}, {"how", "did not start"}});
      say(fmt::format("run {}: {}", a.run_id, e.what()));
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
      return;
    }
    // The previous run's relay goes now; this run's stays until the next.
    last_relay_.reset();
    auto relay = std::make_unique<agents::RunRelay>();
    relay->child = child.get();
    relay->watch.beat(Clock::now());
    agents::RunRelay* r = relay.get();
    const std::string frames_subject = proto::frames_subject(a.run_id, a.index);
    relay->control = nats_->subscribe(
        proto::control_subject(a.run_id, a.index),
        [this, r, run_id = a.run_id, frames_subject](agents::NatsMessage&& m) {
          r->on_control(
              m.data, run_id, [&](const std::string& f) { nats_->publish(frames_subject, f); },
              [this](const std::string& what) { say(what); });
        });
    auto beat_sub = nats_->subscribe(proto::heartbeat_subject(a.run_id),
                                     [r](agents::NatsMessage&&) { r->watch.beat(Clock::now()); });
    ChildState state;
    // Lives until the child is joined below: the child's callbacks use it.
    const std::string dir_prefix = dir.string() + "/";
    open_child(a, *child, *r, dir_prefix, state);
    supervise(a, *child, *r, state);
    beat_sub.reset();
    child->join();
    {
      std::lock_guard relay_lock(relay->mu);
      relay->child = nullptr;
    }
    child.reset();
    last_relay_ = std::move(relay);
    say(fmt::format("run {} ended", a.run_id));
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  agents::PipeChannelOptions child_options(const proto::Assignment& a, const fs::path& dir) const {
    agents::ChildRun c;
    c.target = a.plan.value("target", std::string());
    c.scenario = a.plan.value("name", std::string("?"));
    c.file = a.bundle.main;
    c.plan_file = ".plan.json";
    c.max_vusers = a.max_vusers;
    c.max_connections = a.max_connections;
    c.workers = a.workers;
    c.timeout = a.timeout;
    c.drain = a.drain;
    c.seed = a.seed;
    c.insecure = a.insecure;
    c.share = AgentShare{a.index, a.count};
    agents::PipeChannelOptions po;
    po.argv = agents::command_line(c);
    po.index = a.index;
    po.count = a.count;
    po.own_group = true;
    // Run from the bundle's folder, so messages name its files as the
    // coordinator's folder does (checkout.py:12, not /tmp/.../checkout.py).
    po.cwd = dir.string();
    po.keep_stderr = true;
    return po;
  }

  // A run child's progress, shared by its pipe's thread and run_one's.
  struct ChildState {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false, hello = false;
    int forwarded = 0;  // the signal this agent received and passed on as a stop
  };

  // Relays the child's frames to the coordinator; at its end, says why a
  // child that never said hello failed, and how it ended.
  void open_child(const proto::Assignment& a, agents::PipeChannel& child, agents::RunRelay& r,
                  const std::string& dir_prefix, ChildState& state) {
    child.open(
        [&, rp = &r](std::string_view line) {
          try {
            nlohmann::json frame = nlohmann::json::parse(line);
            if (frame.value("type", std::string()) == "hello") {
              std::lock_guard lock(state.mu);
              state.hello = true;
            }
            publish_frame(a, std::move(frame), rp);
          } catch (const std::exception&) {
            // The child writes only JSON frames; anything else is not relayed.
          }
        },
        [&](std::string how) { on_child_end(a, child, dir_prefix, state, std::move(how)); });
  }

  void on_child_end(const proto::Assignment& a, agents::PipeChannel& child,
                    const std::string& dir_prefix, ChildState& state, std::string how) {
    bool started = false;
    {
      std::lock_guard lock(state.mu);
      started = state.hello;
      // Its run was stopped because this agent was told to end: say so,
      // not the exit code of the stop it was passed on as.
      if (state.forwarded != 0 && how != "exited with code 0")
        how = fmt::format("was stopped by {} on its machine",
                          state.forwarded == SIGINT ? "SIGINT" : "SIGTERM");
    }
    if (!started) {
      // It could not load the scenario or its plan: its own message says
      // why, with file:line in the bundle's names.
      std::string why = child.stderr_tail();
      replace_all(why, dir_prefix, "");
      replace_all(why, "error: ", "");
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      if (why.empty()) why = "its run " + how + " before it was ready";
      publish_frame(a, {{"type", "failed"}, {"error", why}});
    }
    publish_frame(a, {{"type", "exit"}, {"how", how}});
    nats_->flush(std::chrono::milliseconds(1000));
    {
      std::lock_guard lock(state.mu);
      state.done = true;
    }
    state.cv.notify_all();
  }

  // Until the child ends: passes a signal on as a stop, judges the
  // coordinator's silence, and kills a child stuck past its drain.
  void supervise(const proto::Assignment& a, agents::PipeChannel& child, agents::RunRelay& r,
                 ChildState& state) {
    const auto drain_s = plan::parse_duration(a.drain).value_or(2);
    std::optional<Clock::time_point> stopped_at;
    bool cut_off = false;  // said that it is cut off from the server
    std::unique_lock lock(state.mu);
    while (!state.done) {
      state.cv.wait_for(lock, std::chrono::milliseconds(250));
      if (state.done) break;
      int quit = 0;
      {
        std::lock_guard q(mu_);
        quit = quit_signal_;
      }
      if (quit != 0 && state.forwarded == 0) {
        state.forwarded = quit;
        child.stop();
        stopped_at = Clock::now();
      }
      if (!stopped_at) {
        lock.unlock();  // a round trip to the server may take a second
        const bool gave_up = !judge_coordinator(a, child, r, cut_off);
        lock.lock();
        if (gave_up) stopped_at = Clock::now();
      }
      // Its drain, then on_stop, then a margin: past that it is stuck.
      if (stopped_at && Clock::now() - *stopped_at > std::chrono::duration<double>(2 * drain_s + 5))
        child.kill();
    }
  }

  // Whether it still reaches the NATS server: nats.c's pings notice a dead
  // link within seconds; once the silence matters, a round trip settles it.
  bool linked(agents::RunRelay& r) {
    if (!nats_->connected()) return false;
    if (r.watch.silent_s(Clock::now()) < static_cast<double>(proto::kCoordinatorSilence.count()))
      return true;
    return nats_->flush(std::chrono::milliseconds(1000));
  }

  // Its own pause or cut link is not its coordinator's silence
  // (agent/coordinator_watch.h). False: it gave up and stopped the load.
  bool judge_coordinator(const proto::Assignment& a, agents::PipeChannel& child,
                         agents::RunRelay& r, bool& cut_off) {
    using Verdict = agents::CoordinatorWatch::Verdict;
    const bool link = linked(r);
    const auto verdict = r.watch.check(Clock::now(), link);
    const double quiet = r.watch.silent_s(Clock::now());
    if (verdict == Verdict::kUnlinked && !cut_off) {
      cut_off = true;
      say(fmt::format(
          "run {}: cut off from the NATS server, no word from its coordinator for {:.0f} s; "
          "keeping its schedule for up to {} s without it",
          a.run_id, quiet, proto::kUnlinkedLimit.count()));
    } else if (verdict == Verdict::kAsk) {
      say(cut_off ? fmt::format("run {}: back on the NATS server, no word from its coordinator "
                                "for {:.0f} s; asking it",
                                a.run_id, quiet)
                  : fmt::format("run {}: resumed after a pause, no word from its coordinator for "
                                "{:.0f} s; asking it",
                                a.run_id, quiet));
      cut_off = false;
      publish_frame(a, {{"type", "ping"}});
    } else if (verdict == Verdict::kGiveUp) {
      say(fmt::format("run {}: no word from its coordinator for {:.0f} s{}; stopping the load",
                      a.run_id, quiet, link ? "" : ", cut off from the NATS server"));
      child.stop();
      return false;
    }
    if (verdict == Verdict::kFine && link) cut_off = false;
    return true;
  }

  std::string id_;
  std::string instance_;  // this process, among any that claim the id
  std::unique_ptr<agents::NatsClient> nats_;
  std::unique_ptr<agents::NatsClient::Subscription> clock_sub_, assign_sub_, discover_sub_,
      refused_sub_;
  std::string refused_;  // why a coordinator refused it
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<proto::Assignment> pending_;
  std::string run_id_;                            // the run it is given, while it has one
  std::unique_ptr<agents::RunRelay> last_relay_;  // the last run's, until the next
  int quit_signal_ = 0;
};

}  // namespace

int agent_command(const AgentArgs& args) {
  const std::string id = args.agent_id.empty() ? proto::default_agent_id() : args.agent_id;
  if (const std::string why = proto::check_agent_id(id); !why.empty()) {
    fmt::print(stderr, "error: --agent-id: {}\n", why);
    return kExitInvalid;
  }
  // Every thread (nats.c's too) starts with the signals blocked; one thread
  // waits for them.
  const sigset_t sigs = block_stop_signals();
  std::unique_ptr<PersistentAgent> agent;
  try {
    agent = std::make_unique<PersistentAgent>(args, id);
  } catch (const agents::NatsError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  std::atomic<bool> served{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (served) return;  // woken to end after a refusal
    fmt::print(stderr, "agent {}: {} received; ending\n", id, sig == SIGINT ? "SIGINT" : "SIGTERM");
    agent->quit(sig);
  });
  // serve() returns after the watcher has seen a signal, or when a
  // coordinator refused the agent (its id taken): then the watcher is woken.
  const int code = agent->serve();
  if (agent->refused()) {
    served = true;
    pthread_kill(watcher.native_handle(), SIGTERM);
  }
  watcher.join();
  return code;
}

}  // namespace loadpilot::cli
