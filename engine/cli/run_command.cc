#include "cli/run_command.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <optional>

#include "build_info.h"
#include "cli/agents_mode.h"
#include "cli/commands.h"
#include "cli/coordinator.h"
#include "cli/find_command.h"
#include "cli/report_commands.h"
#include "cli/run_setup.h"
#include "cli/serve_child.h"
#include "cli/signal_watcher.h"
#include "cli/terminal_output.h"
#include "load/engine.h"
#include "monitor/exporter.h"
#include "report/live.h"
#include "report/output_file.h"
#include "report/summary.h"
#include "report/wall_clock.h"

namespace loadpilot::cli {

namespace {

// How long the outputs may take after a signal that came once the run had
// ended (docs/cli.md#stopping-a-run).
constexpr std::chrono::seconds kEndOfRunGrace{10};

}  // namespace

// `run` in three parts: set-up (cli/run_setup.h: options, scenario, plan,
// output paths), the session (agents if any, the engine, the live view and
// the metrics endpoint) and the outputs (summary, results, report, exit
// code). An agent process (--agent I/N) stops after set-up and runs its
// share for its coordinator (cli/agents_mode.h).
int run_command(const RunArgs& args) {
  // A reader of stdout that goes away is an EPIPE for guard_stdout, not a
  // death that loses the output files.
  ignore_sigpipe();
  int code = kExitOk;
  std::unique_ptr<RunSetup> setup = prepare_run(args, &code);
  if (!setup) return code;
  // @scenario(mode="find"): a capacity search (docs/capacity.md).
  if (setup->plan.find_spec && args.agent.empty() && !args.serve_child)
    return run_find_scenario(args, std::move(setup));
  const plan::Plan& plan = setup->plan;
  load::EngineOptions eo = setup->engine;
  std::unique_ptr<scenario::VUserRuntime>& vusers = setup->vusers;
  std::optional<StartupInterrupt>& startup = setup->startup;
  std::unique_ptr<Coordinator> coordinator;
  try {
    coordinator = Coordinator::make(args, *setup);
  } catch (const CoordinatorError& e) {
    return fail(e.what());
  }
  if (coordinator) coordinator->configure(eo);
  std::optional<load::Engine> engine_storage;
  try {
    engine_storage.emplace(plan, *setup->target, eo, coordinator ? nullptr : vusers.get());
  } catch (const agents::AgentError& e) {
    return fail(e.what());
  }
  load::Engine& engine = *engine_storage;
  if (setup->agent) {
    startup.reset();  // the run's own signal handling takes over
    return run_as_agent(engine, vusers.get());
  }
  if (coordinator) {
    try {
      coordinator->wait_ready(engine, *startup);
    } catch (const CoordinatorError& e) {
      return fail(e.what());
    }
  }
  // The coordinator service's run process reports on fd 3 and starts when
  // the service says go (cli/serve_child.h).
  std::unique_ptr<ServeChild> serve_child;
  std::optional<std::chrono::steady_clock::time_point> serve_start;
  if (args.serve_child) {
    serve_child = ServeChild::open();
    if (!serve_child || !coordinator || !coordinator->external())
      return fail("--serve-child is internal to `loadpilot coordinator --serve`");
    serve_start = serve_child->hello_and_wait(engine.collector().task_names(),
                                              coordinator->start_lead(), coordinator->count());
    if (!serve_start) return fail("the coordinator service went away before the start");
  }

  const bool tty = isatty(STDOUT_FILENO);
  const bool ndjson = serve_child != nullptr || args.output == "ndjson";
  std::FILE* json_out = serve_child ? serve_child->out() : stdout;
  const bool color = color_on(args.no_color);
  report::LiveHeader header{plan.name,
                            plan.target,
                            plan.profile.label(),
                            engine.profile().total_s(),
                            engine.worker_count(),
                            engine.max_connections(),
                            coordinator ? coordinator->agents_shown() : 1,
                            coordinator && (coordinator->external() || coordinator->remote()),
                            static_cast<std::size_t>(plan.profile.users),
                            plan.profile.closed() ? plan.profile.wait.label() : std::string()};
  if (coordinator) header.workers = coordinator->workers();
  // Prometheus endpoint: bound before any traffic so a busy port fails fast.
  std::unique_ptr<monitor::Exporter> exporter;
  if (!args.no_metrics) {
    monitor::RunInfo info{
        plan.name,
        kVersion,
        {},
        engine.profile().phase_at(0),
        plan.profile.unlimited || plan.profile.closed() ? 0 : engine.profile().rate_at(0)};
    for (const auto& name : engine.collector().task_names()) info.tasks.push_back(name);
    info.model = std::string(plan.profile.model());
    try {
      exporter = std::make_unique<monitor::Exporter>(
          monitor::ExporterOptions{args.metrics_host, args.metrics_port}, info);
    } catch (const monitor::ExporterError& e) {
      // The default port taken by something else (another run, a local
      // Prometheus, a coordinator service on this machine) is no reason to
      // refuse a run that did not ask for it: any free port will do, and
      // the line below says which.
      if (!e.port_in_use() || args.metrics_port_given) return fail(e.what());
      try {
        exporter = std::make_unique<monitor::Exporter>(
            monitor::ExporterOptions{args.metrics_host, 0}, info);
        fmt::print(stderr,
                   "metrics: port {} is in use; serving on a free port instead "
                   "(--metrics-port PORT to choose one, --no-metrics for none)\n",
                   args.metrics_port);
      } catch (const monitor::ExporterError& again) {
        fmt::print(stderr, "warning: {}; running without the metrics endpoint\n", again.what());
      }
    }
    if (exporter)
      guard_stdout([&] {
        fmt::print(ndjson ? stderr : stdout, "metrics: {} (listening on {})\n", exporter->url(),
                   exporter->listen_address());
      });
  }
  startup.reset();  // from here on, a signal stops the run (SignalWatcher)
  std::unique_ptr<report::LiveView> view;
  if (ndjson)
    view = report::make_ndjson_stream(json_out, header);
  else if (tty && args.output == "auto")
    view = report::make_terminal_dashboard(stdout, header);
  else
    view = report::make_plain_progress(stdout, header);

  // The live view on stdout goes through guard_stdout: a stdout that fails
  // mid-run loses the view, not the run.
  const auto to_view = [&](const std::function<void()>& show) {
    if (json_out == stdout || !ndjson)
      guard_stdout(show);
    else
      show();
  };
  RunOutputs outputs(args, plan, engine);  // time series, report, baseline
  load::RunOutcome outcome;
  int signal_seen = 0;
  std::optional<EndOfRunSignals> end_signals_storage;
  {
    // The signals stay blocked after the run: end_signals takes over.
    SignalWatcher signals(engine, /*keep_blocked=*/true);
    if (coordinator) coordinator->attach(&engine);
    to_view([&] { view->start(); });
    if (coordinator) coordinator->set_start(engine);
    if (serve_start) engine.set_start_at(*serve_start);
    outcome = engine.run([&](const metrics::Snapshot& s) {
      to_view([&] { view->on_snapshot(s); });
      // The service gone (its client left and it was stopped, or it
      // died): stop rather than load the target unseen.
      if (serve_child && !serve_child->round(engine, s)) engine.stop();
      outputs.on_snapshot(s);
      if (exporter) exporter->update(s, engine.collector().last_round());
    });
    if (exporter) exporter->finish(outcome.interrupted);
    to_view([&] { view->finish(); });
    signal_seen = signals.signal();
    if (coordinator) coordinator->attach(nullptr);
  }
  EndOfRunSignals& end_signals = end_signals_storage.emplace(kEndOfRunGrace);

  // What stopped the Python runtime, here or in an agent (engine.run()
  // joined the agents).
  std::vector<std::string> run_errors;
  if (vusers && !vusers->fatal_error().empty()) run_errors.push_back(vusers->fatal_error());
  if (coordinator)
    for (std::string& problem : coordinator->problems()) run_errors.push_back(std::move(problem));
  for (const std::string& e : run_errors) fmt::print(stderr, "error: {}\n", e);
  // A VUser that blocked the Python thread (here or in an agent): the
  // scenario's code cannot run as written.
  bool blocked = vusers && vusers->python_blocked();
  if (coordinator) blocked = blocked || coordinator->python_blocked();
  if (serve_child) serve_child->end(run_errors, blocked);

  report::RunLimits limits{engine.max_connections(),
                           vusers ? static_cast<std::size_t>(vusers->max_vusers()) : 0};
  limits.python_blocked = blocked;
  report::Summary summary = report::build_summary(
      plan, engine.collector(), engine.profile().total_s(), engine.profile().total_iterations(),
      outcome.duration_s, outcome.interrupted, limits);
  if (signal_seen) summary.interrupt_signal = signal_seen == SIGINT ? "SIGINT" : "SIGTERM";
  for (const std::string& e : run_errors) summary.add_problem(e);
  if (args.strict && !summary.generator_bound.empty()) summary.add_problem(summary.generator_bound);
  summary.knee = outputs.knee_line();  // printed before the verdict
  nlohmann::json results = outputs.results(summary);
  if (coordinator) coordinator->add_results(results);

  // Files first, the terminal last (docs/output.md#output-files): neither a
  // signal now (held by end_signals) nor a stdout that fails can cost them.
  int exit_code = summary.passed ? kExitOk : kExitThresholds;
  std::vector<std::string> written;
  if (!args.results_json.empty()) {
    std::string error;
    if (report::write_file_atomically(args.results_json, results.dump(2) + "\n", &error)) {
      written.push_back(fmt::format("results written to {}", args.results_json));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      if (exit_code == kExitOk) exit_code = kExitInvalid;
    }
  }
  if (outputs.write_files(results, &written) != kExitOk && exit_code == kExitOk)
    exit_code = kExitInvalid;
  if (outputs.write_ci_files(summary, &written) != kExitOk && exit_code == kExitOk)
    exit_code = kExitInvalid;

  // With ndjson, stdout carries only JSON: the human summary goes to stderr.
  std::FILE* human = ndjson ? stderr : stdout;
  guard_stdout([&] {
    report::print_summary(human, summary, color && !ndjson);
    if (coordinator) coordinator->print_after_summary(human);
    std::fflush(human);
  });
  if (ndjson) {
    nlohmann::json j = summary.to_json();
    j["type"] = "summary";
    j["ts"] = report::rfc3339_now_ms();
    const auto print_json = [&] {
      fmt::print(json_out, "{}\n", j.dump());
      std::fflush(json_out);
    };
    if (json_out == stdout)
      guard_stdout(print_json);
    else
      print_json();
  }
  guard_stdout([&] {
    if (!written.empty()) fmt::print(human, "\n");
    for (const std::string& line : written) fmt::print(human, "{}\n", line);
  });
  int late_signal = end_signals.stop();
  // Keep the final values up for one more scrape, when a scraper was seen
  // during the run or --metrics-linger asked for it; an interrupted run
  // (the user asked to stop) does not wait.
  if (exporter && !signal_seen && !late_signal && setup->linger_s > 0 &&
      (args.metrics_linger_given || exporter->scraped())) {
    fmt::print(stderr, "metrics: serving final values at {} for {}s (Ctrl-C ends it sooner)\n",
               exporter->url(), setup->linger_s);
    if ((late_signal = exporter->linger(setup->linger_s)) != 0)
      fmt::print(stderr, "{}",
                 EndOfRunSignals::note(late_signal, "stopped serving the final metrics"));
  }
  // One that came after the linger, or between its end and now: taken,
  // so that it ends nothing; the verdict stands.
  if (!late_signal) take_pending_stop_signal();
  if (blocked) return scenario::kBlockedExitCode;
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return exit_code;
}

}  // namespace loadpilot::cli
