#include "cli/agents_mode.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "agents/agent_link.h"
#include "cli/commands.h"
#include "cli/signal_watcher.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

namespace {

constexpr int kFramesFd = 3;
constexpr int kControlFd = 4;

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("loadpilot");
}

bool write_line(int fd, const std::string& line) {
  std::string data = line + "\n";
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<std::string> read_line(int fd) {
  std::string line;
  char c;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
}

}  // namespace

std::optional<AgentShare> parse_agent(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::size_t i = 0, n = 0;
  const char* b = text.data();
  if (std::from_chars(b, b + slash, i).ptr != b + slash) return std::nullopt;
  if (std::from_chars(b + slash + 1, b + text.size(), n).ptr != b + text.size())
    return std::nullopt;
  if (n < 1 || n > kMaxExternalAgents || i < 1 || i > n) return std::nullopt;
  return AgentShare{i - 1, n};
}

std::vector<std::string> agent_argv(const RunArgs& args, const plan::Plan& plan, std::size_t i,
                                    std::size_t n, std::size_t max_connections,
                                    std::size_t workers) {
  std::vector<std::string> a = {self_exe(),  "run",        "--target",
                                plan.target, "--scenario", plan.name};
  auto opt = [&](const char* flag, const std::optional<std::string>& v) {
    if (v) a.insert(a.end(), {flag, *v});
  };
  opt("--rps", args.rps);
  opt("--duration", args.duration);
  opt("--ramp-up", args.ramp_up);
  opt("--mode", args.mode);
  if (args.steps) a.insert(a.end(), {"--steps", std::to_string(*args.steps)});
  if (args.users) a.insert(a.end(), {"--users", std::to_string(*args.users)});
  const std::size_t vusers =
      static_cast<std::size_t>(plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers);
  a.insert(
      a.end(),
      {"--max-vusers", std::to_string(std::max<std::size_t>(1, load::share_of(vusers, i, n))),
       "--max-connections",
       std::to_string(std::max<std::size_t>(1, load::share_of(max_connections, i, n))), "--workers",
       std::to_string(std::max<std::size_t>(1, load::share_of(workers, i, n))), "--timeout",
       args.timeout, "--drain", args.drain, "--seed", std::to_string(args.seed), "--no-metrics",
       "--no-report", "--output", "text", "--agent", fmt::format("{}/{}", i + 1, n)});
  if (args.insecure) a.push_back("--insecure");
  if (plan.http_version != "auto") a.insert(a.end(), {"--http-version", plan.http_version});
  // The file last, after "--": a name that starts with '-' is a file, not
  // an option.
  a.insert(a.end(), {"--", args.file});
  return a;
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
  if (fcntl(kFramesFd, F_GETFD) < 0 || fcntl(kControlFd, F_GETFD) < 0) {
    fmt::print(stderr, "error: --agent is internal to --agents (no coordinator found)\n");
    return kExitInvalid;
  }
  nlohmann::json hello = {{"type", "hello"}, {"tasks", engine.collector().task_names()}};
  if (!write_line(kFramesFd, hello.dump())) return kExitInvalid;
  const auto go = read_line(kControlFd);
  long long t0_ns = 0;
  if (!go || go->rfind("go ", 0) != 0 ||
      std::from_chars(go->data() + 3, go->data() + go->size(), t0_ns).ec != std::errc()) {
    return kExitInvalid;  // the coordinator went away before the start
  }
  engine.set_start_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t0_ns)));
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
      if (!write_line(kFramesFd, frame.dump()) && !orphaned) {
        orphaned = true;
        engine.stop();
      }
    });
    signal_seen = signals.signal();
  }
  const std::string fatal = vusers ? vusers->fatal_error() : std::string();
  const bool blocked = vusers && vusers->python_blocked();
  write_line(
      kFramesFd,
      nlohmann::json{{"type", "end"}, {"fatal", fatal}, {"blocked", blocked}, {"rounds", seq}}
          .dump());
  std::fflush(stdout);
  std::fflush(stderr);
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return kExitOk;
}

}  // namespace loadpilot::cli
