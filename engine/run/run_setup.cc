#include "run/run_setup.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "http/tls_trust.h"
#include "plan/duration.h"
#include "report/csv_export.h"
#include "report/output_file.h"
#include "run/auto_agents.h"
#include "run/exit_codes.h"
#include "run/run_outputs.h"
#include "scenario/loader.h"

namespace loadpilot::cli {

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

namespace {

// The groups a scenario's @scenario(group=) names, as written (a name or
// a list of names; anything else is build_plan()'s to report).
std::vector<std::string> groups_of(const scenario::ScenarioInfo& info) {
  std::vector<std::string> out;
  const auto& config = info.description.value("config", nlohmann::json::object());
  const auto it = config.find("group");
  if (it == config.end()) return out;
  const nlohmann::json list = it->is_array() ? *it : nlohmann::json::array({*it});
  for (const auto& g : list)
    if (g.is_string()) out.push_back(g.get<std::string>());
  return out;
}

// Every group of the file, in the order first named.
std::vector<std::string> all_groups(const std::vector<scenario::ScenarioInfo>& all) {
  std::vector<std::string> groups;
  for (const auto& s : all)
    for (const std::string& g : groups_of(s))
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  return groups;
}

std::vector<std::size_t> members_of(const std::vector<scenario::ScenarioInfo>& all,
                                    const std::string& group) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::vector<std::string> g = groups_of(all[i]);
    if (std::find(g.begin(), g.end(), group) != g.end()) out.push_back(i);
  }
  return out;
}

}  // namespace

std::optional<Selection> choose_scenarios(const RunArgs& args,
                                          const std::vector<scenario::ScenarioInfo>& all,
                                          const ScenarioPicker& pick, int* exit_code) {
  std::vector<std::string> names;
  for (const auto& s : all) names.push_back(s.name);
  // The names on the error line itself (a log or the coordinator service
  // may keep only that line), then one "  - NAME — doc" line per scenario.
  std::string listing = fmt::format("{}", fmt::join(names, ", "));
  for (const auto& s : all)
    listing += fmt::format("\n  - {}{}", s.name, s.doc.empty() ? "" : " — " + s.doc);
  const std::vector<std::string> groups = all_groups(all);
  const auto failed = [&](const std::string& message) -> std::optional<Selection> {
    *exit_code = fail(message);
    return std::nullopt;
  };
  const int ways =
      (args.scenarios.empty() ? 0 : 1) + (args.all ? 1 : 0) + (args.group.empty() ? 0 : 1);
  if (ways > 1)
    return failed(
        "--scenario, --group and --all each choose the scenarios to run; give one of them");
  Selection chosen;
  if (!args.scenarios.empty()) {
    for (const std::string& name : args.scenarios) {
      const auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end())
        return failed(
            fmt::format("{}: no scenario named \"{}\"; available: {}", args.file, name, listing));
      const auto i = static_cast<std::size_t>(it - names.begin());
      if (std::find(chosen.indices.begin(), chosen.indices.end(), i) != chosen.indices.end())
        return failed(fmt::format("--scenario {}: named twice; each scenario runs once", name));
      chosen.indices.push_back(i);
    }
    return chosen;
  }
  if (args.all) {
    for (std::size_t i = 0; i < all.size(); ++i) chosen.indices.push_back(i);
    return chosen;
  }
  if (!args.group.empty()) {
    chosen.indices = members_of(all, args.group);
    chosen.group = args.group;
    if (chosen.indices.empty())
      return failed(fmt::format("{}: no scenario is in group \"{}\"; {}", args.file, args.group,
                                groups.empty()
                                    ? std::string("the file names no group (@scenario(group=...))")
                                    : fmt::format("its groups: {}", fmt::join(groups, ", "))));
    return chosen;
  }
  if (all.size() == 1) return Selection{{0}, ""};
  if (pick && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
    // One scenario, one group, or all of them.
    std::vector<std::string> items = names;
    for (const std::string& g : groups) {
      std::vector<std::string> members;
      for (std::size_t i : members_of(all, g)) members.push_back(all[i].name);
      items.push_back(fmt::format("group {}: {}", g, fmt::join(members, " + ")));
    }
    items.push_back(fmt::format("all {} together", all.size()));
    auto picked =
        pick(fmt::format("{} has {} scenarios; run which?", args.file, all.size()), items);
    if (!picked) return failed("no scenario chosen");
    if (*picked < all.size()) return Selection{{*picked}, ""};
    if (*picked < all.size() + groups.size()) {
      const std::string& g = groups[*picked - all.size()];
      return Selection{members_of(all, g), g};
    }
    for (std::size_t i = 0; i < all.size(); ++i) chosen.indices.push_back(i);
    return chosen;
  }
  return failed(fmt::format(
      "{} has {} scenarios; pick one with --scenario NAME: {}\nor run several together: "
      "--scenario NAME more than once, --all{}",
      args.file, all.size(), listing,
      groups.empty() ? "" : fmt::format(", --group {}", fmt::join(groups, "|"))));
}

