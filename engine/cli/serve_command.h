#pragma once
// `loadpilot coordinator --serve` (docs/distributed.md#the-coordinator-service):
// a long-running coordinator with an HTTP API, for a cluster whose agents
// (`loadpilot agent`) meet it on a NATS server.
//
//   POST /run    body: agents::protocol::RunRequest (what `loadpilot run
//                --coordinator-url` sends). Answer: an ndjson stream — the
//                run process's lines (cli/serve_child.h: hello, snapshot,
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
// (agents/api_server.h), so slow or numerous clients do not starve the
// probes or a stop.
// Security: a non-loopback --listen needs --api-token unless --allow-open;
// tokens are compared in constant time; no endpoint reads or writes a file
// named by the caller (the bundle goes to a fresh temporary folder).
// SIGINT/SIGTERM stop the active run (drained) and end the service, exit 0.
#include <cstddef>
#include <string>

#include "agents/nats_client.h"

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

}  // namespace loadpilot::cli
