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

#include "build_info.h"
#include "cluster/bundle_files.h"
#include "cluster/child_run.h"
#include "cluster/protocol.h"
#include "cluster/service/api_server.h"
#include "cluster/service/service.h"
#include "cluster/service/service_detail.h"
#include "cluster/transport/pipe_channel.h"
#include "http/ascii.h"
#include "http/target.h"
#include "metrics/snapshot.h"
#include "monitor/exporter.h"
#include "plan/duration.h"
#include "plan/plan.h"
#include "report/wall_clock.h"
#include "run/exit_codes.h"
#include "run/run_config.h"

namespace loadpilot::cli {

using service_detail::Clock;
using service_detail::json_error;
using service_detail::json_errors;
using service_detail::log;
namespace fs = std::filesystem;
namespace proto = agents::protocol;

namespace {

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

}  // namespace

std::vector<std::string> Service::child_argv(const proto::RunRequest& r, const plan::Plan& plan) {
  agents::ChildRun c;
  c.target = plan.target;
  c.scenario = plan.name;
  c.file = r.bundle.main;
  c.plan_file = ".plan.json";
  c.external_agents = args_.serve_agents;
  c.agents_timeout = args_.agents_timeout;
  c.agent_lost_after = args_.agent_lost_after;
  c.max_connections = r.max_connections;
  c.workers = r.workers;
  c.max_vusers = r.max_vusers > 0 ? static_cast<std::size_t>(r.max_vusers) : 0;
  c.timeout = r.timeout;
  c.drain = r.drain;
  c.seed = r.seed;
  c.insecure = r.insecure;
  c.serve_child = true;
  c.results_json = ".results.json";
  std::vector<std::string> argv = agents::command_line(c);
  if (!run_program_.empty()) argv[0] = run_program_;
  return argv;
}

void Service::run(const agents::ApiRequest& req, agents::ApiResponder& out) {
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
      out.respond(400, "application/json", json_errors("the run request is not valid", {e.what()}));
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

namespace {

// The run child's lines and its end, as its PipeChannel delivers them on
// a thread of its own.
struct ChildLines {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> lines;
  std::optional<std::string> closed;

  void open(agents::PipeChannel& child) {
    child.open(
        [this](std::string_view line) {
          std::lock_guard lock(mu);
          lines.emplace_back(line);
          cv.notify_all();
        },
        [this](std::string how) {
          std::lock_guard lock(mu);
          closed = std::move(how);
          cv.notify_all();
        });
  }
  // Waits up to 200 ms for lines; returns them, and sets *how once the
  // child has ended.
  std::deque<std::string> take(std::optional<std::string>* how) {
    std::deque<std::string> batch;
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(200),
                [&] { return !lines.empty() || closed.has_value(); });
    batch.swap(lines);
    if (closed) *how = *closed;
    return batch;
  }
};

struct RemoveDir {
  fs::path dir;
  ~RemoveDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

// What a stream knows of its run so far.
struct Service::Relay {
  const plan::Plan& plan;
  agents::PipeChannel& child;
  agents::ApiResponder& out;
  std::optional<metrics::Collector> collector;  // the service's own view, for Prometheus
  bool hello = false, client_gone = false, stop_sent = false;
  // After a stop: the child's drain (its agents' drain, then its own),
  // then it is killed.
  std::chrono::milliseconds stop_budget{0};
  std::optional<Clock::time_point> kill_at;
};

void Service::stream(const proto::RunRequest& r, const plan::Plan& plan,
                     agents::ApiResponder& out) {
  const fs::path dir = proto::unpack_bundle(r.bundle, "loadpilot-service-", r.plan.dump());
  RemoveDir cleanup{dir};
  agents::PipeChannelOptions po;
  po.argv = child_argv(r, plan);
  po.own_group = true;
  po.keep_stderr = true;
  po.cwd = dir.string();
  auto child = std::make_unique<agents::PipeChannel>(std::move(po));
  ChildLines lines;
  lines.open(*child);
  out.begin_stream("application/x-ndjson");
  out.send_line(nlohmann::json{{"type", "accepted"},
                               {"scenario", plan.name},
                               {"agents", args_.serve_agents},
                               {"ts", report::rfc3339_now_ms()}}
                    .dump());
  Relay relay{plan, *child, out, std::nullopt, false, false, false, {}, std::nullopt};
  const auto drain_s = plan::parse_duration(r.drain).value_or(2);
  relay.stop_budget = std::chrono::milliseconds(static_cast<long long>((4 * drain_s + 15) * 1000));
  std::optional<std::string> how;
  while (!how) {
    for (std::string& line : lines.take(&how)) relay_line(relay, line);
    if (!how) supervise(relay);
  }
  child->join();
  finish_stream(relay, dir, *how);
}

void Service::relay_line(Relay& relay, std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object() || !j.contains("type")) {
    // Not the run's: something the scenario printed at import.
    j = {{"type", "output"}, {"text", line}};
    line = j.dump();
  }
  const std::string type = j["type"].is_string() ? j["type"].get<std::string>() : "";
  if (type == "hello") {
    relay.hello = true;
    relay.child.go(Clock::now());
    if (exporter_) {
      std::vector<std::string> tasks = j.value("tasks", std::vector<std::string>());
      exporter_->begin_run(monitor::RunInfo{relay.plan.name, kVersion, tasks, "starting", 0});
      relay.collector.emplace(tasks);
    }
  } else if (type == "round" && relay.collector) {
    feed(*relay.collector, j);
  }
  if (!relay.client_gone && !relay.out.send_line(line)) relay.client_gone = true;
}

// A stop asked or the client gone: the child is told to stop, and killed
// when it has not ended within the stop budget.
void Service::supervise(Relay& relay) {
  bool stop_asked = false;
  {
    std::lock_guard lock(mu_);
    stop_asked = active_ && active_->stop_asked;
  }
  if (!relay.client_gone && relay.out.peer_gone()) relay.client_gone = true;
  if ((relay.client_gone || stop_asked) && !relay.stop_sent) {
    relay.stop_sent = true;
    log(fmt::format("run of {}: {}; stopping it", relay.plan.name,
                    relay.client_gone ? "its client went away" : "stop asked"));
    relay.child.stop();
    relay.kill_at = Clock::now() + relay.stop_budget;
  }
  if (relay.kill_at && Clock::now() > *relay.kill_at) {
    log(fmt::format("run of {}: did not end within {} s of its stop; killing it", relay.plan.name,
                    relay.stop_budget.count() / 1000));
    relay.child.kill();
    relay.kill_at.reset();
  }
}

// The stream's last lines: why a run that never said hello failed, its
// results, how its process ended.
void Service::finish_stream(Relay& relay, const fs::path& dir, const std::string& how) {
  if (!relay.hello && !relay.client_gone) {
    relay.out.send_line(
        nlohmann::json{{"type", "failed"}, {"error", error_lines(relay.child.stderr_tail())}}
            .dump());
  }
  std::ifstream results_file(dir / proto::kResultsFile);
  if (results_file && !relay.client_gone) {
    std::stringstream text;
    text << results_file.rdbuf();
    const nlohmann::json results = nlohmann::json::parse(text.str(), nullptr, false);
    if (!results.is_discarded())
      relay.out.send_line(nlohmann::json{{"type", "results"}, {"results", results}}.dump());
  }
  if (!relay.client_gone)
    relay.out.send_line(nlohmann::json{{"type", "exit"}, {"how", how}}.dump());
  if (exporter_) exporter_->finish(relay.stop_sent);
  log(fmt::format("run of {}: its process {}", relay.plan.name, how));
}

void Service::feed(metrics::Collector& collector, const nlohmann::json& frame) {
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

}  // namespace loadpilot::cli
