#include "capacity/find_run.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <optional>

#include "capacity/outputs.h"
#include "capacity/search.h"
#include "capacity/step.h"
#include "cluster/coordinator/coordinator.h"
#include "load/engine.h"
#include "plan/duration.h"
#include "report/html_report.h"
#include "report/junit.h"
#include "report/output_file.h"
#include "report/step_summary.h"
#include "report/wall_clock.h"
#include "run/exit_codes.h"
#include "run/run_setup.h"
#include "run/signal_watcher.h"
#include "run/terminal_output.h"
#include "scenario/loader.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

namespace {

using SteadyClock = std::chrono::steady_clock;

double since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

// "5%", "5 %" or "0.05": a share in (0, 1).
std::optional<double> parse_precision(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  bool percent = !text.empty() && text.back() == '%';
  if (percent) text.pop_back();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  const double share = percent || v >= 1 ? v / 100 : v;
  if (!(share > 0) || share >= 1) return std::nullopt;
  return share;
}

// What one step's run left: its hold (judged) and why it could not be
// judged, if so.
struct StepRun {
  capacity::HoldWindow hold;
  double start_s = 0, hold_s = 0, end_s = 0;
  int signal = 0;
  std::vector<std::string> problems;
  bool blocked = false;
};

}  // namespace

namespace {

bool runs_on_agents(const RunArgs& a) {
  return a.processes > 1 || a.external_agents > 0 || !a.coordinator_url.empty();
}

// Runs one step: `rate` for warm-up + hold. The hold's rounds are those
// that began at or after the warm-up's end (the drain's included: requests
// of the hold that finish after it are the hold's).
StepRun run_step(const FindArgs& args, RunSetup& setup, const plan::Plan& base, double rate,
                 double warmup_s, double hold_s, std::unique_ptr<scenario::VUserRuntime>& vusers,
                 bool first, SteadyClock::time_point search_t0) {
  StepRun out;
  plan::Plan step_plan = base;
  step_plan.profile.mode = plan::Mode::kConstant;
  step_plan.profile.unlimited = false;
  step_plan.profile.rps = rate;
  step_plan.profile.duration_s = warmup_s + hold_s;
  step_plan.profile.ramp_up_s = 0;
  // Agents are told the step's profile on their command line.
  RunArgs step_args = args.run;
  step_args.rps = fmt::format("{}", rate);
  step_args.duration = fmt::format("{}ms", std::llround((warmup_s + hold_s) * 1000));
  step_args.mode = "constant";
  step_args.ramp_up.reset();
  setup.plan = step_plan;

  std::unique_ptr<Coordinator> coordinator;
  if (runs_on_agents(args.run)) {
    // External agents are found, and the coordinator service is sent the
    // step's run, anew for every step: an agent ends its run before it
    // takes the next, as it does for runs back to back.
    setup.startup.emplace(fmt::format("starting the agents of a step at {}/s", rate), false);
    coordinator = Coordinator::make(step_args, setup);  // throws CoordinatorError
  } else if (scenario::needs_vuser_runtime(step_plan) && !first) {
    vusers.reset();  // the last step's Python thread ends; the GIL is back here
    vusers = std::make_unique<scenario::VUserRuntime>(setup.plan, *setup.target);
  }
  load::EngineOptions eo = setup.engine;
  if (coordinator) coordinator->configure(eo);
  load::Engine engine(setup.plan, *setup.target, eo, coordinator ? nullptr : vusers.get());
  if (coordinator) {
    coordinator->wait_ready(engine, *setup.startup);
    setup.startup.reset();  // the step's SignalWatcher takes over
  }
  out.hold.max_connections = engine.max_connections();
  out.hold.max_vusers = vusers ? static_cast<std::size_t>(vusers->max_vusers()) : 0;
  out.start_s = since(search_t0);
  out.hold_s = out.start_s + warmup_s;
  const double end_of_arrivals = warmup_s + hold_s;
  {
    SignalWatcher signals(engine, /*keep_blocked=*/true);
    if (coordinator) {
      coordinator->attach(&engine);
      coordinator->set_start(engine);
    }
    engine.run([&](const metrics::Snapshot&) {
      const auto& rounds = engine.collector().rounds();
      if (rounds.empty()) return;
      const metrics::Round& r = rounds.back();
      const double begin = r.end_s - r.interval_s;
      if (begin < warmup_s - 0.1) return;
      out.hold.stats.merge(engine.collector().last_round());
      // The generator's evidence is read from the seconds that had
      // arrivals: the drain after them asks nothing of the generator.
      if (begin < end_of_arrivals - 0.05) out.hold.rounds.push_back(r);
      out.hold.seconds +=
          std::max(0.0, std::min(r.end_s, end_of_arrivals) - std::max(begin, warmup_s));
    });
    out.signal = signals.signal();
    if (coordinator) coordinator->attach(nullptr);
  }
  out.end_s = since(search_t0);
  if (vusers && !vusers->fatal_error().empty()) out.problems.push_back(vusers->fatal_error());
  if (coordinator)
    for (std::string& p : coordinator->problems()) out.problems.push_back(std::move(p));
  out.blocked =
      (vusers && vusers->python_blocked()) || (coordinator && coordinator->python_blocked());
  return out;
}

}  // namespace

