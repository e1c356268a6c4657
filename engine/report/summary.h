#pragma once
// Summary: the final result of a run — what the terminal summary prints,
// what --results-json writes, and what thresholds are judged on.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "metrics/snapshot.h"
#include "metrics/threshold_evaluator.h"
#include "metrics/thresholds.h"
#include "plan/plan.h"

namespace loadpilot::report {

struct ErrorLine {
  std::string kind;
  std::string message;
  std::uint64_t count = 0;
  double first_seen_s = 0;
};

// A task's requests with one literal name= (docs/scenarios.md#metrics):
// a sub-row, also counted in the task's own row.
struct NamedSummary {
  std::string name;
  std::uint64_t requests = 0, errors = 0;
  double rps = 0;
  double error_rate = 0;  // percent of its requests
  metrics::LatencySummary latency;
};

struct TaskSummary {
  std::string name;
  double weight = 0;
  // A row the runtime records beyond the plan's tasks (on_start): a hook
  // each VUser runs, not a task drawn by weight; it has no weight.
  bool hook = false;
  // The HTTP methods its requests used ("GET", "GET/POST"; "" for none
  // seen), for the CSV's Type column.
  std::string methods;
  std::uint64_t requests = 0, errors = 0, iterations = 0;
  // Of `iterations`, those that sent at least one request; not known
  // (false) when an agent of an older version did not report it. Checked:
  // requests >= wire_iterations (report/books.h).
  std::uint64_t wire_iterations = 0;
  bool wire_known = true;
  double rps = 0;
  double error_rate = 0;
  metrics::LatencySummary latency;
  metrics::LatencySummary iteration;
  std::vector<NamedSummary> named;  // in the order first seen
};

struct Summary {
  std::string scenario, file, target, mode, started_at;
  std::string model = "open";  // "open" or "closed" (plan::ProfileSpec::model)
  bool interrupted = false;
  std::string interrupt_signal;  // "SIGINT" / "SIGTERM" when interrupted
  double duration_s = 0;         // measured wall time of the run
  double planned_s = 0;          // the profile's length
  double target_rps = 0;         // the scenario's rps (peak of the curve)
  // H(total): what the curve asked for; a closed model plans users, not
  // iterations: the iterations that came due, started + dropped.
  double planned_iterations = 0;
  // Closed model: the users asked for, the most present in any second, and
  // their think time as written ("between(1, 3)").
  std::uint64_t users = 0, peak_active_users = 0;
  std::string wait;
  double actual_rps = 0;      // requests per second achieved
  double iterations_rps = 0;  // iterations per second achieved
  std::uint64_t requests = 0, errors = 0, iterations = 0, started = 0, dropped = 0, late = 0;
  // The books of docs/output.md#iterations: planned = started + dropped +
  // not_started; started = iterations (finished) + cut_off.
  std::uint64_t cut_off = 0, not_started = 0, dropped_no_vuser = 0;
  std::uint64_t pacing_late = 0;  // of `late`: a pacing slot passed mid-iteration
  std::uint64_t attempts = 0;     // requests + iterations failed outside a request
  std::uint64_t retries = 0;      // extra attempts of idempotent requests
  // Requests by how they ended (metrics::ResponseClass) and the HTTP bytes
  // they wrote and read (docs/output.md#status-classes-and-bytes).
  std::array<std::uint64_t, metrics::kResponseClassCount> responses{};
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  // Of the requests counted in `responses`, those over HTTP/2; the rest
  // went over HTTP/1.1 (docs/protocols.md#what-is-measured).
  std::uint64_t http2_requests = 0;
  // "HTTP/1.1", "HTTP/2", or "HTTP/1.1 and HTTP/2" when both were used.
  std::string protocol() const;
  std::uint64_t response_total() const;  // the sum of `responses`
  double error_rate = 0;                 // percent of attempts (metrics::TaskStats)
  metrics::WebSocketCounts websocket;    // docs/protocols.md#websocket
  metrics::GrpcCounts grpc_status;       // docs/protocols.md#grpc
  // When the run could not keep up with its arrival curve, or sent nothing:
  // which side held it back ("nothing_sent", "scenario", "machine",
  // "generator", "target" or "unknown"; report/verdict.h) and a sentence
  // saying so.
  std::string bottleneck;
  std::string overload;
  // The load generator's health over the run (report/verdict.h's
  // generator_json); null when not measured.
  nlohmann::json generator;
  // The generator or its machine held the run back for more than
  // kGeneratorBoundShare of its seconds (report/verdict.h): a warning, or a
  // problem with --strict. Empty otherwise.
  std::string generator_bound;
  // What the run survived but should be known, without failing it (an
  // agent that was lost and came back, every report of it counted): each
  // a problem instead with --strict.
  std::vector<std::string> warnings;
  // Why the run failed beyond its thresholds (a dead agent, a blocked
  // VUser, no on_start that succeeded, ...). Any problem fails the run.
  std::vector<std::string> problems;
  std::array<std::uint64_t, metrics::kErrorKindCount> errors_by_kind{};
  std::vector<ErrorLine> top_errors;
  metrics::LatencySummary latency;  // from intended start
  metrics::LatencySummary service;  // from send
  std::vector<TaskSummary> tasks;
  // The scenario's custom metrics (docs/scenarios.md#custom-metrics):
  // those declared in the plan and those that got values.
  metrics::CustomMetrics custom;
  // Every threshold, the run's first, then each task's
  // (metrics/threshold_evaluator.h).
  std::vector<metrics::ThresholdResult> thresholds;
  // A threshold with abort_on_fail that broke for good and ended the run
  // (its description, also among the problems), or empty.
  std::string aborted;
  std::string aborted_key;
  // The one verdict: every threshold passed and no problem. The exit code,
  // the results file and the report all say this (docs/cli.md#exit-codes).
  bool passed = true;
  // A step run's knee point, one sentence (report/knee.h describe_knee);
  // printed before the verdict. Empty: not a step run.
  std::string knee;
  // A run of several scenarios: each one's own summary, in the plan's
  // order (report/scenario_summary.h). Empty in a run of one.
  std::vector<Summary> scenarios;

