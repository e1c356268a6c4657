#include "cli/serve_command.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "agents/api_server.h"
#include "agents/bundle_files.h"
#include "agents/pipe_channel.h"
#include "agents/protocol.h"
#include "build_info.h"
#include "cli/commands.h"
#include "cli/run_command.h"
#include "http/ascii.h"
#include "http/target.h"
#include "metrics/snapshot.h"
#include "monitor/exporter.h"
#include "plan/duration.h"
#include "plan/plan.h"
#include "report/wall_clock.h"

namespace loadpilot::cli {

namespace {

namespace fs = std::filesystem;
namespace proto = agents::protocol;
using Clock = std::chrono::steady_clock;

// A bundle's files grow when escaped into JSON (quotes, newlines): room
// for twice its limit, plus the plan.
constexpr std::size_t kMaxRequestBytes = 2 * proto::kMaxBundleBytes + 1024 * 1024;
// An agent announces itself every kAnnounceEvery while idle; one unheard
// for three of those is gone.
constexpr auto kAgentGoneAfter = 3 * proto::kAnnounceEvery;

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("loadpilot");
}

void log(const std::string& what) {
  fmt::print(stderr, "{} coordinator: {}\n", report::rfc3339_now_ms(), what);
  std::fflush(stderr);
}

std::string json_error(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump() + "\n";
}

std::string json_errors(const std::string& message, const std::vector<std::string>& errors) {
  return nlohmann::json{{"error", message}, {"errors", errors}}.dump() + "\n";
}

// A run request nests a few levels (the plan's stages, thresholds and
// headers); this is far beyond any real one.
constexpr int kMaxJsonDepth = 64;

// True when `text` nests arrays or objects deeper than `limit`. Checked
// before parsing: a parsed value costs tens of bytes per level, so a body
// of 16 MiB of '[' would take gigabytes.
bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// The lines of a child's stderr that say what went wrong ("error: ...").
std::string error_lines(const std::string& tail) {
  std::string out;
  std::istringstream in(tail);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("error: ", 0) == 0) {
      out += (out.empty() ? "" : "; ") + line.substr(7);
    } else if (line.rfind("  - ", 0) == 0 && !out.empty()) {
      out += " " + line.substr(2);
    }
  }
  return out.empty() ? "its run process ended before its agents were ready" : out;
}

class Service {
 public:
  Service(const ServeArgs& args, monitor::Exporter* exporter)
      : args_(args), exporter_(exporter), registry_(std::make_shared<prometheus::Registry>()) {
    connected_gauge_ =
        &prometheus::BuildGauge()
             .Name("loadpilot_agents_connected")
             .Help("Agents the coordinator service has heard from (idle or in its run)")
             .Register(*registry_)
             .Add({});
    expected_gauge_ =
        &prometheus::BuildGauge()
             .Name("loadpilot_agents_expected")
             .Help("Agents every run of the coordinator service uses (--serve-agents)")
             .Register(*registry_)
             .Add({});
    expected_gauge_->Set(static_cast<double>(args.serve_agents));
    auto& runs = prometheus::BuildCounter()
                     .Name("loadpilot_service_runs_total")
                     .Help("Runs the coordinator service has started")
                     .Register(*registry_);
    runs_started_ = &runs.Add({});
    if (exporter_) exporter_->add_registry(registry_);
  }

  void connect_nats() {
    agents::NatsOptions no = args_.nats;
    no.name = "loadpilot coordinator service";
    nats_ = std::make_unique<agents::NatsClient>(no);
    announces_ = nats_->subscribe(proto::announce_subject(), [this](agents::NatsMessage&& m) {
      const nlohmann::json j = nlohmann::json::parse(m.data, nullptr, false);
      if (!j.is_object()) return;
      const std::string id = j.value("agent_id", std::string());
      if (id.empty()) return;
      std::lock_guard lock(mu_);
      seen_[id] = Clock::now();
    });
    nats_->publish(proto::discover_subject(), "{}");
  }

  std::size_t agents_connected() {
    std::lock_guard lock(mu_);
    return connected_locked();
  }

  void tick() { connected_gauge_->Set(static_cast<double>(agents_connected())); }

