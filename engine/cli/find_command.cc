#include "cli/find_command.h"

#include <CLI/CLI.hpp>

#include "cli/arguments.h"
#include "cli/report_commands.h"

namespace loadpilot::cli {

void add_find_command(CLI::App& app, FindArgs& f) {
  RunArgs& a = f.run;
  a.report = kDefaultCapacityReportPath;
  auto* cmd = app.add_subcommand(
      "find", "Search the highest arrival rate that meets every threshold (docs/capacity.md)");
  cmd->add_option("file", a.file, "Python scenario file")->required();
  cmd->add_option("-t,--target", a.target, "Base URL, e.g. http://127.0.0.1:8000")
      ->envname("LOADPILOT_TARGET")
      ->required();
  cmd->add_option("-s,--scenario", a.scenarios, "Scenario class when the file has several")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  cmd->add_option("--threshold", a.thresholds, "SLA limit KEY=VALUE (repeat; overrides the file's)")
      ->allow_extra_args(false);
  cmd->add_option("--rps-min", f.rps_min,
                  "First step's rate; failing it means no capacity (default: the scenario's rps)")
      ->transform(real_number(0.001, plan::kMaxRps, "iterations/s"));
  cmd->add_option("--rps-max", f.rps_max, "Highest rate to try (default: 100 x --rps-min)")
      ->transform(real_number(0.001, plan::kMaxRps, "iterations/s"));
  cmd->add_option("--precision", f.precision, "Stop when the bracket is this narrow (5% or 0.05)")
      ->capture_default_str();
  cmd->add_option("--budget", f.budget, "Time the whole search may take (30s, 10m)")
      ->capture_default_str();
  cmd->add_option("--step", f.hold, "Each step's judged hold")->capture_default_str();
  cmd->add_option("--warmup", f.warmup, "Each step's warm-up before its hold (not judged)")
      ->capture_default_str();
  cmd->add_flag("--no-confirm", f.no_confirm, "Do not repeat the answer's step to confirm it");
  cmd->add_option("--workers", a.workers, "Worker threads (default: one per core)")
      ->transform(whole_number(1, static_cast<long long>(kMaxWorkers)));
  cmd->add_option("--max-connections", a.max_connections,
                  "Connection limit (default: from --rps-max, see docs/engine.md)")
      ->transform(whole_number(1, static_cast<long long>(kMaxConnections)));
  cmd->add_option("--agents,--processes", a.processes,
                  "Run each step in N local agent processes; default 1")
      ->capture_default_str()
      ->transform(whole_number(1, static_cast<long long>(kMaxProcesses)));
  add_remote_agent_options(*cmd, a);
  cmd->add_option("--max-vusers", a.max_vusers, "Upper bound on VUsers (default 1000)")
      ->transform(whole_number(1, plan::kMaxVUsers));
  cmd->add_option("--timeout", a.timeout, "Connect and request timeout")->capture_default_str();
  cmd->add_option("--drain", a.drain, "After each step, how long in-flight iterations may finish")
      ->capture_default_str();
  cmd->add_flag("--insecure", a.insecure, "Do not verify TLS certificates");
  cmd->add_option("--results-json", a.results_json, "Write the search's results to this file");
  cmd->add_option("-r,--report", a.report, "Write the HTML report here")->capture_default_str();
  cmd->add_flag("--no-report", a.no_report, "Do not write the HTML report");
  cmd->add_option("--junit", a.junit, "Write a JUnit XML file here");
  cmd->add_flag("--no-color", a.no_color, "Plain text without colours");
  cmd->add_option("--seed", a.seed, "Seed for task choice and random test data orders")
      ->capture_default_str()
      ->transform(unsigned_number());
}

}  // namespace loadpilot::cli
