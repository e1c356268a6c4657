#include "cli/run_command.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "agents/agent_link.h"
#include "agents/nats_client.h"
#include "agents/pipe_channel.h"
#include "agents/protocol.h"
#include "build_info.h"
#include "cli/agents_mode.h"
#include "cli/commands.h"
#include "cli/external_agents.h"
#include "cli/picker.h"
#include "cli/report_commands.h"
#include "cli/signal_watcher.h"
#include "cli/startup_interrupt.h"
#include "http/target.h"
#include "load/engine.h"
#include "monitor/exporter.h"
#include "plan/duration.h"
#include "report/live.h"
#include "report/output_file.h"
#include "report/summary.h"
#include "scenario/loader.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return kExitInvalid;
}

std::string read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error(std::strerror(errno));
  std::string text;
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

// The scenario and the files of its folder it imported, for agents.
agents::protocol::Bundle make_bundle(const std::string& file) {
  agents::protocol::Bundle b;
  const std::vector<std::string> files = scenario::local_module_files(file);
  const auto slash = file.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : file.substr(0, slash);
  b.main = files.at(0);
  for (const std::string& rel : files) {
    try {
      b.files[rel] = read_text_file(rel == b.main ? file : folder + "/" + rel);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}/{}: {}", folder, rel, e.what()));
    }
  }
  if (b.bytes() > agents::protocol::kMaxBundleBytes)
    throw std::runtime_error(fmt::format(
        "{}: the scenario and the {} files it imports from its folder come to {} bytes, over the "
        "limit of {} for agents (docs/distributed.md#the-bundle)",
        file, files.size() - 1, b.bytes(), agents::protocol::kMaxBundleBytes));
  b.sha256 = agents::protocol::bundle_hash(b.files);
  return b;
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

}  // namespace