int find_command(const FindArgs& given) {
  ignore_sigpipe();
  FindArgs args = given;
  const auto hold_s = plan::parse_duration(args.hold);
  if (!hold_s || *hold_s < 0.5 || *hold_s > plan::kMaxDurationS)
    return fail(
        fmt::format("--step: must be a duration of at least 500ms (got \"{}\")", args.hold));
  const auto warmup_s = plan::parse_duration(args.warmup);
  if (!warmup_s || *warmup_s < 0 || *warmup_s > plan::kMaxDurationS)
    return fail(
        fmt::format("--warmup: must be a duration of 0s or more (got \"{}\")", args.warmup));
  const auto budget_s = plan::parse_duration(args.budget);
  if (!budget_s || *budget_s <= 0 || *budget_s > plan::kMaxDurationS)
    return fail(
        fmt::format("--budget: must be a duration such as 90s or 10m (got \"{}\")", args.budget));
  const auto precision = parse_precision(args.precision);
  if (!precision)
    return fail(
        fmt::format("--precision: must be a share above 0% and below 100%, such as 5% "
                    "(got \"{}\")",
                    args.precision));
  if (args.rps_min && args.rps_max && *args.rps_min > *args.rps_max)
    return fail(
        fmt::format("--rps-min {:g} is above --rps-max {:g}", *args.rps_min, *args.rps_max));

  // The plan as `run` would make it (output paths checked, their folders
  // made), each step's profile set below.
  RunArgs ra = args.run;
  ra.duration = fmt::format("{}ms", std::llround((*warmup_s + *hold_s) * 1000));
  int code = kExitOk;
  std::unique_ptr<RunSetup> setup = prepare_run(ra, &code);
  if (!setup) return code;
  // The scenario's own bounds (mode="find") unless the command line gives them.
  if (setup->plan.find_spec) {
    if (!args.rps_min && setup->plan.find_spec->rps_min > 0)
      args.rps_min = setup->plan.find_spec->rps_min;
    if (!args.rps_max && setup->plan.find_spec->rps_max > 0)
      args.rps_max = setup->plan.find_spec->rps_max;
    if (args.rps_min && args.rps_max && *args.rps_min > *args.rps_max)
      return fail(fmt::format("rps_min {:g} is above rps_max {:g}", *args.rps_min, *args.rps_max));
  }
  return search_capacity(args, *warmup_s, *hold_s, *budget_s, *precision, std::move(setup));
}

int run_find_scenario(const RunArgs& run_args, std::unique_ptr<RunSetup> setup) {
  FindArgs args;
  args.run = run_args;
  const plan::FindSpec spec = setup->plan.find_spec.value_or(plan::FindSpec{});
  if (spec.rps_min > 0) args.rps_min = spec.rps_min;
  if (spec.rps_max > 0) args.rps_max = spec.rps_max;
  return search_capacity(args, *plan::parse_duration(args.warmup), *plan::parse_duration(args.hold),
                         *plan::parse_duration(args.budget), *parse_precision(args.precision),
                         std::move(setup));
}

