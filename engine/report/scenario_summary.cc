#include "report/scenario_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/text_fit.h"

namespace loadpilot::report {

namespace {

// What a scenario's books count as planned, added into the run's: a
// schedule's arrivals (whole, as its not_started counts them), else what
// came due.
double planned_of(const plan::Plan& part, const Summary& s) {
  if (part.profile.closed() || part.profile.unlimited)
    return static_cast<double>(s.started + s.dropped);
  return std::ceil(s.planned_iterations - 1e-9);
}

}  // namespace

RunGates::RunGates(const plan::Plan& plan, const load::Engine& engine)
    : run(plan, engine.collector().task_names()) {
  for (std::size_t l = 0; l < engine.lane_count() && l < plan.scenarios.size(); ++l)
    lanes.emplace_back(plan.scenarios[l], engine.lane_collector(l).task_names());
}

bool RunGates::add_round(const load::Engine& engine, double elapsed_s) {
  const auto feed = [&](metrics::ThresholdEvaluator& gates, const metrics::Collector& c) {
    const bool aborted = gates.abort().has_value();
    gates.add_round(c.last_round(), c.cumulative(), c.total_latency(), elapsed_s);
    return !aborted && gates.abort().has_value();
  };
  bool broke = feed(run, engine.collector());
  for (std::size_t l = 0; l < lanes.size(); ++l)
    broke = feed(lanes[l], engine.lane_collector(l)) || broke;
  return broke;
}

Summary build_run_summary(const plan::Plan& plan, const load::Engine& engine, double duration_s,
                          bool interrupted, const RunLimits& limits, const RunGates& gates) {
  std::vector<Summary> parts;
  double planned = 0;
  for (std::size_t l = 0; l < engine.lane_count() && l < plan.scenarios.size(); ++l) {
    const plan::Plan& part = plan.scenarios[l];
    const load::Profile& curve = engine.lane_profile(l);
    Summary s = build_summary(part, engine.lane_collector(l), curve.total_s(),
                              curve.total_iterations(), duration_s, interrupted,
                              l < limits.scenarios.size() ? limits.scenarios[l] : limits,
                              l < gates.lanes.size() ? &gates.lanes[l] : nullptr);
    planned += planned_of(part, s);
    parts.push_back(std::move(s));
  }
  Summary run = build_summary(plan, engine.collector(), engine.profile().total_s(), planned,
                              duration_s, interrupted, limits, &gates.run);
  run.mode = "scenarios";
  bool all_closed = true, all_open = true;
  for (const plan::Plan& part : plan.scenarios) {
    all_closed = all_closed && part.profile.closed();
    all_open = all_open && !part.profile.closed();
  }
  run.model = all_closed ? "closed" : all_open ? "open" : "mixed";
  run.planned_iterations = planned;
  // A scenario that fails fails the run; what failed it is named, once.
  for (const Summary& s : parts) {
    // A scenario's threshold that ended the run ended all of it: the run
    // says so too, naming the scenario.
    if (run.aborted.empty() && !s.aborted.empty()) {
      run.aborted = fmt::format("scenario {}: {}", s.scenario, s.aborted);
      run.aborted_key = s.scenario + "." + s.aborted_key;
    }
    for (const metrics::ThresholdResult& r : s.thresholds)
      if (!r.passed)
        run.add_problem(fmt::format("scenario {}: threshold {} breached: {:.2f} over {:g}",
                                    s.scenario, r.key, r.actual, r.limit));
    for (const std::string& p : s.problems)
      if (std::find(run.problems.begin(), run.problems.end(), p) == run.problems.end())
        run.add_problem(fmt::format("scenario {}: {}", s.scenario, p));
  }
  run.scenarios = std::move(parts);
  return run;
}

nlohmann::json scenarios_json(const std::vector<Summary>& parts) {
  nlohmann::json out = nlohmann::json::object();
  for (const Summary& s : parts) {
    nlohmann::json j = s.to_json();
    for (const char* key : {"loadpilot_version", "scenario", "file", "target", "started_at",
                            "interrupted", "signal", "duration_s", "generator", "generator_bound"})
      j.erase(key);
    out[s.scenario] = std::move(j);
  }
  return out;
}

void print_scenarios(std::FILE* out, const std::vector<Summary>& parts, bool color, int width) {
  const auto bold = [&](const std::string& s) { return color ? "\033[1m" + s + "\033[0m" : s; };
  const auto red = [&](const std::string& s) { return color ? "\033[31m" + s + "\033[0m" : s; };
  const auto green = [&](const std::string& s) { return color ? "\033[32m" + s + "\033[0m" : s; };
  fmt::print(out, "\n{}\n", bold("Scenarios"));
  for (const Summary& s : parts) {
    const std::string head =
        fmt::format("{} {} ({}{}): {} requests, {} errors ({:.2f}%), p99 {:.2f} ms",
                    s.passed ? green("✓") : red("✗"), printable(s.scenario), s.model,
                    s.model == "closed" ? fmt::format(", {} users", s.users) : "", s.requests,
                    s.errors, s.error_rate, s.latency.p99_ms);
    for (const std::string& line : wrap_words(head, width - 2, "", "    "))
      fmt::print(out, "  {}\n", line);
    const std::string books =
        s.model == "closed"
            ? fmt::format("{:.0f} came due: {} started, {} dropped; {} finished, {} cut off",
                          s.planned_iterations, s.started, s.dropped, s.iterations, s.cut_off)
            : fmt::format(
                  "{:.0f} planned: {} started, {} dropped, {} not started; {} finished, {} cut "
                  "off",
                  s.planned_iterations, s.started, s.dropped, s.not_started, s.iterations,
                  s.cut_off);
    for (const std::string& line : wrap_words(books, width - 4, "", "  "))
      fmt::print(out, "    {}\n", line);
    for (const metrics::ThresholdResult& r : s.thresholds) {
      const char* unit = threshold_unit(r);
      fmt::print(out, "    {} {:<11} actual {:.2f}{} {} limit {:g}{}\n",
                 r.passed ? green("✓") : red("✗"), r.key, r.actual, unit, r.passed ? "<=" : "> ",
                 r.limit, unit);
    }
  }
}

}  // namespace loadpilot::report
