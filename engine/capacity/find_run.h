#pragma once
// `loadpilot find FILE --target URL`: a capacity search (docs/capacity.md).
// The scenario runs step by step at constant arrival rates that
// capacity::Search chooses; each step is a run of its own (a fresh Engine
// and, for Python tasks, a fresh VUser runtime, or fresh agent processes
// with --agents), so every step keeps exact books, and only its hold is
// judged (capacity/step.h). The answer, the steps and the generator's
// health go to the terminal, the results JSON, the HTML report, JUnit and
// the GitHub job summary (capacity/outputs.h).
#include <memory>
#include <optional>
#include <string>

#include "run/run_config.h"


namespace loadpilot::cli {

// Where `find` writes its HTML report unless told otherwise.
inline constexpr const char* kDefaultCapacityReportPath = "results/capacity.html";

struct FindArgs {
  // The run options `find` shares with `run` (file, target, scenario,
  // thresholds, workers, connections, timeout, drain, agents, outputs).
  RunArgs run;
  std::optional<double> rps_min, rps_max;
  std::string precision = "5%";
  std::string budget = "10m";
  std::string hold = "10s";   // --step: the judged part of a step
  std::string warmup = "5s";  // not judged
  bool no_confirm = false;
};

int find_command(const FindArgs& args);

struct RunSetup;
// `loadpilot run` of a scenario with mode="find": the search, with the
// default steps, budget and precision (docs/capacity.md).
int run_find_scenario(const RunArgs& args, std::unique_ptr<RunSetup> setup);
// The search itself, once the options are checked and the run prepared.
int search_capacity(const FindArgs& args, double warmup_s, double hold_s, double budget_s,
                    double precision, std::unique_ptr<RunSetup> setup);

}  // namespace loadpilot::cli