int search_capacity(const FindArgs& args, double warmup_s, double hold_s, double budget_s,
                    double precision, std::unique_ptr<RunSetup> setup) {
  plan::Plan& plan = setup->plan;
  if (plan.profile.closed())
    return fail(
        fmt::format("{}: find searches an arrival rate: scenario {} is a closed model "
                    "(users=); use rps= (docs/capacity.md)",
                    args.run.file, plan.name));
  if (plan.thresholds.empty())
    return fail(fmt::format(
        "{}: find needs at least one threshold to judge its steps: @scenario(thresholds={{...}}) "
        "or --threshold p99_ms=250 (docs/capacity.md)",
        args.run.file));
  // Each step is judged on its hold as a whole: a task's threshold, a
  // window or an abort has no meaning there, and is refused rather than
  // left unjudged.
  for (const auto& [key, t] : plan.thresholds)
    if (!t.plain() || !plan::known_threshold_metric(key))
      return fail(fmt::format(
          "{}: find judges each step on the whole run's plain thresholds (p99_ms, ...); "
          "threshold {} is {} (docs/capacity.md)",
          args.run.file, key, t.plain() ? "a task's" : "over a window or with abort_on_fail"));
  capacity::SearchOptions so;
  so.rps_min = args.rps_min.value_or(plan.profile.unlimited ? 10 : plan.profile.rps);
  so.rps_max = args.rps_max.value_or(std::min(plan::kMaxRps, so.rps_min * 100));
  if (so.rps_min > so.rps_max)
    return fail(fmt::format("--rps-max {:g} is below the first step's rate {:g} (--rps-min)",
                            so.rps_max, so.rps_min));
  so.precision = precision;
  so.budget_s = budget_s;
  // The drain and the set-up of a step's engine come on top of its
  // warm-up and hold.
  so.step_s = warmup_s + hold_s + 0.5;
  so.confirm = !args.no_confirm;
  // Connections: --max-connections, else what rps_max needs (engine.md).
  if (!args.run.max_connections) {
    plan::Plan at_max = plan;
    at_max.profile.mode = plan::Mode::kConstant;
    at_max.profile.unlimited = false;
    at_max.profile.rps = so.rps_max;
    setup->connections = std::max(load::default_max_connections(at_max), args.run.workers);
    setup->engine.max_connections = setup->connections;
  }
  setup->startup.reset();  // each step's SignalWatcher takes over

  capacity::SearchReport report;
  report.scenario = plan.name;
  report.file = args.run.file;
  report.target = plan.target;
  report.started_at = report::rfc3339_now_ms();
  report.thresholds = plan::whole_run_limits(plan.thresholds);
  report.options = so;
  report.warmup_s = warmup_s;
  report.hold_s = hold_s;
  report.agents = args.run.external_agents > 0 ? args.run.external_agents : args.run.processes;
  report.max_connections = setup->connections;
  const plan::Plan base = plan;

  fmt::print("find: {} against {}: the highest rate with {}\n", base.name, base.target, [&] {
    std::string t;
    for (const auto& [k, v] : plan::whole_run_limits(base.thresholds))
      t += (t.empty() ? "" : ", ") + capacity::threshold_label(k, v);
    return t;
  }());
  fmt::print(
      "find: from {}/s to at most {}/s, steps of {:g} s warm-up + {:g} s hold, precision {:g}%, "
      "budget {:g} s\n",
      capacity::rate_text(so.rps_min), capacity::rate_text(so.rps_max), warmup_s, hold_s,
      so.precision * 100, so.budget_s);
  std::fflush(stdout);

  capacity::Search search(so);
  const SteadyClock::time_point t0 = SteadyClock::now();
  int signal_seen = 0;
  bool first = true;
  std::optional<capacity::Step> step;
  while ((step = search.next(since(t0)))) {
    capacity::StepResult result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if ((signal_seen = take_pending_stop_signal()) != 0) break;
      StepRun run;
      try {
        run = run_step(args, *setup, base, step->rps, warmup_s, hold_s, setup->vusers, first, t0);
      } catch (const CoordinatorError& e) {
        report.problems.push_back(e.what());
      } catch (const agents::AgentError& e) {
        report.problems.push_back(e.what());
      } catch (const scenario::ScenarioError& e) {
        report.problems.push_back(e.what());
      }
      first = false;
      if (!report.problems.empty()) break;
      for (std::string& p : run.problems) report.problems.push_back(std::move(p));
      result = capacity::judge_step(run.hold, plan::whole_run_limits(base.thresholds));
      result.index = static_cast<int>(report.steps.size()) + 1;
      result.kind = step->kind;
      result.rps = step->rps;
      result.start_s = run.start_s;
      result.hold_s = run.hold_s;
      result.end_s = run.end_s;
      result.repeat = attempt > 0;
      if (run.signal) {
        signal_seen = run.signal;
        break;
      }
      if (run.blocked || !report.problems.empty()) break;
      report.steps.push_back(result);
      guard_stdout([&] {
        fmt::print("{}\n", capacity::step_line(result));
        std::fflush(stdout);
      });
      // A hold the generator's side held back measured the generator, not
      // the target: once is a hiccup (a stall of a busy machine), so the
      // step runs again; twice is the generator's limit.
      if (result.outcome != capacity::StepOutcome::kGeneratorLimited) break;
    }
    if (signal_seen || !report.problems.empty()) break;
    search.record(result.outcome);
  }
  // A search whose first step could not even start (no NATS server, too
  // few agents, a busy service) was given what it cannot run: exit 2 and
  // say why, as `run` does (docs/cli.md).
  if (report.steps.empty() && !report.problems.empty() && !signal_seen) {
    for (const std::string& p : report.problems) fail(p);
    return kExitInvalid;
  }
  report.duration_s = since(t0);
  report.interrupted = signal_seen != 0;
  report.workers = setup->engine.workers;
  report.answer = search.answer();
  if (!search.done()) {
    // Stopped early (a signal, a problem): the best so far, unconfirmed.
    report.answer = capacity::Answer{};
    report.answer.limit = signal_seen ? "interrupted" : "problem";
  }
  EndOfRunSignals end_signals(std::chrono::seconds(10));

  int exit_code = report.exit_code();
  std::vector<std::string> written;
  const auto write = [&](const std::string& path, const std::string& text, const char* what) {
    std::string error;
    if (report::write_file_atomically(path, text, &error)) {
      written.push_back(fmt::format("{} written to {}", what, path));
    } else {
      fmt::print(stderr, "error: {}\n", error);
      if (exit_code == kExitOk) exit_code = kExitInvalid;
    }
  };
  const nlohmann::json results = report.to_json();
  if (!args.run.results_json.empty())
    write(args.run.results_json, results.dump(2) + "\n", "results");
  if (!args.run.no_report)
    write(args.run.report, capacity::html_report(report, report::utc_now_iso()), "report");
  if (!args.run.junit.empty()) {
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    write(args.run.junit, capacity::junit_xml(report, host), "JUnit XML");
  }
  if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); summary && *summary) {
    std::string error;
    if (report::append_step_summary(summary, capacity::step_summary_markdown(report), &error))
      written.push_back(fmt::format("job summary appended to {}", summary));
    else
      fmt::print(stderr, "warning: GITHUB_STEP_SUMMARY: {}\n", error);
  }
  guard_stdout([&] {
    capacity::print_search(stdout, report);
    if (!written.empty()) fmt::print("\n");
    for (const std::string& line : written) fmt::print("{}\n", line);
    std::fflush(stdout);
  });
  const int late_signal = end_signals.stop();
  if (!late_signal) take_pending_stop_signal();
  const bool blocked = setup->vusers && setup->vusers->python_blocked();
  if (blocked) return scenario::kBlockedExitCode;
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return exit_code;
}

}  // namespace loadpilot::cli