int run_command(const RunArgs& args) {
  if (args.output != "auto" && args.output != "text" && args.output != "ndjson")
    return fail(fmt::format("--output: must be auto, text or ndjson (got \"{}\")", args.output));
  // Below a millisecond the engine's timer would read 0: every request
  // would time out at once.
  const auto timeout_s = plan::parse_duration(args.timeout);
  if (!timeout_s || *timeout_s < 0.001 || *timeout_s > kMaxWaitS)
    return fail(
        fmt::format("--timeout: must be a duration from 1ms to 1h (got \"{}\")", args.timeout));
  const auto drain_s = plan::parse_duration(args.drain);
  if (!drain_s || *drain_s < 0 || *drain_s > kMaxWaitS)
    return fail(fmt::format("--drain: must be a duration from 0s to 1h (got \"{}\")", args.drain));
  const auto linger_s = plan::parse_duration(args.metrics_linger);
  if (!linger_s || *linger_s < 0 || *linger_s > kMaxWaitS)
    return fail(fmt::format("--metrics-linger: must be a duration from 0s to 1h (got \"{}\")",
                            args.metrics_linger));

  if (args.processes < 1 || args.processes > kMaxProcesses)
    return fail(
        fmt::format("--agents: must be from 1 to {} (got {})", kMaxProcesses, args.processes));
  // A worker without a connection of its own could send nothing, and an
  // agent process needs a worker: refuse rather than quietly change the
  // numbers asked for.
  if (args.workers && args.max_connections && args.workers > args.max_connections)
    return fail(fmt::format("--workers {} needs at least {} connections; got --max-connections {}",
                            args.workers, args.workers, args.max_connections));
  if (args.workers && args.processes > 1 && args.workers < args.processes)
    return fail(
        fmt::format("--agents {} needs at least {} workers, one per agent; got "
                    "--workers {}",
                    args.processes, args.processes, args.workers));
  std::optional<AgentShare> agent;
  if (!args.agent.empty()) {
    agent = parse_agent(args.agent);
    if (!agent) return fail(fmt::format("--agent: expected I/N (got \"{}\")", args.agent));
  }
  // Ctrl-C or SIGTERM from here until the run starts ends the process with
  // "interrupted while ...". It also holds an agent's stop (a SIGINT from
  // its coordinator, which may come as soon as the agent has said hello)
  // until the run's signal watcher is up, rather than let the interpreter's
  // own handler swallow it. An agent's coordinator speaks for it.
  std::optional<StartupInterrupt> startup;
  startup.emplace("loading " + args.file, agent.has_value());

  std::vector<scenario::ScenarioInfo> scenarios;
  try {
    scenarios = scenario::load_scenarios(args.file);
  } catch (const scenario::ScenarioError& e) {
    return fail(e.what());
  }
  startup->set_phase("choosing a scenario of " + args.file);
  int code = kExitOk;
  const auto index = choose_scenario(args, scenarios, &code);
  if (!index) return code;
  startup->set_phase("preparing the run of " + args.file);

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
  plan::Plan plan;
  if (!args.plan_file.empty()) {
    // An agent of a NATS run: the plan is its coordinator's, as resolved
    // there (docs/distributed.md#the-plan-is-the-contract).
    try {
      plan = plan::Plan::from_json(nlohmann::json::parse(read_text_file(args.plan_file)));
      plan.file = args.file;
      if (args.max_vusers) plan.max_vusers = *args.max_vusers;
      errors = plan::validate(plan);
    } catch (const std::exception& e) {
      return fail(fmt::format("{}: {}", args.plan_file, e.what()));
    }
  } else {
    plan = scenario::build_plan(scenarios[*index], args.file, ov, &errors);
  }
  // A bad --target is the command line's mistake, not the scenario's.
  for (const std::string& e : plan::take_target_errors(&errors))
    fmt::print(stderr, "error: --target: {}\n", e.substr(std::string_view("target: ").size()));
  if (!errors.empty()) {
    fmt::print(stderr, "error: {}: scenario {} is not valid:\n", args.file, scenarios[*index].name);
    for (const std::string& e : errors) fmt::print(stderr, "  - {}\n", e);
  }
  std::string target_error;
  const auto target = http::Target::parse(plan.target, &target_error);
  if (!errors.empty() || !target) return kExitInvalid;
  // The connection limit: --max-connections, else the rate's default raised
  // to one connection per --workers (each worker needs one). Workers left
  // at one per core are capped by the engine at the connections.
  const std::size_t connections = args.max_connections
                                      ? args.max_connections
                                      : std::max(load::default_max_connections(plan), args.workers);
  if (args.dry_run) {
    nlohmann::json j = plan.to_json();
    j["engine"] = {
        {"max_connections", connections},
        {"max_queue", load::default_max_queue(plan)},
        {"total_s", plan.profile.total_s()},
        {"planned_iterations", load::Profile::from_spec(plan.profile).total_iterations()}};
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  // Every output file is checked (and its folder made) before any traffic:
  // a run must not end in an unwritable path. Agents write none.
  if (args.agent.empty()) {
    std::vector<std::string> outputs;
    if (!args.results_json.empty()) outputs.push_back(args.results_json);
    if (!args.no_report) outputs.push_back(args.report);
    if (args.save_baseline) outputs.push_back(kBaselinePath);
    for (const std::string& path : outputs) {
      std::string error;
      if (!report::prepare_output(path, &error)) return fail(error);
    }
  }

  load::EngineOptions eo;
  eo.workers = args.workers;
  eo.max_connections = connections;
  eo.timeout = std::chrono::milliseconds(static_cast<long>(*timeout_s * 1000));
  eo.drain = std::chrono::milliseconds(static_cast<long>(*drain_s * 1000));
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
  const bool external = args.external_agents > 0 && !agent;
  const bool coordinator = (args.processes > 1 || external) && !agent;
  if (external && args.processes > 1)
    return fail("--external-agents and --agents cannot be combined");
  const std::size_t n = external ? args.external_agents : args.processes;
  const char* agents_flag = external ? "--external-agents" : "--agents";
  std::vector<agents::AgentLink*> agent_links;
  // The agents' workers together: each gets its share, and at least one.
  std::size_t agent_workers = 0;
  // External agents: the NATS connection and the run's agents there.
  std::unique_ptr<agents::NatsClient> nats;
  std::unique_ptr<ExternalAgents> external_agents;
  std::atomic<double> broker_lost_s{0};
  load::Engine* running_engine = nullptr;
  if (coordinator) {
    const std::size_t workers =
        args.workers
            ? args.workers
            : std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), connections);
    agent_workers = std::max(workers, n);
    if (connections < n)
      return fail(fmt::format("{} {} needs at least {} connections (got {})", agents_flag, n, n,
                              connections));
    if (vusers && static_cast<std::size_t>(vusers->max_vusers()) < n)
      return fail(fmt::format("{} {} needs max_vusers of at least {} (got {})", agents_flag, n, n,
                              vusers->max_vusers()));
    eo.agents = n;
    if (vusers) eo.extra_labels = vusers->extra_labels();
    // An agent stops by itself: its own drain, then on_stop within as long.
    eo.drain = 2 * eo.drain + std::chrono::seconds(2);
    const load::Profile profile = load::Profile::from_spec(plan.profile);
    if (!external) {
      eo.make_agent = [&, workers, profile](std::size_t i, std::function<void()> on_drained) {
        agents::PipeChannelOptions po;
        po.argv = agent_argv(args, plan, i, n, connections, workers);
        po.index = i;
        po.count = n;
        std::unique_ptr<agents::Channel> channel;
        try {
          channel = std::make_unique<agents::PipeChannel>(std::move(po));
        } catch (const std::runtime_error& e) {
          throw agents::AgentError(e.what());
        }
        auto link = std::make_unique<agents::AgentLink>(i, n, profile, plan.profile.unlimited,
                                                        std::move(channel), kLocalAgentSilence,
                                                        std::move(on_drained));
        agent_links.push_back(link.get());
        return std::unique_ptr<load::Source>(std::move(link));
      };
    } else {
      const auto agents_timeout = plan::parse_duration(args.agents_timeout);
      if (!agents_timeout || *agents_timeout < 0.1 || *agents_timeout > kMaxWaitS)
        return fail(
            fmt::format("--agents-timeout: must be a duration from 100ms to 1h (got \"{}\")",
                        args.agents_timeout));
      const auto lost_after = plan::parse_duration(args.agent_lost_after);
      if (!lost_after || *lost_after < 2 || *lost_after > kMaxWaitS)
        return fail(fmt::format("--agent-lost-after: must be a duration from 2s to 1h (got \"{}\")",
                                args.agent_lost_after));
      const auto lost_ms = std::chrono::milliseconds(static_cast<long>(*lost_after * 1000));
      agents::protocol::Bundle bundle;
      try {
        bundle = make_bundle(args.file);
      } catch (const std::exception& e) {
        return fail(e.what());
      }
      startup->set_phase(fmt::format("waiting for {} external agent{}", n, n == 1 ? "" : "s"));
      try {
        agents::NatsOptions no = args.nats;
        no.name = "loadpilot coordinator";
        nats = std::make_unique<agents::NatsClient>(no);
        external_agents = std::make_unique<ExternalAgents>(*nats, agents::protocol::new_run_id());
        fmt::print(stderr, "agents: waiting up to {} for {} external agent{} on {}\n",
                   args.agents_timeout, n, n == 1 ? "" : "s", agents::redact_url(nats->url()));
        external_agents->discover(
            n, std::chrono::milliseconds(static_cast<long>(*agents_timeout * 1000)));
        external_agents->sync_clocks();
      } catch (const std::exception& e) {
        return fail(e.what());
      }
      for (const ExternalAgent& a : external_agents->agents())
        fmt::print(stderr, "agents: {}{}: clock offset {:+.3f} ms (round trip {:.3f} ms)\n", a.id,
                   a.host.empty() ? "" : " on " + a.host,
                   std::chrono::duration<double, std::milli>(a.offset).count(), a.rtt_ms);
      external_agents->start_heartbeat(lost_ms, [&](double away_s) {
        broker_lost_s = away_s;
        fmt::print(stderr,
                   "error: the NATS server at {} has been unreachable for {:.0f} s; "
                   "ending the run\n",
                   agents::redact_url(nats->url()), away_s);
        std::fflush(stderr);
        if (running_engine) running_engine->stop();
      });
      const nlohmann::json plan_json = plan.to_json();
      const std::size_t vuser_total = static_cast<std::size_t>(
          plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers);
      eo.make_agent = [&, profile, plan_json, bundle, vuser_total, lost_ms](
                          std::size_t i, std::function<void()> on_drained) {
        agents::protocol::Assignment a;
        a.index = i;
        a.count = n;
        a.plan = plan_json;
        a.bundle = bundle;
        a.workers = args.workers ? std::max<std::size_t>(1, load::share_of(args.workers, i, n)) : 0;
        a.max_connections = std::max<std::size_t>(1, load::share_of(connections, i, n));
        a.max_vusers =
            static_cast<int>(std::max<std::size_t>(1, load::share_of(vuser_total, i, n)));
        a.timeout = args.timeout;
        a.drain = args.drain;
        a.seed = args.seed;
        a.insecure = args.insecure;
        auto link = std::make_unique<agents::AgentLink>(i, n, profile, plan.profile.unlimited,
                                                        external_agents->connect(a), lost_ms,
                                                        std::move(on_drained));
        agent_links.push_back(link.get());
        return std::unique_ptr<load::Source>(std::move(link));
      };
    }
  }
  std::optional<load::Engine> engine_storage;
  try {
    engine_storage.emplace(plan, *target, eo, coordinator ? nullptr : vusers.get());
  } catch (const agents::AgentError& e) {
    return fail(e.what());
  }
  load::Engine& engine = *engine_storage;
  if (agent) {
    startup.reset();  // the run's own signal handling takes over
    return run_as_agent(engine, vusers.get());
  }
  if (!agent_links.empty())
    startup->set_phase(fmt::format("starting {} agents", agent_links.size()));
  for (agents::AgentLink* p : agent_links) {
    try {
      if (p->wait_ready(std::chrono::seconds(60)) != engine.collector().task_names())
        return fail(p->who() + " reports other metric rows than its coordinator");
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
                            coordinator ? n : 1};
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
  startup.reset();  // from here on, a signal stops the run (SignalWatcher)
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
    running_engine = &engine;
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
  for (agents::AgentLink* p : agent_links) {
    if (std::string problem = p->problem(); !problem.empty()) run_errors.push_back(problem);
  }
  if (broker_lost_s > 0)
    run_errors.push_back(fmt::format("the NATS server at {} was unreachable for {:.0f} s",
                                     agents::redact_url(nats->url()), broker_lost_s.load()));
  for (const std::string& e : run_errors) fmt::print(stderr, "error: {}\n", e);
  // A VUser that blocked the Python thread (here or in an agent): the
  // scenario's code cannot run as written.
  bool blocked = vusers && vusers->python_blocked();
  for (agents::AgentLink* p : agent_links) blocked = blocked || p->python_blocked();

  report::RunLimits limits{engine.max_connections(),
                           vusers ? static_cast<std::size_t>(vusers->max_vusers()) : 0};
  report::Summary summary = report::build_summary(
      plan, engine.collector(), engine.profile().total_s(), engine.profile().total_iterations(),
      outcome.duration_s, outcome.interrupted, limits);
  if (signal_seen) summary.interrupt_signal = signal_seen == SIGINT ? "SIGINT" : "SIGTERM";
  for (const std::string& e : run_errors) summary.add_problem(e);
  // With ndjson, stdout carries only JSON: the human summary goes to stderr.
  report::print_summary(ndjson ? stderr : stdout, summary, color && !ndjson);
  nlohmann::json results = outputs.results(summary);
  if (coordinator) results["lost_agents"] = lost_agents(agent_links);
  if (external_agents) {
    results["external_agents"] = external_agents->to_json();
    fmt::print(ndjson ? stderr : stdout,
               "agents: {} external, start offsets within {:.3f} ms (half the best round trip)\n",
               n, external_agents->max_uncertainty_ms());
  }
  outputs.print_knee(ndjson ? stderr : stdout, color && !ndjson);
  if (ndjson) {
    nlohmann::json j = summary.to_json();
    j["type"] = "summary";
    fmt::print("{}\n", j.dump());
  }
  int exit_code = summary.passed ? kExitOk : kExitThresholds;
  if (!args.results_json.empty()) {
    std::string error;
    if (report::write_file_atomically(args.results_json, results.dump(2) + "\n", &error)) {
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
  if (blocked) return scenario::kBlockedExitCode;
  if (signal_seen == SIGINT) return kExitSigint;
  if (signal_seen == SIGTERM) return kExitSigterm;
  return exit_code;
}

}  // namespace loadpilot::cli