  void add_problem(std::string problem);
  nlohmann::json to_json() const;  // the results file (docs/output.md)
};

// What the engine ran with, to say which limit an overloaded run hit.
struct RunLimits {
  std::size_t max_connections = 0;
  std::size_t max_vusers = 0;   // 0: no Python VUsers
  bool python_blocked = false;  // a VUser blocked the Python thread (the watchdog saw it)
  std::string held_at;          // scenario::VUserRuntime::held_at()
  // A run of several scenarios: each scenario's own (its VUser pool and
  // held line), in plan order; empty: every scenario takes the run's.
  std::vector<RunLimits> scenarios;
};

// THRESHOLDS: the evaluator that watched the run's rounds (its windows and
// its abort); null judges the plan's thresholds on the final numbers alone
// (a windowed one then sees no window).
Summary build_summary(const plan::Plan& plan, const metrics::Collector& collector, double planned_s,
                      double planned_iterations, double duration_s, bool interrupted,
                      const RunLimits& limits = {},
                      const metrics::ThresholdEvaluator* thresholds = nullptr);

// Sets s.thresholds and s.passed: the plan's thresholds judged on the
// summary's numbers (THRESHOLDS' windows and abort when given), and the
// abort, if one ended the run, as a problem (report/summary_thresholds.cc).
void judge_thresholds(Summary& s, const plan::Plan& plan, const metrics::Collector& collector,
                      const metrics::ThresholdEvaluator* thresholds);

// The unit a threshold's actual and limit print in: " ms" for latency keys,
// "%" for error rates, "" for a custom metric's NAME.STAT (its values' own).
const char* threshold_unit(const metrics::ThresholdResult& r);

// The summary's Thresholds section: each threshold by its task and window.
void print_thresholds(std::FILE* out, int width,
                      const std::vector<metrics::ThresholdResult>& thresholds, bool color);

// The end-of-run text: totals, errors, latency, per-task table, thresholds.
// Laid out for 80 columns (a terminal narrower than that: its width, at
// least 40), so that it never wraps (docs/output.md#summary).
void print_summary(std::FILE* out, const Summary& s, bool color);

}  // namespace loadpilot::report
