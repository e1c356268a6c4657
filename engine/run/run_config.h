#pragma once
// `loadpilot run`: scenario file -> Plan -> Engine -> live view -> summary,
// results file and exit code.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadpilot::cli {

// Bound of --external-agents.
inline constexpr std::size_t kMaxExternalAgents = 1000;

// Where `run` writes the HTML report unless told otherwise.
inline constexpr const char* kDefaultReportPath = "results/report.html";

// Bounds of --workers and --max-connections (docs/cli.md). Each worker needs
// a connection of its own, so --workers never exceeds the connections.
inline constexpr std::size_t kMaxWorkers = 1024;
inline constexpr std::size_t kMaxConnections = 1'000'000;
// --timeout and --metrics-linger: at most an hour.
inline constexpr double kMaxWaitS = 3600;

// `--agent I/N`: this process runs share I of N of a coordinator's run.
inline constexpr std::size_t kMaxProcesses = 64;
// A local agent reports once a second; one silent this long is hung
// (stopped, deadlocked) and is ended rather than left to load the target
// unseen.
inline constexpr std::chrono::milliseconds kLocalAgentSilence{5000};

struct AgentShare {
  std::size_t index = 0;  // 0-based
  std::size_t count = 1;
};

// Parses --agent's "I/N" (I from 1 to N).
std::optional<AgentShare> parse_agent(const std::string& text);

// `--threshold KEY=VALUE` or k6's `p(95)<200`: the key and the limit, or
// nullopt with *error naming the option and the value.
std::optional<std::pair<std::string, double>> parse_threshold_option(std::string_view text,
                                                                     std::string* error);

// --nats-url, --nats-token, --nats-ca: where the agents of a distributed
// run meet their coordinator (docs/distributed.md).
struct NatsFlags {
  std::string url = "nats://127.0.0.1:4222";
  std::string token;    // empty: none (or the one in the URL)
  std::string ca_file;  // empty: the system's CAs when TLS is used
};

struct RunArgs {
  std::string file;
  std::string target;
  // --scenario NAME (repeatable), --all, --group NAME: the scenarios run
  // together (docs/scenarios.md#several-scenarios-in-one-run).
  std::vector<std::string> scenarios;
  bool all = false;
  std::string group;
  std::optional<std::string> rps, duration, ramp_up, mode;
  std::optional<int> steps;
  std::optional<int> max_vusers;
  std::optional<int> users;             // closed model (docs/scenarios.md)
  std::vector<std::string> thresholds;  // KEY=VALUE
  std::size_t workers = 0;              // 0: not given (one per core)
  std::size_t max_connections = 0;      // 0: not given (from the rate)
  std::string timeout = "30s";
  std::string drain = "2s";  // docs/engine.md#the-end-of-a-run
  bool insecure = false;
  // --http-version 1.1|2 (--http2: 2) over the scenario's http_version=
  // (docs/protocols.md#choosing-http2).
  std::optional<std::string> http_version;
  bool http2 = false;
  bool dry_run = false;
  std::string output = "auto";  // auto | text | ndjson
  std::string results_json;
  bool no_color = false;
  std::uint64_t seed = 1;
  // Local agent processes (docs/engine.md#processes); `agent` is internal:
  // "I/N" in an agent's own command line.
  std::size_t processes = 1;
  // --agents auto (run/auto_agents.h): `run`'s default; the choice
  // replaces `processes` in RunSetup::agents.
  bool agents_auto = false;
  std::string agent;
  std::string plan_file;  // internal: an agent's plan, as its coordinator resolved it
  // External agents over NATS (docs/distributed.md).
  std::size_t external_agents = 0;
  NatsFlags nats;
  std::string agents_timeout = "30s";
  std::string agent_lost_after = "15s";
  // The coordinator service (docs/distributed.md#the-coordinator-service):
  // run there instead of here; its bearer token.
  std::string coordinator_url;
  std::string api_token;
  // internal: this run is the coordinator service's run process
  // (cluster/service/serve_child.h).
  bool serve_child = false;
  // HTML report and baseline (docs/report.md).
  std::string report = kDefaultReportPath;
  bool no_report = false;
  bool save_baseline = false;
  // CI outputs (docs/output.md): JUnit XML and Locust-style CSV files.
  std::string junit;
  std::string csv_prefix;
  // Prometheus endpoint (docs/monitoring.md).
  bool no_metrics = false;
  // Loopback unless opened (docs/monitoring.md#the-endpoint).
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 9090;
  std::string metrics_linger = "5s";
  // Given on the command line: a busy default port only warns, and the
  // linger applies even when nothing scraped (docs/monitoring.md).
  bool metrics_port_given = false;
  bool metrics_linger_given = false;
  // A generator-bound run fails instead of warning (docs/engine.md#overload).
  bool strict = false;
};

}  // namespace loadpilot::cli