  // Every request's head, on the API's front thread, before its body is
  // read: all but a run that may start are answered here, so the probes,
  // a stop and every refusal stay quick whatever else is connected.
  agents::ApiAnswer screen(const agents::ApiRequest& req) {
    const auto answer = [](int status, std::string content_type, std::string body) {
      return agents::ApiAnswer{status, std::move(content_type), std::move(body), {}};
    };
    if (req.path == "/healthz") return answer(200, "text/plain", "ok\n");
    if (req.path == "/readyz") {
      const std::size_t n = agents_connected();
      const bool ready = n >= args_.serve_agents;
      return answer(ready ? 200 : 503, "text/plain",
                    fmt::format("{}: {} of {} agents connected\n", ready ? "ready" : "not ready", n,
                                args_.serve_agents));
    }
    const bool known = req.path == "/run" || req.path == "/stop" || req.path == "/status";
    if (!known) {
      return answer(404, "application/json",
                    json_error("no such endpoint; the API has POST /run, POST /stop, GET /status, "
                               "GET /healthz and GET /readyz"));
    }
    if (!authorized(req)) {
      log(fmt::format("{} {} from {}: refused (no or wrong API token)", req.method, req.path,
                      req.peer));
      return answer(401, "application/json",
                    json_error("missing or wrong API token (send Authorization: Bearer TOKEN)"));
    }
    const char* method = req.path == "/status" ? "GET" : "POST";
    // HEAD asks for what GET would answer, without the body.
    const bool head_of_get = req.method == "HEAD" && std::string_view(method) == "GET";
    if (req.method != method && !head_of_get) {
      return answer(405, "application/json",
                    json_error(fmt::format("{} takes {} (got {})", req.path, method, req.method)));
    }
    if (req.path == "/status") return answer(200, "application/json", status());
    if (req.path == "/stop") return stop(req);
    std::lock_guard lock(mu_);
    if (active_) return answer(409, "application/json", busy_message());
    return {};  // POST /run: its body is read, then handle()
  }

  void handle(const agents::ApiRequest& req, agents::ApiResponder& out) {
    if (req.path != "/run") {
      out.respond(404, "application/json", json_error("no such endpoint"));
      return;
    }
    run(req, out);
  }

  // SIGTERM: stops the active run and waits for it (drained).
  void shutdown(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    if (!active_) return;
    active_->stop_asked = true;
    log(fmt::format("stopping the run of {} before exiting", active_->scenario));
    cv_.notify_all();
    idle_cv_.wait_for(lock, wait, [this] { return !active_; });
  }

 private:
  struct ActiveRun {
    std::string scenario, target, peer, started_at;
    bool stop_asked = false;
  };

  std::size_t connected_locked() {
    // Agents announce only while idle: during a run the count it started
    // with stands.
    if (active_) return run_agents_;
    const auto now = Clock::now();
    std::size_t n = 0;
    for (auto it = seen_.begin(); it != seen_.end();) {
      if (now - it->second > kAgentGoneAfter) {
        it = seen_.erase(it);
      } else {
        ++n;
        ++it;
      }
    }
    return n;
  }

  bool authorized(const agents::ApiRequest& req) const {
    if (args_.api_token.empty()) return true;
    // RFC 9110 11.1: the scheme's name is case-insensitive.
    const std::string_view given = req.authorization;
    if (given.size() < 7 || !http::iequals(given.substr(0, 6), "Bearer") || given[6] != ' ')
      return false;
    return agents::same_secret(given.substr(7), args_.api_token);
  }

  std::string busy_message() const {
    return json_error(
        fmt::format("a run is active: {} against {}, started {} by {}; POST /stop "
                    "ends it",
                    active_->scenario, active_->target, active_->started_at, active_->peer));
  }

  std::string status() {
    std::lock_guard lock(mu_);
    nlohmann::json j = {{"version", kVersion},
                        {"state", active_ ? "running" : "idle"},
                        {"agents_connected", connected_locked()},
                        {"agents_expected", args_.serve_agents}};
    if (active_)
      j["run"] = {{"scenario", active_->scenario},
                  {"target", active_->target},
                  {"client", active_->peer},
                  {"started_at", active_->started_at},
                  {"stopping", active_->stop_asked}};
    return j.dump() + "\n";
  }

