#include "cli/run_command.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "agents/agent_process.h"
#include "build_info.h"
#include "cli/agents_mode.h"
#include "cli/commands.h"
#include "cli/picker.h"
#include "cli/report_commands.h"
#include "cli/signal_watcher.h"
#include "http/target.h"
#include "load/engine.h"
#include "monitor/exporter.h"
#include "plan/duration.h"
#include "report/live.h"
#include "report/summary.h"
#include "scenario/loader.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return kExitInvalid;
}

// Picks the scenario: by --scenario, the only one, or by asking.
std::optional<std::size_t> choose_scenario(const RunArgs& args,
                                           const std::vector<scenario::ScenarioInfo>& all,
                                           int* exit_code) {
  std::vector<std::string> names;
  for (const auto& s : all) names.push_back(s.name);
  std::string listing;
  for (const auto& s : all)
    listing += fmt::format("\n  {}{}", s.name, s.doc.empty() ? "" : "  — " + s.doc);
  if (!args.scenario.empty()) {
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i].name == args.scenario) return i;
    *exit_code = fail(fmt::format("{}: no scenario named \"{}\"; available:{}", args.file,
                                  args.scenario, listing));
    return std::nullopt;
  }
  if (all.size() == 1) return 0;
  if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
    auto picked = pick_on_terminal(
        fmt::format("{} has {} scenarios; run which?", args.file, all.size()), names);
    if (picked) return picked;
    *exit_code = fail("no scenario chosen");
    return std::nullopt;
  }
  *exit_code = fail(fmt::format("{} has {} scenarios; pick one with --scenario NAME:{}", args.file,
                                all.size(), listing));
  return std::nullopt;
}

