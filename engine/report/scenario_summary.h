#pragma once
// The summary of a run of several scenarios
// (docs/scenarios.md#several-scenarios-in-one-run): each scenario's own
// Summary, built from its own collector, judged on its own thresholds and
// checked against its own books; and the run's, whose books are theirs
// summed and which passes only when every scenario does.
//
// Thread-safety: pure functions over what they are given.
#include <cstdio>
#include <vector>

#include "load/engine.h"
#include "metrics/threshold_evaluator.h"
#include "report/summary.h"

namespace loadpilot::report {

// The thresholds a run judges live (docs/scenarios.md#thresholds): the
// run's own on its totals and, in a run of several scenarios, each
// scenario's on that scenario's numbers (its lane's collector), so a
// scenario's windows and abort_on_fail work as in a run of one.
// Thread-safety: none; fed on the engine's collector thread (add_round),
// read after Engine::run() returned.
struct RunGates {
  RunGates(const plan::Plan& plan, const load::Engine& engine);
  // Feeds this round to every evaluator; true when one of them broke for
  // good in this round (the caller ends the run).
  bool add_round(const load::Engine& engine, double elapsed_s);
  metrics::ThresholdEvaluator run;
  std::vector<metrics::ThresholdEvaluator> lanes;  // by lane, as the engine's
};

// Each scenario's summary and then the run's, from an Engine that ran
// `plan` (plan.several()); the run's holds the others in
// Summary::scenarios.
Summary build_run_summary(const plan::Plan& plan, const load::Engine& engine, double duration_s,
                          bool interrupted, const RunLimits& limits, const RunGates& gates);

// The results file's "scenarios": {NAME: {...}}, each as Summary::to_json()
// without what the run's object already says once.
nlohmann::json scenarios_json(const std::vector<Summary>& parts);

// The terminal summary's "Scenarios" section: a line per scenario with its
// requests, errors, p99, books and verdict, then its thresholds.
void print_scenarios(std::FILE* out, const std::vector<Summary>& parts, bool color, int width);

}  // namespace loadpilot::report