namespace {

// The options' durations, checked.
struct Durations {
  double timeout_s = 0, drain_s = 0, linger_s = 0;
};

// The options that need no scenario: a message naming the first one that
// is wrong, or empty with *d filled.
std::string check_options(const RunArgs& args, Durations* d) {
  if (args.output != "auto" && args.output != "text" && args.output != "ndjson")
    return fmt::format("--output: must be auto, text or ndjson (got \"{}\")", args.output);
  // Below a millisecond the engine's timer would read 0: every request
  // would time out at once.
  const auto timeout_s = plan::parse_duration(args.timeout);
  if (!timeout_s || *timeout_s < 0.001 || *timeout_s > kMaxWaitS)
    return fmt::format("--timeout: must be a duration from 1ms to 1h (got \"{}\")", args.timeout);
  const auto drain_s = plan::parse_duration(args.drain);
  if (!drain_s || *drain_s < 0 || *drain_s > kMaxWaitS)
    return fmt::format("--drain: must be a duration from 0s to 1h (got \"{}\")", args.drain);
  const auto linger_s = plan::parse_duration(args.metrics_linger);
  if (!linger_s || *linger_s < 0 || *linger_s > kMaxWaitS)
    return fmt::format("--metrics-linger: must be a duration from 0s to 1h (got \"{}\")",
                       args.metrics_linger);
  *d = {*timeout_s, *drain_s, *linger_s};
  if (args.processes < 1 || args.processes > kMaxProcesses)
    return fmt::format("--agents: must be from 1 to {} (got {})", kMaxProcesses, args.processes);
  // A worker without a connection of its own could send nothing, and an
  // agent process needs a worker: refuse rather than quietly change the
  // numbers asked for.
  if (args.workers && args.max_connections && args.workers > args.max_connections)
    return fmt::format("--workers {} needs at least {} connections; got --max-connections {}",
                       args.workers, args.workers, args.max_connections);
  if (args.workers && args.processes > 1 && args.workers < args.processes)
    return fmt::format("--agents {} needs at least {} workers, one per agent; got --workers {}",
                       args.processes, args.processes, args.workers);
  if (!args.agent.empty() && !parse_agent(args.agent))
    return fmt::format("--agent: expected I/N (got \"{}\")", args.agent);
  return "";
}

// The command line's overrides of the scenario. The command line's own
// mistakes are named as such, not as the scenario file's
// (docs/cli.md#thresholds-on-the-command-line): a message, or empty.
std::string overrides(const RunArgs& args, scenario::Overrides* ov) {
  ov->target = args.target;
  ov->rps = args.rps;
  ov->duration = args.duration;
  ov->ramp_up = args.ramp_up;
  ov->mode = args.mode;
  ov->steps = args.steps;
  ov->max_vusers = args.max_vusers;
  ov->users = args.users;
  ov->http_version = args.http2 ? std::optional<std::string>("2") : args.http_version;
  if (args.http2 && args.http_version && *args.http_version != "2")
    return fmt::format("--http2 and --http-version {} contradict each other; give one",
                       *args.http_version);
  for (const std::string& text : args.thresholds) {
    std::string error;
    const auto limit = parse_threshold_option(text, &error);
    if (!limit) return error;
    ov->thresholds[limit->first] = fmt::format("{}", limit->second);
    ov->threshold_flags[limit->first] = "--threshold " + text;
  }
  return "";
}

// The command line's profile overrides, which mean one scenario's
// numbers: a run of several takes them from each @scenario instead.
std::string several_override(const RunArgs& args) {
  const std::pair<const char*, bool> given[] = {
      {"--rps", args.rps.has_value()},
      {"--users", args.users.has_value()},
      {"--duration", args.duration.has_value()},
      {"--ramp-up", args.ramp_up.has_value()},
      {"--mode", args.mode.has_value()},
      {"--steps", args.steps.has_value()},
      {"--max-vusers", args.max_vusers.has_value() && args.agent.empty()}};
  for (const auto& [flag, on] : given)
    if (on) return flag;
  return "";
}

// The plan: the scenario's with the overrides, or, for an agent of a NATS
// run, its coordinator's as resolved there
// (docs/distributed.md#the-plan-is-the-contract). A run of several: each
// scenario's plan (profile overrides refused, --threshold the run's own),
// combined. Problems in *errors; false with a message printed when the
// plan file cannot be read or a --threshold names what the scenario does
// not have.
bool make_plan(const RunArgs& args, const std::vector<scenario::ScenarioInfo>& all,
               const Selection& chosen, const scenario::Overrides& ov, plan::Plan* plan,
               std::vector<std::string>* errors) {
  const bool several = chosen.indices.size() > 1;
  if (args.plan_file.empty() && several) {
    if (const std::string flag = several_override(args); !flag.empty()) {
      fail(
          fmt::format("{} sets one scenario's numbers; a run of several scenarios takes them "
                      "from each @scenario (run one with --scenario NAME to override them)",
                      flag));
      return false;
    }
    scenario::Overrides part_ov = ov;
    part_ov.thresholds.clear();  // --threshold judges the run's totals
    std::vector<plan::Plan> parts;
    std::vector<std::string> names;
    bool bad = false;
    for (std::size_t i : chosen.indices) {
      std::vector<std::string> part_errors;
      parts.push_back(scenario::build_plan(all[i], args.file, part_ov, &part_errors));
      names.push_back(all[i].name);
      // A bad --target: said once below, not once per scenario.
      std::vector<std::string> target = plan::take_target_errors(&part_errors);
      if (errors->empty() && !target.empty()) *errors = target;
      if (!part_errors.empty()) {
        bad = true;
        fmt::print(stderr, "error: {}: scenario {} is not valid:\n", args.file, all[i].name);
        for (const std::string& e : part_errors) fmt::print(stderr, "  - {}\n", e);
      }
    }
    *plan = plan::combine(std::move(parts), chosen.group.empty()
                                                ? fmt::format("{}", fmt::join(names, "+"))
                                                : chosen.group);
    for (const std::string& text : args.thresholds) {
      std::string error;
      if (const auto limit = parse_threshold_option(text, &error))
        plan->thresholds[limit->first] = limit->second;
    }
    for (const std::string& e : plan::validate(*plan))
      if (e.starts_with("thresholds.")) errors->push_back(e);
    for (const std::string& e : plan::take_target_errors(errors))
      fmt::print(stderr, "error: --target: {}\n", e.substr(std::string_view("target: ").size()));
    if (!errors->empty()) {
      fmt::print(stderr, "error: {}: the run of {} is not valid:\n", args.file, plan->name);
      for (const std::string& e : *errors) fmt::print(stderr, "  - {}\n", e);
    }
    if (bad) errors->push_back("scenarios");
    return true;
  }
  const scenario::ScenarioInfo& one = all[chosen.indices.front()];
  if (args.plan_file.empty()) {
    *plan = scenario::build_plan(one, args.file, ov, errors);
  } else {
    try {
      *plan = plan::Plan::from_json(nlohmann::json::parse(read_text_file(args.plan_file)));
      plan->file = args.file;
      if (args.max_vusers && !plan->several()) plan->max_vusers = *args.max_vusers;
      *errors = plan::validate(*plan);
    } catch (const std::exception& e) {
      fail(fmt::format("{}: {}", args.plan_file, e.what()));
      return false;
    }
  }
  // An agent's --max-vusers is its share of the closed model's users; given
  // by hand it would mean nothing there.
  if (plan->profile.closed() && args.max_vusers && args.agent.empty())
    errors->push_back(fmt::format(
        "max_vusers: --max-vusers does not apply to a closed model (users=): each user is one "
        "VUser; --users sets them (got {})",
        *args.max_vusers));
  // A bad --target or --threshold is the command line's mistake, not the
  // scenario's.
  for (const std::string& e : plan::take_target_errors(errors))
    fmt::print(stderr, "error: --target: {}\n", e.substr(std::string_view("target: ").size()));
  const auto flag_errors = std::erase_if(*errors, [](const std::string& e) {
    if (!e.starts_with("--threshold ")) return false;
    fmt::print(stderr, "error: {}\n", e);
    return true;
  });
  if (!errors->empty()) {
    fmt::print(stderr, "error: {}: scenario {} is not valid:\n", args.file, plan->name);
    for (const std::string& e : *errors) fmt::print(stderr, "  - {}\n", e);
  }
  // Not read as "could not read the plan": the run just cannot start.
  return flag_errors == 0;
}

// --dry-run's "engine" of one scenario's plan.
nlohmann::json dry_run_engine(const plan::Plan& plan, std::size_t connections) {
  // A closed model plans users, not iterations (docs/output.md#iterations).
  return {{"max_connections", connections},
          {"max_queue", load::default_max_queue(plan)},
          {"total_s", plan::run_length_s(plan)},
          {"planned_iterations", plan.profile.closed()
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(load::Profile::of(plan).total_iterations())}};
}

// --dry-run: the plan as the run would use it.
void print_dry_run(const plan::Plan& plan, std::size_t connections, const RunSetup& setup) {
  nlohmann::json j = plan.to_json();
  if (plan.several()) {
    // Each scenario's own engine figures, then the run's.
    double planned = 0;
    bool all_open = true;
    for (std::size_t i = 0; i < plan.scenarios.size(); ++i) {
      const plan::Plan& part = plan.scenarios[i];
      nlohmann::json& pj = j["scenarios"][i];
      pj["max_vusers"] = part.max_vusers > 0 ? part.max_vusers : scenario::kDefaultMaxVUsers;
      pj["engine"] = dry_run_engine(part, load::default_max_connections(part));
      if (part.profile.closed())
        all_open = false;
      else
        planned += std::ceil(load::Profile::of(part).total_iterations() - 1e-9);
    }
    j["engine"] = {
        {"max_connections", connections},
        {"total_s", plan::run_length_s(plan)},
        {"planned_iterations", all_open ? nlohmann::json(planned) : nlohmann::json(nullptr)}};
    fmt::print("{}\n", j.dump(2));
    return;
  }
  // The bound the run would use, not the plan's "0: the default".
  j["max_vusers"] = plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers;
  j["engine"] = dry_run_engine(plan, connections);
  j["engine"]["agents"] = setup.agents;
  j["engine"]["agents_why"] = setup.agents_why;
  fmt::print("{}\n", j.dump(2));
}

// Every output file is checked (and its folder made) before any traffic:
// a run must not end in an unwritable path. A message, or empty.
std::string prepare_outputs(const RunArgs& args) {
  std::vector<std::string> outputs;
  if (!args.results_json.empty()) outputs.push_back(args.results_json);
  if (!args.no_report) outputs.push_back(args.report);
  if (args.save_baseline) outputs.push_back(kBaselinePath);
  if (!args.junit.empty()) outputs.push_back(args.junit);
  if (!args.csv_prefix.empty()) {
    const report::CsvPaths csv = report::csv_paths(args.csv_prefix);
    outputs.push_back(csv.stats);
    outputs.push_back(csv.history);
  }
  for (const std::string& path : outputs) {
    std::string error;
    if (!report::prepare_output(path, &error)) return error;
  }
  return "";
}

// The local agent processes: --agents N, or --agents auto's choice. Auto
// applies to a run of this machine's own: not to an agent, external
// agents, the coordinator service or a capacity search.
void resolve_agents(const RunArgs& args, RunSetup* setup) {
  const plan::Plan& plan = setup->plan;
  setup->agents = args.processes;
  if (!args.agents_auto || setup->agent || args.external_agents > 0 ||
      !args.coordinator_url.empty() || args.serve_child || plan.find_spec || plan.several())
    return;
  AutoAgentsInput in;
  in.python = scenario::needs_vuser_runtime(plan);
  in.cores = available_cores();
  in.connections = setup->connections;
  in.workers = args.workers;
  in.max_vusers =
      static_cast<std::size_t>(plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers);
  const AutoAgents chosen = choose_agents(plan, in);
  setup->agents = chosen.agents;
  setup->agents_why = chosen.why;
}

load::EngineOptions engine_options(const RunArgs& args, const Durations& d, std::size_t connections,
                                   const std::optional<AgentShare>& agent) {
  load::EngineOptions eo;
  eo.workers = args.workers;
  eo.max_connections = connections;
  eo.timeout = std::chrono::milliseconds(static_cast<long>(d.timeout_s * 1000));
  eo.drain = std::chrono::milliseconds(static_cast<long>(d.drain_s * 1000));
  eo.insecure = args.insecure;
  eo.seed = args.seed;
  if (agent) {
    eo.agent_index = agent->index;
    eo.agent_count = agent->count;
  }
  return eo;
}

}  // namespace