  agents::ApiAnswer stop(const agents::ApiRequest& req) {
    std::lock_guard lock(mu_);
    if (!active_) return {409, "application/json", json_error("no run is active"), {}};
    log(fmt::format("stop of the run of {} asked by {}", active_->scenario, req.peer));
    active_->stop_asked = true;
    cv_.notify_all();
    return {
        202, "application/json", nlohmann::json{{"stopping", active_->scenario}}.dump() + "\n", {}};
  }

  // Every problem of a run request, before anything starts.
  std::vector<std::string> check(const proto::RunRequest& r, plan::Plan* plan) {
    std::vector<std::string> errors;
    try {
      *plan = plan::Plan::from_json(r.plan);
      for (std::string& e : plan::validate(*plan)) errors.push_back("plan: " + e);
    } catch (const std::exception& e) {
      errors.push_back(fmt::format("plan: {}", e.what()));
      return errors;
    }
    if (r.workers > kMaxWorkers)
      errors.push_back(fmt::format("options.workers: at most {} (got {})", kMaxWorkers, r.workers));
    if (r.max_connections < 1 || r.max_connections > kMaxConnections)
      errors.push_back(fmt::format("options.max_connections: must be 1..{} (got {})",
                                   kMaxConnections, r.max_connections));
    if (r.max_connections < args_.serve_agents)
      errors.push_back(
          fmt::format("options.max_connections: the service's {} agents need at least {} (got {})",
                      args_.serve_agents, args_.serve_agents, r.max_connections));
    if (r.max_vusers < 0 || r.max_vusers > plan::kMaxVUsers)
      errors.push_back(fmt::format("options.max_vusers: must be 0..{} (got {})", plan::kMaxVUsers,
                                   r.max_vusers));
    const auto timeout = plan::parse_duration(r.timeout);
    if (!timeout || *timeout <= 0 || *timeout > kMaxWaitS)
      errors.push_back(
          fmt::format("options.timeout: must be a duration up to 1h (got \"{}\")", r.timeout));
    const auto drain = plan::parse_duration(r.drain);
    if (!drain || *drain < 0 || *drain > kMaxWaitS)
      errors.push_back(
          fmt::format("options.drain: must be a duration up to 1h (got \"{}\")", r.drain));
    if (r.bundle.main.size() < 4 || r.bundle.main.substr(r.bundle.main.size() - 3) != ".py")
      errors.push_back(
          fmt::format("bundle.main: must name a Python file (got \"{}\")", r.bundle.main));
    // What would keep the files from being written: the caller's mistake
    // (a 400 naming the entry), not the service's.
    for (std::string& e : proto::bundle_layout_problems(r.bundle)) errors.push_back(std::move(e));
    return errors;
  }

  std::vector<std::string> child_argv(const proto::RunRequest& r, const plan::Plan& plan) {
    std::vector<std::string> a = {self_exe(),
                                  "run",
                                  "--target",
                                  plan.target,
                                  "--scenario",
                                  plan.name,
                                  "--plan-file",
                                  ".plan.json",
                                  "--external-agents",
                                  std::to_string(args_.serve_agents),
                                  "--agents-timeout",
                                  args_.agents_timeout,
                                  "--agent-lost-after",
                                  args_.agent_lost_after,
                                  "--max-connections",
                                  std::to_string(r.max_connections),
                                  "--timeout",
                                  r.timeout,
                                  "--drain",
                                  r.drain,
                                  "--seed",
                                  std::to_string(r.seed),
                                  "--output",
                                  "ndjson",
                                  "--no-metrics",
                                  "--no-report",
                                  "--no-color",
                                  "--results-json",
                                  ".results.json",
                                  "--serve-child"};
    if (r.workers > 0) a.insert(a.end(), {"--workers", std::to_string(r.workers)});
    if (r.max_vusers > 0) a.insert(a.end(), {"--max-vusers", std::to_string(r.max_vusers)});
    if (r.insecure) a.push_back("--insecure");
    // The file last, after "--": a name that starts with '-' is a file, not
    // an option.
    a.insert(a.end(), {"--", r.bundle.main});
    return a;
  }