bool write_file(const std::string& path, const std::string& content, std::string* error) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    *error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  f << content;
  f.close();
  if (!f) {
    *error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

int run_command(const RunArgs& args) {
  if (args.output != "auto" && args.output != "text" && args.output != "ndjson")
    return fail(fmt::format("--output: must be text or ndjson (got \"{}\")", args.output));
  const auto timeout_s = plan::parse_duration(args.timeout);
  if (!timeout_s || *timeout_s <= 0)
    return fail(fmt::format("--timeout: not a positive duration (got \"{}\")", args.timeout));
  const auto linger_s = plan::parse_duration(args.metrics_linger);
  if (!linger_s || *linger_s < 0)
    return fail(fmt::format("--metrics-linger: not a duration (got \"{}\")", args.metrics_linger));

  if (args.processes < 1 || args.processes > kMaxProcesses)
    return fail(
        fmt::format("--processes: must be from 1 to {} (got {})", kMaxProcesses, args.processes));
  std::optional<AgentShare> agent;
  if (!args.agent.empty()) {
    // An agent's stop (SIGINT from its coordinator) may come as soon as it
    // has said hello: hold it until the signal watcher is up, rather than
    // let the interpreter's own handler swallow it.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    agent = parse_agent(args.agent);
    if (!agent) return fail(fmt::format("--agent: expected I/N (got \"{}\")", args.agent));
  }

  std::vector<scenario::ScenarioInfo> scenarios;
  try {
    scenarios = scenario::load_scenarios(args.file);
  } catch (const scenario::ScenarioError& e) {
    return fail(e.what());
  }
  int code = kExitOk;
  const auto index = choose_scenario(args, scenarios, &code);
  if (!index) return code;

  scenario::Overrides ov;
  ov.target = args.target;
  ov.rps = args.rps;
  ov.duration = args.duration;
  ov.ramp_up = args.ramp_up;
  ov.mode = args.mode;
  ov.steps = args.steps;
  ov.max_vusers = args.max_vusers;
  for (const std::string& kv : args.thresholds) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(fmt::format("--threshold: expected KEY=VALUE (got \"{}\")", kv));
    ov.thresholds[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::string> errors;
  plan::Plan plan = scenario::build_plan(scenarios[*index], args.file, ov, &errors);
  if (!errors.empty()) {
    fmt::print(stderr, "error: {}: scenario {} is not valid:\n", args.file, scenarios[*index].name);
    for (const std::string& e : errors) fmt::print(stderr, "  - {}\n", e);
    return kExitInvalid;
  }
  if (args.dry_run) {
    nlohmann::json j = plan.to_json();
    j["engine"] = {
        {"max_connections",
         args.max_connections ? args.max_connections : load::default_max_connections(plan)},
        {"max_queue", load::default_max_queue(plan)},
        {"total_s", plan.profile.total_s()},
        {"planned_iterations", load::Profile::from_spec(plan.profile).total_iterations()}};
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  std::string target_error;
  const auto target = http::Target::parse(plan.target, &target_error);
  if (!target) return fail(target_error);

  load::EngineOptions eo;
  eo.workers = args.workers;
  eo.max_connections = args.max_connections;
  eo.timeout = std::chrono::milliseconds(static_cast<long>(*timeout_s * 1000));
  eo.insecure = args.insecure;
  eo.seed = args.seed;
  if (agent) {
    eo.agent_index = agent->index;
    eo.agent_count = agent->count;
  }
  // Tasks that run as Python need the VUser runtime; it outlives the engine.
  // A coordinator of agent processes runs none itself: it only needs the
  // runtime's metric rows.
  std::unique_ptr<scenario::VUserRuntime> vusers;
  if (scenario::needs_vuser_runtime(plan)) {
    try {
      vusers = std::make_unique<scenario::VUserRuntime>(plan, *target);
    } catch (const scenario::ScenarioError& e) {
      return fail(e.what());
    }
  }
  const bool coordinator = args.processes > 1 && !agent;
  std::vector<agents::AgentProcess*> agent_processes;
  // The agents' workers together: each gets its share, and at least one.
  std::size_t agent_workers = 0;
  if (coordinator) {
    // The coordinator runs no Python from here on, but the interpreter's
    // SIGINT handler is installed: a signal while the agents start (seconds)
    // would set its flag and be lost. Hold SIGINT/SIGTERM until the signal
    // watcher takes them, which stops the run as soon as it begins.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stops, nullptr);
    const std::size_t n = args.processes;
    const std::size_t connections =
        args.max_connections ? args.max_connections : load::default_max_connections(plan);
    const std::size_t workers =
        args.workers ? args.workers : std::max(1u, std::thread::hardware_concurrency());
    agent_workers = std::max(workers, n);
    if (connections < n)
      return fail(
          fmt::format("--processes {} needs at least {} connections (got {})", n, n, connections));
    if (vusers && static_cast<std::size_t>(vusers->max_vusers()) < n)
      return fail(fmt::format("--processes {} needs max_vusers of at least {} (got {})", n, n,
                              vusers->max_vusers()));
    eo.agents = n;
    if (vusers) eo.extra_labels = vusers->extra_labels();
    // An agent stops by itself: its own drain, then on_stop within as long.
    eo.drain = 2 * eo.drain + std::chrono::seconds(2);
    eo.make_agent = [&, n, connections, workers](std::size_t i, std::function<void()> on_drained) {
      auto p = std::make_unique<agents::AgentProcess>(
          i, agent_argv(args, plan, i, n, connections, workers), std::move(on_drained));
      agent_processes.push_back(p.get());
      return std::unique_ptr<load::Source>(std::move(p));
    };
  }
  std::optional<load::Engine> engine_storage;
  try {
    engine_storage.emplace(plan, *target, eo, coordinator ? nullptr : vusers.get());
  } catch (const agents::AgentError& e) {
    return fail(e.what());
  }
  load::Engine& engine = *engine_storage;
  if (agent) return run_as_agent(engine, vusers.get());
  for (agents::AgentProcess* p : agent_processes) {
    try {
      if (p->wait_ready(std::chrono::seconds(60)) != engine.collector().task_names())
        return fail("an agent process reports other metric rows than its coordinator");
    } catch (const agents::AgentError& e) {
      return fail(e.what());
    }
  }

  const bool tty = isatty(STDOUT_FILENO);
  const bool ndjson = args.output == "ndjson";
  const bool color = color_on(args.no_color);
  report::LiveHeader header{plan.name,
                            plan.target,
                            plan.profile.label(),
                            engine.profile().total_s(),
                            engine.worker_count(),
                            engine.max_connections(),
                            coordinator ? args.processes : 1};
  if (coordinator) header.workers = agent_workers;
  // Prometheus endpoint: bound before any traffic so a busy port fails fast.
  std::unique_ptr<monitor::Exporter> exporter;
  if (!args.no_metrics) {
    monitor::RunInfo info{plan.name,
                          kVersion,
                          {},
                          engine.profile().phase_at(0),
                          plan.profile.unlimited ? 0 : engine.profile().rate_at(0)};
    for (const auto& name : engine.collector().task_names()) info.tasks.push_back(name);
    try {
      exporter = std::make_unique<monitor::Exporter>(
          monitor::ExporterOptions{args.metrics_host, args.metrics_port}, info);
    } catch (const monitor::ExporterError& e) {
      return fail(e.what());
    }
    fmt::print(ndjson ? stderr : stdout, "metrics: {} (listening on {})\n", exporter->url(),
               exporter->listen_address());
  }
  std::unique_ptr<report::LiveView> view;
  if (ndjson)
    view = report::make_ndjson_stream(stdout, header);
  else if (tty && args.output == "auto")
    view = report::make_terminal_dashboard(stdout, header);
  else
    view = report::make_plain_progress(stdout, header);

  RunOutputs outputs(args, plan, engine);  // time series, report, baseline
  load::RunOutcome outcome;
  int signal_seen = 0;
  {
    SignalWatcher signals(engine);
    view->start();
    outcome = engine.run([&](const metrics::Snapshot& s) {
      view->on_snapshot(s);
      outputs.on_snapshot(s);
      if (exporter) exporter->update(s, engine.collector().last_round());
    });
    if (exporter) exporter->finish(outcome.interrupted);
    view->finish();
    signal_seen = signals.signal();
  }

  // What stopped the Python runtime, here or in an agent (engine.run()
  // joined the agents).
  std::vector<std::string> run_errors;
  if (vusers && !vusers->fatal_error().empty()) run_errors.push_back(vusers->fatal_error());
  for (agents::AgentProcess* p : agent_processes) {
    if (std::string problem = p->problem(); !problem.empty()) run_errors.push_back(problem);
  }
  for (const std::string& e : run_errors) fmt::print(stderr, "error: {}\n", e);

  report::Summary summary = report::build_summary(
      plan, engine.collector(), engine.profile().total_s(), engine.profile().total_iterations(),
      outcome.duration_s, outcome.interrupted);
  if (signal_seen) summary.interrupt_signal = signal_seen == SIGINT ? "SIGINT" : "SIGTERM";
  // With ndjson, stdout carries only JSON: the human summary goes to stderr.
  report::print_summary(ndjson ? stderr : stdout, summary, color && !ndjson);
  const nlohmann::json results = outputs.results(summary);
  outputs.print_knee(ndjson ? stderr : stdout, color && !ndjson);
  if (ndjson) {
    nlohmann::json j = summary.to_json();
    j["type"] = "summary";
    fmt::print("{}\n", j.dump());
  }
  int exit_code = summary.passed && run_errors.empty() ? kExitOk : kExitThresholds;
  if (!args.results_json.empty()) {
    std::string error;
    if (write_file(args.results_json, results.dump(2) + "\n", &error)) {
      fmt::print(ndjson ? stderr : stdout, "\nresults written to {}\n", args.results_json);
    } else {
      fmt::print(stderr, "error: {}\n", error);
      if (exit_code == kExitOk) exit_code = kExitInvalid;
    }
  }
  if (outputs.write_files(results, ndjson ? stderr : stdout) != kExitOk && exit_code == kExitOk)
    exit_code = kExitInvalid;
  std::fflush(stdout);
  // Keep the final values up for one more scrape; an interrupted run (the
  // user asked to stop) does not wait.
  if (exporter && !signal_seen && *linger_s > 0) {
    fmt::print(stderr, "metrics: serving final values at {} for {}s (Ctrl-C ends it sooner)\n",
               exporter->url(), *linger_s);
    exporter->linger(*linger_s);
  }
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return exit_code;
}

}  // namespace loadpilot::cli
