#include "cli/commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>

#include "build_info.h"
#include "cli/arguments.h"
#include "cli/dotenv.h"
#include "cli/find_command.h"
#include "cli/init_command.h"
#include "cli/report_commands.h"
#include "cli/run_command.h"
#include "cluster/agent/agent_child.h"
#include "cluster/agent/persistent_agent.h"
#include "cluster/agent/simulated_agents.h"
#include "cluster/service/service.h"
#include "demo/demo_api.h"
#include "monitor/exporter.h"
#include "plan/plan.h"
#include "run/process_faults.h"
#include "scenario/loader.h"

namespace loadpilot::cli {

// External agents over NATS and the coordinator service: `run`'s and
// `find`'s (docs/distributed.md).
void add_remote_agent_options(CLI::App& cmd, RunArgs& a) {
  cmd.add_option("--external-agents", a.external_agents,
                 "Run on N agents (`loadpilot agent`) reached through NATS")
      ->transform(whole_number(1, static_cast<long long>(kMaxExternalAgents)));
  cmd.add_option("--nats-url", a.nats.url, "NATS server of the external agents")
      ->envname("NATS_URL");
  cmd.add_option("--nats-token", a.nats.token, "NATS authentication token")->envname("NATS_TOKEN");
  cmd.add_option("--nats-ca", a.nats.ca_file, "CA file for a NATS server with TLS")
      ->envname("NATS_CA");
  cmd.add_option("--agents-timeout", a.agents_timeout, "How long to wait for the external agents")
      ->capture_default_str();
  cmd.add_option("--agent-lost-after", a.agent_lost_after,
                 "An external agent silent this long is marked lost")
      ->capture_default_str();
  cmd.add_option("--coordinator-url", a.coordinator_url,
                 "Run on the coordinator service at this URL (http://HOST:PORT)")
      ->envname("LOADPILOT_COORDINATOR_URL");
  cmd.add_option("--api-token", a.api_token, "The coordinator service's API token")
      ->envname("LOADPILOT_API_TOKEN");
}

namespace {

constexpr double kDay = 86'400;

void add_run_cluster_options(CLI::App& run, RunArgs& a);
void add_run_metrics_options(CLI::App& run, RunArgs& a);

void add_run(CLI::App& app, RunArgs& a) {
  auto* run = app.add_subcommand("run", "Run a scenario file against a target");
  run->add_option("file", a.file, "Python scenario file")->required();
  run->add_option("-t,--target", a.target, "Base URL, e.g. http://127.0.0.1:8000")
      ->envname("LOADPILOT_TARGET")
      ->required();
  // One NAME per occurrence, like --threshold: the file after it stays the file.
  run->add_option("-s,--scenario", a.scenarios,
                  "Scenario class to run (repeat to run several together)")
      ->allow_extra_args(false);
  run->add_flag("--all", a.all, "Run every @scenario class of the file together");
  run->add_option("--group", a.group, "Run the scenarios of this @scenario(group=) together");
  run->add_option("--rps", a.rps, "Override the arrival rate (iterations/s; 'max' = unlimited)");
  run->add_option("--duration", a.duration, "Override duration (30s, 2m, 1m30s, 1h)");
  run->add_option("--ramp-up", a.ramp_up, "Override ramp-up time");
  run->add_option("--mode", a.mode, "Override mode: ramp, constant, step, spike");
  run->add_option("--steps", a.steps, "Override the number of steps (step mode)")
      ->transform(whole_number(1, plan::kMaxSteps));
  run->add_option("--max-vusers", a.max_vusers, "Upper bound on VUsers (default 1000)")
      ->transform(whole_number(1, plan::kMaxVUsers));
  run->add_option("--users", a.users, "Override the users of a closed-model scenario (users=)")
      ->transform(whole_number(1, plan::kMaxUsers));
  // One KEY=VALUE per occurrence: a vector option would otherwise also
  // swallow the scenario file that follows it.
  run->add_option("--threshold", a.thresholds, "SLA limit KEY=VALUE (repeat for more; overrides)")
      ->allow_extra_args(false);
  run->add_option("--workers", a.workers, "Worker threads (default: one per core)")
      ->transform(whole_number(1, static_cast<long long>(kMaxWorkers)));
  run->add_option("--max-connections", a.max_connections,
                  "Connection limit (default: from the rate, see docs/engine.md)")
      ->transform(whole_number(1, static_cast<long long>(kMaxConnections)));
  run->add_option("--timeout", a.timeout, "Connect and request timeout")->capture_default_str();
  run->add_option("--drain", a.drain,
                  "After the profile (or Ctrl-C), how long in-flight iterations may finish")
      ->capture_default_str();
  run->add_flag("--insecure", a.insecure, "Do not verify TLS certificates");
  run->add_option("--http-version", a.http_version,
                  "HTTP to speak: 1.1, or 2 (h2 over TLS, h2c with prior knowledge over http://); "
                  "default: HTTP/2 when an https:// server offers it")
      ->check(CLI::IsMember({"1.1", "2"}));
  run->add_flag("--http2", a.http2, "Same as --http-version 2");
  run->add_flag("--dry-run", a.dry_run, "Validate and print the plan JSON, send nothing");
  run->add_flag("--strict", a.strict,
                "Fail the run when the load generator held it back for over 10% of its seconds");
  run->add_option("--output", a.output, "Live output: auto (dashboard on a terminal), text, ndjson")
      ->capture_default_str();
  run->add_option("--results-json", a.results_json, "Write the final results to this file");
  run->add_flag("--no-color", a.no_color, "Plain text without colours");
  run->add_option("--seed", a.seed, "Seed for task choice and random test data orders")
      ->capture_default_str()
      ->transform(unsigned_number());
  add_run_cluster_options(*run, a);
  add_report_options(*run, a);
  add_run_metrics_options(*run, a);
}

// Where the load runs: local agent processes, external agents, the
// coordinator service.
void add_run_cluster_options(CLI::App& run_app, RunArgs& a) {
  CLI::App* run = &run_app;
  // `run`'s default is auto (run/auto_agents.h); a number turns it off.
  a.agents_auto = true;
  run->add_option_function<std::string>(
         "--agents,--processes",
         [&a](const std::string& value) {
           a.agents_auto = value == "auto";
           if (!a.agents_auto) a.processes = std::stoul(value);
         },
         "Run in N local agent processes (one Python thread each), or auto: one per core when "
         "Python tasks need more than one Python thread (docs/engine.md#processes); default auto")
      ->type_name("N|auto")
      ->transform(auto_or_whole_number(1, static_cast<long long>(kMaxProcesses)));
  add_remote_agent_options(*run, a);
  // Internal: share I/N of an agents run, and the plan it was given; the
  // coordinator service's run process.
  run->add_option("--agent", a.agent)->group("");
  run->add_option("--plan-file", a.plan_file)->group("");
  run->add_flag("--serve-child", a.serve_child)->group("");
}

// The Prometheus endpoint (docs/monitoring.md).
void add_run_metrics_options(CLI::App& run_app, RunArgs& a) {
  CLI::App* run = &run_app;
  run->add_flag("--no-metrics", a.no_metrics, "Do not serve Prometheus metrics")
      ->envname("LOADPILOT_NO_METRICS");
  run->add_option("--metrics-host", a.metrics_host,
                  "IPv4 address or host name the /metrics endpoint listens on (0.0.0.0: every "
                  "interface, for a Prometheus elsewhere)")
      ->envname("LOADPILOT_METRICS_HOST")
      ->capture_default_str()
      ->transform(listen_host(/*ipv6=*/false));
  run->add_option("--metrics-port", a.metrics_port,
                  "Port of the /metrics endpoint (0: any free); when not given and 9090 is "
                  "busy, the run goes on without it")
      ->capture_default_str()
      ->transform(whole_number(0, 65535))
      ->each([&a](const std::string&) { a.metrics_port_given = true; });
  run->add_option("--metrics-linger", a.metrics_linger,
                  "Keep serving the final metrics this long after the run (by default only "
                  "when something scraped /metrics during it)")
      ->capture_default_str()
      ->each([&a](const std::string&) { a.metrics_linger_given = true; });
}

void add_coordinator(CLI::App& app, ServeArgs& a) {
  auto* cmd = app.add_subcommand(
      "coordinator", "Serve runs over HTTP on agents reached through NATS (docs/distributed.md)");
  cmd->add_flag("--serve", a.serve, "Run the coordinator service (the only mode)");
  cmd->add_option("--listen", a.listen, "HOST:PORT of the HTTP API")->capture_default_str();
  cmd->add_option("--nats-url", a.nats.url, "NATS server of the agents")
      ->envname("NATS_URL")
      ->capture_default_str();
  cmd->add_option("--nats-token", a.nats.token, "NATS authentication token")->envname("NATS_TOKEN");
  cmd->add_option("--nats-ca", a.nats.ca_file, "CA file for a NATS server with TLS")
      ->envname("NATS_CA");
  cmd->add_option("--serve-agents", a.serve_agents, "Agents every run uses; ready once connected")
      ->envname("SERVE_AGENTS")
      ->capture_default_str()
      ->transform(whole_number(1, static_cast<long long>(kMaxExternalAgents)));
  cmd->add_option("--api-token", a.api_token, "Bearer token the API requires")
      ->envname("LOADPILOT_API_TOKEN");
  cmd->add_flag("--allow-open", a.allow_open,
                "Serve without a token on a non-loopback address (anyone who reaches it can aim "
                "the agents at any target)");
  cmd->add_option("--agents-timeout", a.agents_timeout, "How long a run waits for the agents")
      ->capture_default_str();
  cmd->add_option("--agent-lost-after", a.agent_lost_after,
                  "An agent silent this long is marked lost")
      ->capture_default_str();
  cmd->add_flag("--no-metrics", a.no_metrics, "Do not serve Prometheus metrics");
  cmd->add_option("--metrics-host", a.metrics_host,
                  "IPv4 address the /metrics endpoint listens on (0.0.0.0: every interface)")
      ->capture_default_str()
      ->transform(listen_host(/*ipv6=*/false));
  cmd->add_option("--metrics-port", a.metrics_port, "Port of the /metrics endpoint (0: any free)")
      ->capture_default_str()
      ->transform(whole_number(0, 65535));
}

void add_agent(CLI::App& app, AgentArgs& a, SimulateArgs& sim) {
  auto* cmd = app.add_subcommand(
      "agent", "Serve runs as a persistent agent over NATS (docs/distributed.md)");
  cmd->add_option("--nats-url", a.nats.url, "NATS server, e.g. nats://host:4222")
      ->envname("NATS_URL")
      ->capture_default_str();
  cmd->add_option("--nats-token", a.nats.token, "NATS authentication token")->envname("NATS_TOKEN");
  cmd->add_option("--nats-ca", a.nats.ca_file, "CA file for a NATS server with TLS")
      ->envname("NATS_CA");
  cmd->add_option("--agent-id", a.agent_id, "This agent's id (default: host-pid)")
      ->envname("AGENT_ID");
  // Measuring a coordinator with many agents on one machine
  // (docs/distributed.md#simulated-agents).
  cmd->add_option("--simulate", sim.agents,
                  "Run N simulated agents (ids AGENT-ID-0000..) that send frames, no HTTP")
      ->transform(whole_number(1, 10'000));
  cmd->add_option("--frame-bytes", sim.frame_bytes,
                  "With --simulate: each round frame's size, bytes (1,000 to 60,000)")
      ->capture_default_str()
      ->transform(whole_number(1'000, 60'000));
}

void add_demo(CLI::App& app, demo::DemoOptions& d) {
  auto* cmd = app.add_subcommand("demo-api", "Serve the bundled demo HTTP API");
  cmd->add_option("--host", d.host, "Address to bind (IPv4, IPv6 or a host name)")
      ->capture_default_str()
      ->transform(listen_host(/*ipv6=*/true));
  cmd->add_option("--port", d.port, "Port (0 picks a free one)")
      ->capture_default_str()
      ->transform(whole_number(0, 65535));
  cmd->add_option("--threads", d.threads, "Threads (default: one per core)")
      ->transform(whole_number(1, 1024));
  cmd->add_option("--latency-ms", d.latency_ms, "Added latency per response, ms")
      ->transform(real_number(0, 3'600'000, "ms"));
  cmd->add_option("--jitter-ms", d.jitter_ms, "Plus uniform random jitter up to this, ms")
      ->transform(real_number(0, 3'600'000, "ms"));
  cmd->add_option("--error-rate", d.error_rate, "Percent of API responses turned into 503")
      ->transform(real_number(0, 100, "percent"));
  cmd->add_option("--stall-every", d.stall_every_s, "Stall all responses every N seconds")
      ->transform(real_number(0, kDay, "seconds"));
  cmd->add_option("--stall-for", d.stall_for_s, "...for this many seconds")
      ->transform(real_number(0, kDay, "seconds"));
  cmd->add_option("--seed", d.seed, "Random seed")
      ->capture_default_str()
      ->transform(unsigned_number());
  cmd->add_flag("--tls", d.tls,
                "HTTPS and HTTP/2 (ALPN h2) with a self-signed certificate made at start");
  cmd->add_option("--capacity", d.capacity_rps,
                  "Serve at most N requests/s (fixed service time; past it requests queue)")
      ->transform(real_number(0.001, 10'000'000, "requests/s"));
  cmd->add_option("--capacity-workers", d.capacity_workers,
                  "Servers behind --capacity (default: about 20 ms of service time each)")
      ->transform(whole_number(1, 100'000));
}

// `loadpilot help [COMMAND]`
int help_command(CLI::App& app, const std::string& topic) {
  // app.help() would show the help of the command that ran: `help`.
  if (topic.empty()) {
    fmt::print("{}", app.get_formatter()->make_help(&app, "loadpilot", CLI::AppFormatMode::Normal));
    return kExitOk;
  }
  std::vector<std::string> names;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == topic) {
      fmt::print("{}", sub->help("loadpilot"));
      return kExitOk;
    }
    names.push_back(sub->get_name());
  }
  const std::string near = nearest(topic, names);
  fmt::print(stderr, "error: unknown command '{}'{}\n", topic,
             near.empty() ? "" : fmt::format("; did you mean '{}'?", near));
  return kExitInvalid;
}

// Every command's options, filled by the parse.
struct Commands {
  RunArgs run;
  FindArgs find;
  demo::DemoOptions demo;
  ReportArgs report;
  CompareArgs compare;
  AgentArgs agent;
  SimulateArgs simulate;
  ServeArgs serve;
  std::string init_dir = ".";
  std::string help_topic;
};

void add_commands(CLI::App& app, Commands& c) {
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", std::string("loadpilot ") + kVersion);
  add_run(app, c.run);
  add_find_command(app, c.find);
  add_demo(app, c.demo);
  add_report_command(app, c.report);
  add_compare_command(app, c.compare);
  add_agent(app, c.agent, c.simulate);
  add_coordinator(app, c.serve);
  app.add_subcommand("init", "Scaffold scenarios/ and monitoring/ (Prometheus + Grafana)")
      ->add_option("dir", c.init_dir, "Project directory (created if missing)")
      ->capture_default_str();
  app.add_subcommand("version", "Print version and build information");
  app.add_subcommand("help", "Show the commands, or one command's options (help run)")
      ->add_option("command", c.help_topic, "Command to show the options of");
  // Options and messages cite docs/<page>.md: say where that folder is.
  const std::string footer = fmt::format(
      "Documentation: {} (the docs/*.md pages that options and messages cite)", docs_dir());
  app.footer(footer);
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) sub->footer(footer);
}

int dispatch(CLI::App& app, const Commands& c) {
  if (app.got_subcommand("run")) return run_command(c.run);
  if (app.got_subcommand("find")) return find_command(c.find);
  if (app.got_subcommand("demo-api")) return demo::run_demo_api(c.demo);
  if (app.got_subcommand("agent"))
    return c.simulate.agents > 0 ? simulate_command(c.agent, c.simulate) : agent_command(c.agent);
  if (app.got_subcommand("coordinator")) return serve_command(c.serve);
  if (app.got_subcommand("report")) return report_command(c.report);
  if (app.got_subcommand("compare")) return compare_command(c.compare);
  if (app.got_subcommand("init")) return init_command(c.init_dir);
  if (app.got_subcommand("help")) return help_command(app, c.help_topic);
  if (app.got_subcommand("version")) {
    fmt::print("loadpilot {}\nbuild: {} ({})\n", kVersion, kBuildType, kCompiler);
    return kExitOk;
  }
  return internal_error("no command ran");
}

// The working folder's .env fills the environment before the options read
// it (docs/cli.md#environment-and-env); only commands that read variables
// load it, so a foreign .env cannot break `demo-api` or `init`.
bool load_env_file(const std::vector<std::string>& args) {
  const auto word = command_word(args);
  const std::string command = word == args.end() ? "" : *word;
  if (command != "run" && command != "find" && command != "agent" && command != "coordinator")
    return true;
  std::string error;
  if (load_dotenv(".env", nullptr, &error)) return true;
  fmt::print(stderr, "error: {}\n", error);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(on_terminate);
  CLI::App app{"LoadPilot: load testing with Python scenarios and a native engine", "loadpilot"};
  Commands commands;
  add_commands(app, commands);
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!load_env_file(args)) return kExitInvalid;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "error: {}\n", explain_parse_error(app, e, args));
    return kExitInvalid;
  }
  try {
    return dispatch(app, commands);
  } catch (const scenario::ScenarioError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  } catch (const plan::PlanError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  } catch (const monitor::ExporterError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  } catch (const std::exception& e) {
    return internal_error(e.what());
  } catch (...) {
    return internal_error("an exception of unknown type");
  }
}

}  // namespace loadpilot::cli