  void run(const agents::ApiRequest& req, agents::ApiResponder& out) {
    {
      std::lock_guard lock(mu_);
      if (active_) {
        out.respond(409, "application/json", busy_message());
        return;
      }
    }
    proto::RunRequest r;
    {
      if (nests_deeper_than(req.body, kMaxJsonDepth)) {
        out.respond(400, "application/json",
                    json_error(fmt::format("the body nests deeper than {} levels", kMaxJsonDepth)));
        return;
      }
      // The parsed body is dropped once read: only the request is kept.
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_discarded()) {
        out.respond(400, "application/json", json_error("the body is not valid JSON"));
        return;
      }
      try {
        r = proto::RunRequest::from_json(body);
      } catch (const std::exception& e) {
        out.respond(400, "application/json",
                    json_errors("the run request is not valid", {e.what()}));
        return;
      }
    }
    plan::Plan plan;
    if (const std::vector<std::string> errors = check(r, &plan); !errors.empty()) {
      out.respond(400, "application/json",
                  json_errors(fmt::format("the run request has {} problem{}", errors.size(),
                                          errors.size() == 1 ? "" : "s"),
                              errors));
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (active_) {
        out.respond(409, "application/json", json_error("a run is active; POST /stop ends it"));
        return;
      }
      // Agents stop announcing once busy: the run keeps the count it saw.
      run_agents_ = std::max(connected_locked(), args_.serve_agents);
      active_ = ActiveRun{plan.name, plan.target, req.peer, report::rfc3339_now_ms(), false};
    }
    log(fmt::format("run of {} against {} for {} ({} agents)", plan.name, plan.target, req.peer,
                    args_.serve_agents));
    runs_started_->Increment();
    try {
      stream(r, plan, out);
    } catch (const std::exception& e) {
      log(fmt::format("run of {}: {}", plan.name, e.what()));
      if (!out.streaming()) out.respond(500, "application/json", json_error(e.what()));
    }
    {
      std::lock_guard lock(mu_);
      active_.reset();
    }
    idle_cv_.notify_all();
    if (exporter_) exporter_->set_phase("idle");
  }

  void stream(const proto::RunRequest& r, const plan::Plan& plan, agents::ApiResponder& out) {
    const fs::path dir = proto::unpack_bundle(r.bundle, "loadpilot-service-", r.plan.dump());
    struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{dir};
    agents::PipeChannelOptions po;
    po.argv = child_argv(r, plan);
    po.own_group = true;
    po.keep_stderr = true;
    po.cwd = dir.string();
    auto child = std::make_unique<agents::PipeChannel>(std::move(po));

    std::mutex qmu;
    std::condition_variable qcv;
    std::deque<std::string> lines;
    std::optional<std::string> closed;
    child->open(
        [&](std::string_view line) {
          std::lock_guard lock(qmu);
          lines.emplace_back(line);
          qcv.notify_all();
        },
        [&](std::string how) {
          std::lock_guard lock(qmu);
          closed = std::move(how);
          qcv.notify_all();
        });
    out.begin_stream("application/x-ndjson");
    out.send_line(nlohmann::json{{"type", "accepted"},
                                 {"scenario", plan.name},
                                 {"agents", args_.serve_agents},
                                 {"ts", report::rfc3339_now_ms()}}
                      .dump());

    // The service's own view of the run, for Prometheus.
    std::optional<metrics::Collector> collector;
    bool hello = false, client_gone = false, stop_sent = false;
    // After a stop: the child's drain (its agents' drain, then its own),
    // then it is killed.
    const auto drain_s = plan::parse_duration(r.drain).value_or(2);
    const auto stop_budget =
        std::chrono::milliseconds(static_cast<long long>((4 * drain_s + 15) * 1000));
    // When a stopped run is killed if still going (armed by the stop).
    bool kill_armed = false;
    Clock::time_point kill_at{};
    std::string how;
    for (;;) {
      std::deque<std::string> batch;
      bool ended = false;
      {
        std::unique_lock lock(qmu);
        qcv.wait_for(lock, std::chrono::milliseconds(200),
                     [&] { return !lines.empty() || closed.has_value(); });
        batch.swap(lines);
        if (closed) {
          ended = true;
          how = *closed;
        }
      }
      for (std::string& line : batch) {
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("type")) {
          // Not the run's: something the scenario printed at import.
          j = {{"type", "output"}, {"text", line}};
          line = j.dump();
        }
        const std::string type = j["type"].is_string() ? j["type"].get<std::string>() : "";
        if (type == "hello") {
          hello = true;
          child->go(Clock::now());
          if (exporter_) {
            std::vector<std::string> tasks = j.value("tasks", std::vector<std::string>());
            exporter_->begin_run(monitor::RunInfo{plan.name, kVersion, tasks, "starting", 0});
            collector.emplace(tasks);
          }
        } else if (type == "round" && collector) {
          feed(*collector, j);
        }
        if (!client_gone && !out.send_line(line)) client_gone = true;
      }
      if (ended) break;
      bool stop_asked = false;
      {
        std::lock_guard lock(mu_);
        stop_asked = active_ && active_->stop_asked;
      }
      if (!client_gone && out.peer_gone()) client_gone = true;
      if ((client_gone || stop_asked) && !stop_sent) {
        stop_sent = true;
        log(fmt::format("run of {}: {}; stopping it", plan.name,
                        client_gone ? "its client went away" : "stop asked"));
        child->stop();
        kill_at = Clock::now() + stop_budget;
        kill_armed = true;
      }
      if (kill_armed && Clock::now() > kill_at) {
        log(fmt::format("run of {}: did not end within {} s of its stop; killing it", plan.name,
                        stop_budget.count() / 1000));
        child->kill();
        kill_armed = false;
      }
    }
    child->join();
    if (!hello && !client_gone) {
      out.send_line(
          nlohmann::json{{"type", "failed"}, {"error", error_lines(child->stderr_tail())}}.dump());
    }
    std::ifstream results_file(dir / proto::kResultsFile);
    if (results_file && !client_gone) {
      std::stringstream text;
      text << results_file.rdbuf();
      const nlohmann::json results = nlohmann::json::parse(text.str(), nullptr, false);
      if (!results.is_discarded())
        out.send_line(nlohmann::json{{"type", "results"}, {"results", results}}.dump());
    }
    if (!client_gone) out.send_line(nlohmann::json{{"type", "exit"}, {"how", how}}.dump());
    if (exporter_) exporter_->finish(stop_sent);
    log(fmt::format("run of {}: its process {}", plan.name, how));
  }

  void feed(metrics::Collector& collector, const nlohmann::json& frame) {
    try {
      std::vector<metrics::WorkerReport> reports(1);
      reports[0].stats = metrics::IntervalStats::from_json(frame.at("stats"));
      reports[0].in_flight = frame.value("in_flight", std::uint64_t{0});
      reports[0].connections = frame.value("connections", std::uint64_t{0});
      metrics::Snapshot s = collector.add_round(reports, 1.0);
      s.elapsed_s = frame.value("elapsed_s", 0.0);
      s.phase = frame.value("phase", std::string());
      s.target_rps = frame.value("target_rps", 0.0);
      exporter_->update(s, collector.last_round());
      exporter_->set_phase(s.phase);
    } catch (const std::exception& e) {
      log(fmt::format("a round frame could not be read for /metrics: {}", e.what()));
    }
  }

  const ServeArgs& args_;
  monitor::Exporter* exporter_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* connected_gauge_;
  prometheus::Gauge* expected_gauge_;
  prometheus::Counter* runs_started_;
  std::unique_ptr<agents::NatsClient> nats_;
  std::unique_ptr<agents::NatsClient::Subscription> announces_;

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::map<std::string, Clock::time_point> seen_;
  std::optional<ActiveRun> active_;
  std::size_t run_agents_ = 0;
};

