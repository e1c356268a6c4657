#include "cli/commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "build_info.h"
#include "cli/init_command.h"
#include "cli/report_commands.h"
#include "cli/run_command.h"
#include "demo/demo_api.h"

namespace loadpilot::cli {

namespace {

void add_run(CLI::App& app, RunArgs& a) {
  auto* run = app.add_subcommand("run", "Run a scenario file against a target");
  run->add_option("file", a.file, "Python scenario file")->required();
  run->add_option("-t,--target", a.target, "Base URL, e.g. http://127.0.0.1:8000")->required();
  run->add_option("-s,--scenario", a.scenario, "Scenario class to run when the file has several");
  run->add_option("--rps", a.rps, "Override the arrival rate (iterations/s; 'max' = unlimited)");
  run->add_option("--duration", a.duration, "Override duration (30s, 2m, 1m30s, 1h)");
  run->add_option("--ramp-up", a.ramp_up, "Override ramp-up time");
  run->add_option("--mode", a.mode, "Override mode: ramp, constant, step, spike");
  run->add_option("--steps", a.steps, "Override the number of steps (step mode)");
  run->add_option("--max-vusers", a.max_vusers, "Upper bound on VUsers (default 1000)");
  run->add_option("--threshold", a.thresholds, "SLA limit KEY=VALUE (repeatable; overrides)");
  run->add_option("--workers", a.workers, "Worker threads (default: one per core)");
  run->add_option("--max-connections", a.max_connections,
                  "Connection limit (default: from the rate, see docs/engine.md)");
  run->add_option("--timeout", a.timeout, "Connect and request timeout")->capture_default_str();
  run->add_option("--drain", a.drain,
                  "After the profile (or Ctrl-C), how long in-flight iterations may finish")
      ->capture_default_str();
  run->add_flag("--insecure", a.insecure, "Do not verify TLS certificates");
  run->add_flag("--dry-run", a.dry_run, "Validate and print the plan JSON, send nothing");
  run->add_option("--output", a.output, "Live output: auto (dashboard on a terminal), text, ndjson")
      ->capture_default_str();
  run->add_option("--results-json", a.results_json, "Write the final results to this file");
  run->add_flag("--no-color", a.no_color, "Plain text without colours");
  run->add_option("--seed", a.seed, "Seed for task choice")->capture_default_str();
  run->add_option("--processes", a.processes,
                  "Run in N agent processes (one Python thread each); default 1")
      ->capture_default_str();
  run->add_option("--agent", a.agent)->group("");  // internal: share I/N of a --processes run
  add_report_options(*run, a);
  run->add_flag("--no-metrics", a.no_metrics, "Do not serve Prometheus metrics")
      ->envname("LOADPILOT_NO_METRICS");
  run->add_option("--metrics-host", a.metrics_host, "Address the /metrics endpoint listens on")
      ->capture_default_str();
  run->add_option("--metrics-port", a.metrics_port, "Port of the /metrics endpoint (0: any free)")
      ->capture_default_str();
  run->add_option("--metrics-linger", a.metrics_linger,
                  "Keep serving the final metrics this long after the run")
      ->capture_default_str();
}

void add_demo(CLI::App& app, demo::DemoOptions& d) {
  auto* cmd = app.add_subcommand("demo-api", "Serve the bundled demo HTTP API");
  cmd->add_option("--host", d.host, "Address to bind")->capture_default_str();
  cmd->add_option("--port", d.port, "Port (0 picks a free one)")->capture_default_str();
  cmd->add_option("--threads", d.threads, "Threads (0: one per core)")->capture_default_str();
  cmd->add_option("--latency-ms", d.latency_ms, "Added latency per response, ms");
  cmd->add_option("--jitter-ms", d.jitter_ms, "Plus uniform random jitter up to this, ms");
  cmd->add_option("--error-rate", d.error_rate, "Percent of API responses turned into 503");
  cmd->add_option("--stall-every", d.stall_every_s, "Stall all responses every N seconds");
  cmd->add_option("--stall-for", d.stall_for_s, "...for this many seconds");
  cmd->add_option("--seed", d.seed, "Random seed")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LoadPilot: load testing with Python scenarios and a native engine", "loadpilot"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("loadpilot ") + kVersion);
  RunArgs run_args;
  demo::DemoOptions demo_options;
  add_run(app, run_args);
  add_demo(app, demo_options);
  ReportArgs report_args;
  CompareArgs compare_args;
  add_report_command(app, report_args);
  add_compare_command(app, compare_args);
  std::string init_dir = ".";
  app.add_subcommand("init", "Scaffold scenarios/ and monitoring/ (Prometheus + Grafana)")
      ->add_option("dir", init_dir, "Project directory (created if missing)")
      ->capture_default_str();
  app.add_subcommand("version", "Print version and build information");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitInvalid;
  }
  try {
    if (app.got_subcommand("run")) return run_command(run_args);
    if (app.got_subcommand("demo-api")) return demo::run_demo_api(demo_options);
    if (app.got_subcommand("report")) return report_command(report_args);
    if (app.got_subcommand("compare")) return compare_command(compare_args);
    if (app.got_subcommand("init")) return init_command(init_dir);
    if (app.got_subcommand("version")) {
      fmt::print("loadpilot {}\nbuild: {} ({})\n", kVersion, kBuildType, kCompiler);
      return kExitOk;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  return kExitInvalid;
}

}  // namespace loadpilot::cli
