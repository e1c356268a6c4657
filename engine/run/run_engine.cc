#include "run/run_engine.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "build_info.h"
#include "metrics/threshold_evaluator.h"
#include "monitor/exporter.h"
#include "report/live.h"
#include "report/output_file.h"
#include "report/scenario_summary.h"
#include "report/summary.h"
#include "report/wall_clock.h"
#include "run/exit_codes.h"
#include "run/run_outputs.h"
#include "run/signal_watcher.h"
#include "run/terminal_output.h"

namespace loadpilot::cli {

namespace {

// How long the outputs may take after a signal that came once the run had
// ended (docs/cli.md#stopping-a-run).
constexpr std::chrono::seconds kEndOfRunGrace{10};

// What is in flight when a threshold ends the run gets at most this long
// (or --drain, when shorter): the run was stopped because the target is
// slow, and waiting on its slowest answers is what the abort saves
// (docs/scenarios.md#ending-a-run-when-a-threshold-breaks).
constexpr std::chrono::milliseconds kAbortDrain{500};

report::LiveHeader make_header(const plan::Plan& plan, const load::Engine& engine,
                               const Session* session) {
  report::LiveHeader header{plan.name,
                            plan.target,
                            plan.profile.label(),
                            engine.profile().total_s(),
                            engine.worker_count(),
                            engine.max_connections(),
                            1,
                            false,
                            static_cast<std::size_t>(plan.profile.users),
                            plan.profile.closed() ? plan.profile.wait.label() : std::string(),
                            std::string()};
  if (session) session->describe(header);
  return header;
}

std::unique_ptr<monitor::Exporter> make_exporter(const RunArgs& args,
                                                 const monitor::RunInfo& info) {
  try {
    return std::make_unique<monitor::Exporter>(
        monitor::ExporterOptions{args.metrics_host, args.metrics_port}, info);
  } catch (const monitor::ExporterError& e) {
    // The default port taken by something else (another run, a local
    // Prometheus, a coordinator service on this machine) is no reason to
    // refuse a run that did not ask for it: any free port will do, and
    // the line below says which.
    if (!e.port_in_use() || args.metrics_port_given) throw;
  }
  try {
    auto exporter =
        std::make_unique<monitor::Exporter>(monitor::ExporterOptions{args.metrics_host, 0}, info);
    fmt::print(stderr,
               "metrics: port {} is in use; serving on a free port instead "
               "(--metrics-port PORT to choose one, --no-metrics for none)\n",
               args.metrics_port);
    return exporter;
  } catch (const monitor::ExporterError& again) {
    fmt::print(stderr, "warning: {}; running without the metrics endpoint\n", again.what());
    return nullptr;
  }
}

// The Prometheus endpoint, bound before any traffic so a busy port fails
// fast (throws monitor::ExporterError), or null with --no-metrics.
std::unique_ptr<monitor::Exporter> start_exporter(const RunArgs& args, const plan::Plan& plan,
                                                  const load::Engine& engine, bool ndjson) {
  if (args.no_metrics) return nullptr;
  monitor::RunInfo info{
      plan.name,
      kVersion,
      {},
      engine.profile().phase_at(0),
      plan.profile.unlimited || plan.profile.closed() ? 0 : engine.profile().rate_at(0)};
  for (const auto& name : engine.collector().task_names()) info.tasks.push_back(name);
  info.task_scenarios = engine.row_scenarios();
  info.model = std::string(plan.profile.model());
  std::unique_ptr<monitor::Exporter> exporter = make_exporter(args, info);
  if (exporter)
    guard_stdout([&] {
      fmt::print(ndjson ? stderr : stdout, "metrics: {} (listening on {})\n", exporter->url(),
                 exporter->listen_address());
    });
  return exporter;
}

std::unique_ptr<report::LiveView> make_view(const RunArgs& args, const RunRoles& roles,
                                            const report::LiveHeader& header) {
  if (roles.ndjson) return report::make_ndjson_stream(roles.json_out, header);
  if (isatty(STDOUT_FILENO) && args.output == "auto")
    return report::make_terminal_dashboard(stdout, header);
  return report::make_plain_progress(stdout, header);
}

// What the run loop leaves for the end.
struct Ran {
  load::RunOutcome outcome;
  int signal_seen = 0;
};

Ran run_loop(load::Engine& engine, const RunRoles& roles, report::LiveView& view,
             RunOutputs& outputs, monitor::Exporter* exporter, report::RunGates& thresholds) {
  // The live view on stdout goes through guard_stdout: a stdout that fails
  // mid-run loses the view, not the run.
  const auto to_view = [&](const std::function<void()>& show) {
    if (roles.json_out == stdout || !roles.ndjson)
      guard_stdout(show);
    else
      show();
  };
  Ran ran;
  // The signals stay blocked after the run: EndOfRunSignals takes over.
  SignalWatcher signals(engine, /*keep_blocked=*/true);
  if (roles.session) roles.session->attach(&engine);
  to_view([&] { view.start(); });
  if (roles.session) roles.session->set_start(engine);
  if (roles.start_at) engine.set_start_at(*roles.start_at);
  ran.outcome = engine.run([&](const metrics::Snapshot& s) {
    to_view([&] { view.on_snapshot(s); });
    // Whoever the sink reports to gone (the service's client left and it
    // was stopped, or it died): stop rather than load the target unseen.
    if (roles.sink && !roles.sink->on_snapshot(engine, s)) engine.stop();
    outputs.on_snapshot(s);
    if (exporter) exporter->update(s, engine.collector().last_round());
    // Thresholds judged live on this process's numbers: a coordinator's
    // are its agents' merged (docs/distributed.md).
    if (thresholds.add_round(engine, s.elapsed_s)) engine.stop(kAbortDrain);
  });
  if (exporter) exporter->finish(ran.outcome.interrupted);
  to_view([&] { view.finish(); });
  ran.signal_seen = signals.signal();
  if (roles.session) roles.session->attach(nullptr);
  return ran;
}

// Writes the results file and the outputs, adding their lines to
// `written`; returns the exit code as it stands after them.
int write_files(const RunArgs& args, RunOutputs& outputs, const report::Summary& summary,
                const nlohmann::json& results, std::vector<std::string>* written) {
  int exit_code = summary.passed ? kExitOk : kExitThresholds;
  if (!args.results_json.empty()) {
    std::string error;
    if (report::write_file_atomically(args.results_json, results.dump(2) + "\n", &error)) {
      written->push_back(fmt::format("results written to {}", args.results_json));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      if (exit_code == kExitOk) exit_code = kExitInvalid;
    }
  }
  if (outputs.write_files(results, written) != kExitOk && exit_code == kExitOk)
    exit_code = kExitInvalid;
  if (outputs.write_ci_files(summary, written) != kExitOk && exit_code == kExitOk)
    exit_code = kExitInvalid;
  return exit_code;
}

// The terminal, last: the summary (on stderr with ndjson, whose stdout is
// JSON only), the ndjson summary line, then the files written.
void print_end(const RunArgs& args, const RunRoles& roles, const report::Summary& summary,
               const std::vector<std::string>& written) {
  std::FILE* human = roles.ndjson ? stderr : stdout;
  guard_stdout([&] {
    report::print_summary(human, summary, color_on(args.no_color) && !roles.ndjson);
    if (roles.session) roles.session->print_after_summary(human);
    std::fflush(human);
  });
  if (roles.ndjson) {
    nlohmann::json j = summary.to_json();
    j["type"] = "summary";
    j["ts"] = report::rfc3339_now_ms();
    const auto print_json = [&] {
      fmt::print(roles.json_out, "{}\n", j.dump());
      std::fflush(roles.json_out);
    };
    if (roles.json_out == stdout)
      guard_stdout(print_json);
    else
      print_json();
  }
  guard_stdout([&] {
    if (!written.empty()) fmt::print(human, "\n");
    for (const std::string& line : written) fmt::print(human, "{}\n", line);
  });
}

// Keeps the final values up for one more scrape, when a scraper was seen
// during the run or --metrics-linger asked for it; an interrupted run (the
// user asked to stop) does not wait. Returns a signal that came meanwhile.
int linger(const RunArgs& args, const RunSetup& setup, monitor::Exporter* exporter, int signal_seen,
           int late_signal) {
  if (!exporter || signal_seen || late_signal || setup.linger_s <= 0 ||
      !(args.metrics_linger_given || exporter->scraped()))
    return late_signal;
  fmt::print(stderr, "metrics: serving final values at {} for {}s (Ctrl-C ends it sooner)\n",
             exporter->url(), setup.linger_s);
  if ((late_signal = exporter->linger(setup.linger_s)) != 0)
    fmt::print(stderr, "{}",
               EndOfRunSignals::note(late_signal, "stopped serving the final metrics"));
  return late_signal;
}

// What stopped the Python runtime, here or in an agent (engine.run()
// joined the agents).
std::vector<std::string> run_errors(const RunSetup& setup, const Session* session) {
  std::vector<std::string> errors;
  for (const scenario::VUserRuntime* rt : setup.runtimes())
    if (!rt->fatal_error().empty()) errors.push_back(rt->fatal_error());
  if (session)
    for (std::string& problem : session->problems()) errors.push_back(std::move(problem));
  for (const std::string& e : errors) fmt::print(stderr, "error: {}\n", e);
  return errors;
}

}  // namespace

int run_engine(const RunArgs& args, RunSetup& setup, load::Engine& engine, const RunRoles& roles) {
  const plan::Plan& plan = setup.plan;
  std::unique_ptr<monitor::Exporter> exporter;
  try {
    exporter = start_exporter(args, plan, engine, roles.ndjson);
  } catch (const monitor::ExporterError& e) {
    return fail(e.what());
  }
  setup.startup.reset();  // from here on, a signal stops the run (SignalWatcher)
  std::unique_ptr<report::LiveView> view =
      make_view(args, roles, make_header(plan, engine, roles.session));
  RunOutputs outputs(args, plan, engine);  // time series, report, baseline
  report::RunGates thresholds(plan, engine);
  const Ran ran = run_loop(engine, roles, *view, outputs, exporter.get(), thresholds);
  EndOfRunSignals end_signals(kEndOfRunGrace);

  const std::vector<std::string> errors = run_errors(setup, roles.session);
  // A VUser that blocked the Python thread (here or in an agent): the
  // scenario's code cannot run as written.
  bool blocked = roles.session && roles.session->python_blocked();
  for (const scenario::VUserRuntime* rt : setup.runtimes())
    blocked = blocked || rt->python_blocked();
  if (roles.sink) roles.sink->end(errors, blocked);

  report::RunLimits limits;
  limits.max_connections = engine.max_connections();
  limits.max_vusers = setup.vusers ? static_cast<std::size_t>(setup.vusers->max_vusers()) : 0;
  limits.python_blocked = blocked;
  if (setup.vusers) limits.held_at = setup.vusers->held_at();
  // A run of several: each scenario's own pool and held line; the run's
  // are their sum and the first.
  const report::RunLimits run_limits = limits;
  for (const auto& rt : setup.scenario_vusers) {
    report::RunLimits& part = limits.scenarios.emplace_back(run_limits);
    part.max_vusers = rt ? static_cast<std::size_t>(rt->max_vusers()) : 0;
    part.held_at = rt ? rt->held_at() : "";
    limits.max_vusers += part.max_vusers;
    if (limits.held_at.empty()) limits.held_at = part.held_at;
  }
  report::Summary summary =
      engine.lane_count() > 0
          ? report::build_run_summary(plan, engine, ran.outcome.duration_s, ran.outcome.interrupted,
                                      limits, thresholds)
          : report::build_summary(plan, engine.collector(), engine.profile().total_s(),
                                  engine.profile().total_iterations(), ran.outcome.duration_s,
                                  ran.outcome.interrupted, limits, &thresholds.run);
  if (ran.signal_seen) summary.interrupt_signal = ran.signal_seen == SIGINT ? "SIGINT" : "SIGTERM";
  for (const std::string& e : errors) summary.add_problem(e);
  if (args.strict && !summary.generator_bound.empty()) summary.add_problem(summary.generator_bound);
  if (roles.session) {
    for (std::string& w : roles.session->warnings()) {
      fmt::print(stderr, "warning: {}\n", w);
      if (args.strict) {
        summary.add_problem(std::move(w));
      } else {
        summary.warnings.push_back(std::move(w));
      }
    }
  }
  summary.knee = outputs.knee_line();  // printed before the verdict
  nlohmann::json results = outputs.results(summary);
  if (roles.session) roles.session->add_results(results);

  // Files first, the terminal last (docs/output.md#output-files): neither a
  // signal now (held by end_signals) nor a stdout that fails can cost them.
  std::vector<std::string> written;
  const int exit_code = write_files(args, outputs, summary, results, &written);
  print_end(args, roles, summary, written);
  const int late_signal = linger(args, setup, exporter.get(), ran.signal_seen, end_signals.stop());
  // One that came after the linger, or between its end and now: taken,
  // so that it ends nothing; the verdict stands.
  if (!late_signal) take_pending_stop_signal();
  if (blocked) return scenario::kBlockedExitCode;
  if (ran.signal_seen == SIGINT) return kExitSigint;
  if (ran.signal_seen == SIGTERM) return kExitSigterm;
  return exit_code;
}

}  // namespace loadpilot::cli
