#pragma once
// `loadpilot coordinator --serve` (docs/distributed.md#the-coordinator-service):
// a long-running coordinator with an HTTP API, for a cluster whose agents
// (`loadpilot agent`) meet it on a NATS server.
//
//   POST /run    body: agents::protocol::RunRequest (what `loadpilot run
//                --coordinator-url` sends). Answer: an ndjson stream — the
//                run process's lines (cluster/service/serve_child.h: hello, snapshot,
//                round, summary, end), then {"type":"results",...} and
//                {"type":"exit",...}. 401 without the token (judged on the
//                headers: the body is not read), 409 while a run is active,
//                400 with every message for a bad plan or a bundle whose
//                files cannot be written, 413 over the size limit, 503 with
//                Retry-After while another large body is being received. A
//                client that disconnects stops its run.
//   POST /stop   stops the active run (drained): 202, or 409 when idle.
//   GET /status  the state: idle or the active run, agents connected.
//   GET /healthz "ok" (no token); GET /readyz 200 once --serve-agents
//                agents are connected, else 503 (no token).
// Prometheus metrics on --metrics-port (9090) for the service's lifetime:
// the current or last run's series, phase "idle" between runs, and
// loadpilot_agents_connected.
//
// Each run is a child `loadpilot run --external-agents N --serve-child`
// (crash isolation: the service outlives any run). One run at a time.
// Every endpoint but POST /run is answered on the API's front thread
// (cluster/service/api_server.h), so slow or numerous clients do not starve the
// probes or a stop.
// Security: a non-loopback --listen needs --api-token unless --allow-open;
// tokens are compared in constant time; no endpoint reads or writes a file
// named by the caller (the bundle goes to a fresh temporary folder).
// SIGINT/SIGTERM stop the active run (drained) and end the service, exit 0.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cluster/protocol.h"
#include "cluster/service/api_server.h"
#include "cluster/transport/nats_client.h"
#include "metrics/snapshot.h"
#include "monitor/exporter.h"
#include "plan/plan.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace loadpilot::cli {

struct ServeArgs {
  bool serve = false;
  std::string listen = "0.0.0.0:8080";
  agents::NatsOptions nats;
  std::size_t serve_agents = 1;
  std::string api_token;
  bool allow_open = false;
  std::string agents_timeout = "30s";
  std::string agent_lost_after = "15s";
  bool no_metrics = false;
  std::string metrics_host = "127.0.0.1";  // the chart opens it
  int metrics_port = 9090;
};

int serve_command(const ServeArgs& args);

// Service: the coordinator service's decisions (docs/distributed.md#the-coordinator-service).
// screen() answers every request's head on the API's front thread — the
// probes, /status, POST /stop, and every refusal: 404 for an unknown path,
// 401 without the token, 405 for a wrong method, 409 while a run is
// active — and lets only a POST /run that may start through to handle(),
// which reads its body (400 when it is not a valid run request), starts
// the run child (`loadpilot run --serve-child`), streams its lines and
// ends it when stopped or when the client goes. One run at a time.
//
// Thread-safety: screen() and shutdown() may be called from any thread
// while handle() runs on another; the run's state is under mu_.
class Service {
 public:
  // `run_program`: what each run starts with the run child's arguments —
  // this program (empty), or a stand-in a test gives to play the child's
  // side of the pipes.
  Service(const ServeArgs& args, monitor::Exporter* exporter, std::string run_program = {});

  void connect_nats();

  std::size_t agents_connected();

  // Updates the connected-agents gauge (once a second).
  void tick();

  // Every request's head, on the API's front thread, before its body is
  // read: all but a run that may start are answered here, so the probes,
  // a stop and every refusal stay quick whatever else is connected.
  agents::ApiAnswer screen(const agents::ApiRequest& req);

  void handle(const agents::ApiRequest& req, agents::ApiResponder& out);

  // SIGTERM: stops the active run and waits for it (drained).
  void shutdown(std::chrono::milliseconds wait);

 private:
  struct ActiveRun {
    std::string scenario, target, peer, started_at;
    bool stop_asked = false;
  };

  std::size_t connected_locked();

  bool authorized(const agents::ApiRequest& req) const;

  std::string busy_message() const;

  std::string status();

  agents::ApiAnswer stop(const agents::ApiRequest& req);

  // Every problem of a run request, before anything starts.
  std::vector<std::string> check(const agents::protocol::RunRequest& r, plan::Plan* plan);

  std::vector<std::string> child_argv(const agents::protocol::RunRequest& r,
                                      const plan::Plan& plan);

  void run(const agents::ApiRequest& req, agents::ApiResponder& out);

  void stream(const agents::protocol::RunRequest& r, const plan::Plan& plan,
              agents::ApiResponder& out);

  void feed(metrics::Collector& collector, const nlohmann::json& frame);
  struct Relay;
  void relay_line(Relay& relay, std::string& line);
  void supervise(Relay& relay);
  void finish_stream(Relay& relay, const std::filesystem::path& dir, const std::string& how);

  const ServeArgs& args_;
  monitor::Exporter* exporter_;
  std::string run_program_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge* connected_gauge_;
  prometheus::Gauge* expected_gauge_;
  prometheus::Counter* runs_started_;
  std::unique_ptr<agents::NatsClient> nats_;
  std::unique_ptr<agents::NatsClient::Subscription> announces_;

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::map<std::string, std::chrono::steady_clock::time_point> seen_;
  std::optional<ActiveRun> active_;
  std::size_t run_agents_ = 0;
};

}  // namespace loadpilot::cli
