#pragma once
// Summary: the final result of a run — what the terminal summary prints,
// what --results-json writes, and what thresholds are judged on.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics/snapshot.h"
#include "metrics/thresholds.h"
#include "plan/plan.h"

namespace loadpilot::report {

struct ErrorLine {
  std::string kind;
  std::string message;
  std::uint64_t count = 0;
  double first_seen_s = 0;
};

struct TaskSummary {
  std::string name;
  double weight = 0;
  std::uint64_t requests = 0, errors = 0, iterations = 0;
  double rps = 0;
  double error_rate = 0;
  metrics::LatencySummary latency;
  metrics::LatencySummary iteration;
};

struct Summary {
  std::string scenario, file, target, mode, started_at;
  bool interrupted = false;
  std::string interrupt_signal;  // "SIGINT" / "SIGTERM" when interrupted
  double duration_s = 0;         // measured wall time of the run
  double planned_s = 0;          // the profile's length
  double target_rps = 0;         // the scenario's rps (peak of the curve)
  double planned_iterations = 0; // H(total): what the curve asked for
  double actual_rps = 0;         // requests per second achieved
  double iterations_rps = 0;     // iterations per second achieved
  std::uint64_t requests = 0, errors = 0, iterations = 0, started = 0, dropped = 0, late = 0;
  double error_rate = 0;  // percent of requests
  std::array<std::uint64_t, metrics::kErrorKindCount> errors_by_kind{};
  std::vector<ErrorLine> top_errors;
  metrics::LatencySummary latency;  // from intended start
  metrics::LatencySummary service;  // from send
  std::vector<TaskSummary> tasks;
  std::vector<metrics::ThresholdResult> thresholds;
  bool passed = true;

  nlohmann::json to_json() const;  // the results file (docs/results.md)
};

Summary build_summary(const plan::Plan& plan, const metrics::Collector& collector,
                      double planned_s, double planned_iterations, double duration_s,
                      bool interrupted);

// The end-of-run text: totals, errors, latency, per-task table, thresholds.
void print_summary(std::FILE* out, const Summary& s, bool color);

}  // namespace loadpilot::report
