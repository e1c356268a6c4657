#include "cluster/service/service.h"

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
#include "cluster/protocol.h"
#include "cluster/service/api_server.h"
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

// An agent announces itself every kAnnounceEvery while idle; one unheard
// for three of those is gone.
constexpr auto kAgentGoneAfter = 3 * proto::kAnnounceEvery;

}  // namespace

Service::Service(const ServeArgs& args, monitor::Exporter* exporter, std::string run_program)
    : args_(args),
      exporter_(exporter),
      run_program_(std::move(run_program)),
      registry_(std::make_shared<prometheus::Registry>()) {
  connected_gauge_ =
      &prometheus::BuildGauge()
           .Name("loadpilot_agents_connected")
           .Help("Agents the coordinator service has heard from (idle or in its run)")
           .Register(*registry_)
           .Add({});
  expected_gauge_ = &prometheus::BuildGauge()
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

void Service::connect_nats() {
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

std::size_t Service::agents_connected() {
  std::lock_guard lock(mu_);
  return connected_locked();
}

// Every request's head, on the API's front thread, before its body is
// read: all but a run that may start are answered here, so the probes,
// a stop and every refusal stay quick whatever else is connected.
agents::ApiAnswer Service::screen(const agents::ApiRequest& req) {
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

void Service::tick() { connected_gauge_->Set(static_cast<double>(agents_connected())); }

void Service::handle(const agents::ApiRequest& req, agents::ApiResponder& out) {
  if (req.path != "/run") {
    out.respond(404, "application/json", json_error("no such endpoint"));
    return;
  }
  run(req, out);
}

void Service::shutdown(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (!active_) return;
  active_->stop_asked = true;
  log(fmt::format("stopping the run of {} before exiting", active_->scenario));
  cv_.notify_all();
  idle_cv_.wait_for(lock, wait, [this] { return !active_; });
}

std::size_t Service::connected_locked() {
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

bool Service::authorized(const agents::ApiRequest& req) const {
  if (args_.api_token.empty()) return true;
  // RFC 9110 11.1: the scheme's name is case-insensitive.
  const std::string_view given = req.authorization;
  if (given.size() < 7 || !http::iequals(given.substr(0, 6), "Bearer") || given[6] != ' ')
    return false;
  return agents::same_secret(given.substr(7), args_.api_token);
}

std::string Service::busy_message() const {
  return json_error(
      fmt::format("a run is active: {} against {}, started {} by {}; POST /stop "
                  "ends it",
                  active_->scenario, active_->target, active_->started_at, active_->peer));
}

std::string Service::status() {
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

agents::ApiAnswer Service::stop(const agents::ApiRequest& req) {
  std::lock_guard lock(mu_);
  if (!active_) return {409, "application/json", json_error("no run is active"), {}};
  log(fmt::format("stop of the run of {} asked by {}", active_->scenario, req.peer));
  active_->stop_asked = true;
  cv_.notify_all();
  return {
      202, "application/json", nlohmann::json{{"stopping", active_->scenario}}.dump() + "\n", {}};
}

std::vector<std::string> Service::check(const proto::RunRequest& r, plan::Plan* plan) {
  std::vector<std::string> errors;
  try {
    *plan = plan::Plan::from_json(r.plan);
    for (std::string& e : plan::validate(*plan)) errors.push_back("plan: " + e);
    // Agents carry one scenario for now (docs/scenarios.md#several-scenarios-in-one-run).
    if (plan->several())
      errors.push_back(
          "plan.scenarios: a run of several scenarios runs in one process only for now; run it "
          "with loadpilot run, without --coordinator-url");
  } catch (const std::exception& e) {
    errors.push_back(fmt::format("plan: {}", e.what()));
    return errors;
  }
  if (r.workers > kMaxWorkers)
    errors.push_back(fmt::format("options.workers: at most {} (got {})", kMaxWorkers, r.workers));
  if (r.max_connections < 1 || r.max_connections > kMaxConnections)
    errors.push_back(fmt::format("options.max_connections: must be 1..{} (got {})", kMaxConnections,
                                 r.max_connections));
  if (r.max_connections < args_.serve_agents)
    errors.push_back(
        fmt::format("options.max_connections: the service's {} agents need at least {} (got {})",
                    args_.serve_agents, args_.serve_agents, r.max_connections));
  if (r.max_vusers < 0 || r.max_vusers > plan::kMaxVUsers)
    errors.push_back(
        fmt::format("options.max_vusers: must be 0..{} (got {})", plan::kMaxVUsers, r.max_vusers));
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

}  // namespace loadpilot::cli