std::unique_ptr<RunSetup> prepare_run(const RunArgs& args, int* exit_code,
                                      const ScenarioPicker& pick) {
  auto setup = std::make_unique<RunSetup>();
  auto failed_with = [&](int code) {
    *exit_code = code;
    return nullptr;
  };
  auto failed = [&](const std::string& message) { return failed_with(fail(message)); };
  Durations durations;
  if (const std::string error = check_options(args, &durations); !error.empty())
    return failed(error);
  std::optional<AgentShare>& agent = setup->agent;
  if (!args.agent.empty()) agent = parse_agent(args.agent);
  // Ctrl-C or SIGTERM from here until the run starts ends the process with
  // "interrupted while ...". It also holds an agent's stop (a SIGINT from
  // its coordinator, which may come as soon as the agent has said hello)
  // until the run's signal watcher is up, rather than let the interpreter's
  // own handler swallow it. An agent's coordinator speaks for it.
  setup->startup.emplace("loading " + args.file, agent.has_value());
  std::vector<scenario::ScenarioInfo> scenarios;
  try {
    // An agent hands out its share of the scenario's test data rows.
    scenario::DataShare share;
    if (agent) share = {agent->index, agent->count};
    share.seed = args.seed;
    scenarios = scenario::load_scenarios(args.file, share);
  } catch (const scenario::ScenarioError& e) {
    return failed(e.what());
  }
  setup->startup->set_phase("choosing a scenario of " + args.file);
  int code = kExitOk;
  // An agent of a NATS run takes every scenario from its plan file.
  std::optional<Selection> chosen = args.plan_file.empty()
                                        ? choose_scenarios(args, scenarios, pick, &code)
                                        : std::optional<Selection>(Selection{{0}, ""});
  if (!chosen) return failed_with(code);
  setup->startup->set_phase("preparing the run of " + args.file);
  scenario::Overrides ov;
  if (const std::string error = overrides(args, &ov); !error.empty()) return failed(error);
  std::vector<std::string> errors;
  if (!make_plan(args, scenarios, *chosen, ov, &setup->plan, &errors))
    return failed_with(kExitInvalid);
  const plan::Plan& plan = setup->plan;
  std::string target_error;
  setup->target = http::Target::parse(plan.target, &target_error);
  if (!errors.empty() || !setup->target) return failed_with(kExitInvalid);
  // The connection limit: --max-connections, else the rate's default raised
  // to one connection per --workers (each worker needs one). Workers left
  // at one per core are capped by the engine at the connections.
  setup->connections = args.max_connections
                           ? args.max_connections
                           : std::max(load::default_max_connections(plan), args.workers);
  if (plan.several()) {
    // Not yet carried by a run of several scenarios: said before any traffic.
    if (args.processes > 1 || args.external_agents > 0 || !args.coordinator_url.empty() ||
        !args.agent.empty())
      return failed(
          "a run of several scenarios runs in this process only for now: --agents, "
          "--external-agents and --coordinator-url take one scenario (--scenario NAME)");
  }
  resolve_agents(args, setup.get());
  if (args.dry_run) {
    print_dry_run(plan, setup->connections, *setup);
    return failed_with(kExitOk);
  }
  // Agents write no files.
  if (args.agent.empty())
    if (const std::string error = prepare_outputs(args); !error.empty()) return failed(error);
  setup->engine = engine_options(args, durations, setup->connections, agent);
  // The CA store is read now, not by the first connection of the run,
  // whose latency would carry it (http/tls_trust.h).
  if (setup->target->tls() && !args.insecure) http::load_system_roots();
  // Several scenarios: each takes its own plan's connections unless
  // --max-connections splits the given number (load/engine.h).
  if (plan.several()) setup->engine.max_connections = args.max_connections;
  // Tasks that run as Python need the VUser runtime; it outlives the engine.
  // A coordinator of agents runs none itself: it only needs the runtime's
  // metric rows.
  // A run of several: a runtime per scenario with Python tasks, each on a
  // Python thread of its own (docs/scenarios.md#python-scenarios-together).
  if (plan.several()) {
    bool custom_taken = false;
    for (const plan::Plan& part : plan.scenarios) {
      setup->scenario_vusers.emplace_back();
      if (!scenario::needs_vuser_runtime(part)) continue;
      try {
        setup->scenario_vusers.back() =
            std::make_unique<scenario::VUserRuntime>(part, *setup->target);
      } catch (const scenario::ScenarioError& e) {
        return failed(e.what());
      }
      // The file's custom metrics are reported once, by the first.
      setup->scenario_vusers.back()->set_takes_custom_metrics(!custom_taken);
      custom_taken = true;
    }
    for (const auto& rt : setup->scenario_vusers)
      setup->engine.scenario_runtimes.push_back(rt.get());
  } else if (scenario::needs_vuser_runtime(plan)) {
    try {
      setup->vusers = std::make_unique<scenario::VUserRuntime>(plan, *setup->target);
    } catch (const scenario::ScenarioError& e) {
      return failed(e.what());
    }
  }
  setup->linger_s = durations.linger_s;
  return setup;
}

}  // namespace loadpilot::cli