// HOST:PORT, [V6]:PORT.
bool split_listen(const std::string& text, std::string* host, int* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *port = std::stoi(p);
  return *port <= 65535;
}

}  // namespace

int serve_command(const ServeArgs& args) {
  if (!args.serve) {
    fmt::print(stderr,
               "error: coordinator: add --serve (the coordinator service is its only mode; a "
               "one-off coordinator is `loadpilot run --external-agents N`)\n");
    return kExitInvalid;
  }
  std::string host;
  int port = 0;
  if (!split_listen(args.listen, &host, &port)) {
    fmt::print(stderr, "error: --listen: expected HOST:PORT, e.g. 0.0.0.0:8080 (got \"{}\")\n",
               args.listen);
    return kExitInvalid;
  }
  for (const auto& [flag, value, min_s] :
       {std::tuple{"--agents-timeout", args.agents_timeout, 0.1},
        std::tuple{"--agent-lost-after", args.agent_lost_after, 2.0}}) {
    const auto d = plan::parse_duration(value);
    if (!d || *d < min_s || *d > kMaxWaitS) {
      fmt::print(stderr, "error: {}: must be a duration up to 1h (got \"{}\")\n", flag, value);
      return kExitInvalid;
    }
  }
  const bool loopback = agents::is_loopback_host(host);
  if (args.api_token.empty() && !loopback && !args.allow_open) {
    fmt::print(stderr,
               "error: refusing to serve on {} without an API token: anyone who reaches it could "
               "aim the agents at any target. Set --api-token (or LOADPILOT_API_TOKEN), listen on "
               "127.0.0.1, or pass --allow-open to accept that risk\n",
               args.listen);
    return kExitInvalid;
  }
  if (args.api_token.empty() && !loopback)
    fmt::print(stderr, "warning: serving on {} with no API token (--allow-open)\n", args.listen);
  else if (!args.api_token.empty() && args.api_token.size() < 16)
    fmt::print(stderr, "warning: the API token has {} characters; use at least 16 random ones\n",
               args.api_token.size());
  // The runs' processes read the NATS server and its credentials from the
  // environment, not from their command lines (which `ps` shows): the URL
  // may hold a token or a user and password.
  setenv("NATS_URL", args.nats.url.c_str(), 1);
  if (!args.nats.token.empty()) setenv("NATS_TOKEN", args.nats.token.c_str(), 1);
  if (!args.nats.ca_file.empty()) setenv("NATS_CA", args.nats.ca_file.c_str(), 1);
  unsetenv("LOADPILOT_API_TOKEN");

  // Every thread started from here on inherits the blocked stop signals;
  // the main thread waits for them.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);

  std::unique_ptr<monitor::Exporter> exporter;
  if (!args.no_metrics) {
    try {
      exporter = std::make_unique<monitor::Exporter>(
          monitor::ExporterOptions{args.metrics_host, args.metrics_port},
          monitor::RunInfo{"", kVersion, {}, "idle", 0});
    } catch (const monitor::ExporterError& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return kExitInvalid;
    }
  }
  Service service(args, exporter.get());
  try {
    service.connect_nats();
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  agents::ApiServerOptions so;
  so.host = host;
  so.port = port;
  so.max_body = kMaxRequestBytes;
  // One largest body at a time (one run at a time anyway): what many large
  // posts can make the service hold stays within a small container's limit.
  so.max_bodies_in_flight = kMaxRequestBytes;
  std::unique_ptr<agents::ApiServer> server;
  try {
    server = std::make_unique<agents::ApiServer>(
        so, [&service](const agents::ApiRequest& req) { return service.screen(req); },
        [&service](const agents::ApiRequest& req, agents::ApiResponder& out) {
          service.handle(req, out);
        });
  } catch (const agents::ApiError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  server->start();
  log(fmt::format("serving the API on http://{} ({}); {}; runs use {} agent{} on {}",
                  server->address(), args.api_token.empty() ? "open: no token" : "token required",
                  exporter ? "metrics on " + exporter->url() : "no metrics", args.serve_agents,
                  args.serve_agents == 1 ? "" : "s", agents::redact_url(args.nats.url)));
  int sig = 0;
  for (;;) {
    service.tick();
    const timespec second{1, 0};
    sig = sigtimedwait(&stop_set, nullptr, &second);
    if (sig > 0) break;
  }
  log(fmt::format("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM"));
  service.shutdown(std::chrono::seconds(60));
  server->stop();
  return kExitOk;
}

}  // namespace loadpilot::cli
