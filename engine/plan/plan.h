#pragma once
// Plan: the contract between the Python front end, the coordinator and the
// agents. A scenario file is turned into a Plan once; the engine consumes
// only Plans. `loadpilot run --dry-run` prints Plan::to_json().
//
// JSON shape (all durations in seconds):
// {
//   "name": "Browse", "file": "scenarios/browse.py", "target": "http://127.0.0.1:8000",
//   "profile": {"model": "open", "mode": "ramp", "rps": 200, "duration_s": 30,
//               "ramp_up_s": 5, "steps": 5, "unlimited": false},
//   "max_vusers": 0,
//   "tasks": [{"name": "products", "weight": 5, "runtime": "native", "reason": "...",
//              "request": {"method": "GET", "path": "/api/products",
//                          "headers": [["Accept", "application/json"]], "body": "",
//                          "name": "list products"}}],
//   "thresholds": {"p99_ms": 50, "error_rate": 1.0,
//                  "products.p99_ms": {"limit": 30, "over_s": 60}},
//   "follow_redirects": false, "max_redirects": 20,
//   "http_version": "auto", "max_streams": 0
// }
// "runtime" is "native" (the engine sends `request` itself) or "python"
// (the Python VUser runtime runs the task body on every iteration). A
// request's optional "name" is its name= : a sub-row of the task
// (docs/scenarios.md#metrics).
// "follow_redirects" is the default of the scenario's client calls and
// "max_redirects" the hop limit of every call that follows redirects
// (docs/scenarios.md#redirects); only the Python runtime follows them, so a
// task that does always runs there.
//
// "start_s" (seconds, @scenario(start=)) delays the first arrival and
// "groups" (@scenario(group=)) names the groups the scenario belongs to;
// each is written only when set.
//
// A run of several scenarios (docs/scenarios.md#several-scenarios-in-one-run)
// is {"name": "Browse+Partner", "file", "target", "thresholds",
// "scenarios": [PLAN, PLAN, ...]}: each entry a whole plan of one scenario
// as above (its own profile, start_s, max_vusers, tasks and thresholds).
// The run's own tasks are theirs, flattened in order and named
// "SCENARIO.TASK" (combine()); it has no profile of its own to write.
//
// A closed model (docs/scenarios.md#open-and-closed-models-which-to-use)
// has "model": "closed", "users": N and "wait": {"kind": "between" |
// "constant" | "pacing" | "none", "min_s", "max_s"} in its profile; its
// mode, ramp_up_s and steps shape the number of users over time instead of
// the rate, and "rps" is not used.
//
// Stages (docs/scenarios.md#stages): "mode": "stages" (stages=) or "shape"
// (a shape() callback, evaluated into a table before the run) with
// "stages": [[duration_s, target], ...] and "start": the curve's value at
// t = 0 (rps= or users= as written; 0 when left out). A "stages" table
// is linear from one target to the next; a "shape" table holds each
// target for its duration. "rps" (open) or "users" (closed) is then the
// table's peak, recomputed by from_json(), and "duration_s" its length.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plan/thresholds.h"
#include "plan/custom_keys.h"

namespace loadpilot::plan {

enum class Mode { kRamp, kConstant, kStep, kSpike, kStages, kShape };
std::string_view mode_name(Mode m);
std::optional<Mode> mode_from_name(std::string_view s);

// A closed model's think time: what a user waits after an iteration before
// its next one.
struct WaitSpec {
  enum class Kind {
    kNone,      // no wait: the next iteration starts when one ends
    kConstant,  // min_s (== max_s) after the end of an iteration
    kBetween,   // uniform in [min_s, max_s] after the end of an iteration
    kPacing,    // iterations start min_s (== max_s) apart, start to start
  };
  Kind kind = Kind::kNone;
  double min_s = 0;
  double max_s = 0;
  // As the user writes it: "between(1, 3)", "constant(0.5)",
  // "constant_pacing(2)", "none".
  std::string label() const;
};

// One row of a stages table as the user wrote it: over duration_s the
// curve moves to `target` (iterations/s, or users for a closed model).
struct StageSpec {
  double duration_s = 0;
  double target = 0;
};

struct ProfileSpec {
  Mode mode = Mode::kRamp;
  double rps = 10;
  double duration_s = 60;
  double ramp_up_s = 10;
  int steps = 5;
  bool unlimited = false;  // closed loop: every connection sends back-to-back
  // Closed model: this many users loop over the tasks, waiting `wait`
  // between iterations; the mode shapes their number over time. 0: the
  // open model (iterations arrive on the rate curve).
  int users = 0;
  WaitSpec wait;
  // mode kStages / kShape: the table, and the curve's value at t = 0 (the
  // first stage moves from there). Other modes leave them empty and 0.
  std::vector<StageSpec> stages{};
  double start = 0;
  bool closed() const { return users > 0; }
  // Whether the curve is a table (stages= or shape()) rather than a
  // shorthand of rps/duration/ramp_up/steps.
  bool tabled() const { return mode == Mode::kStages || mode == Mode::kShape; }
  // "closed" or "open" (a closed loop, rps="max", is an open scenario run
  // without a schedule).
  std::string_view model() const { return closed() ? "closed" : "open"; }
  // Seconds the whole run lasts (ramp adds ramp_up_s before duration_s; a
  // table lasts the sum of its stages).
  double total_s() const;
  // The mode as runs show it: "max" for a closed loop, else mode_name().
  std::string label() const { return unlimited ? "max" : std::string(mode_name(mode)); }
};

// Hops a call that follows redirects may take when @scenario(max_redirects=)
// is left out (httpx's default), and the most it may be set to.
inline constexpr int kDefaultRedirects = 20;
inline constexpr int kMaxRedirects = 100;

// @scenario(max_streams=): the most HTTP/2 streams in flight per connection
// it may set (docs/protocols.md#streams-and-connections).
inline constexpr int kMaxStreams = 10'000;

struct HttpRequestSpec {
  std::string method = "GET";
  std::string path = "/";  // relative to the target, query string included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string name;  // the call's name= ("" without): the task's sub-row
};

struct TaskSpec {
  std::string name;
  double weight = 1;
  std::string runtime = "native";          // "native" | "python"
  std::string reason;                      // why that runtime was chosen (shown by --dry-run)
  std::optional<HttpRequestSpec> request;  // required for the native runtime
};

// mode="find" (docs/capacity.md): the scenario is searched for its
// capacity rather than run on one curve. 0 leaves a bound to its default
// (rps_min: the scenario's rps; rps_max: 100 x rps_min).
struct FindSpec {
  double rps_min = 0;
  double rps_max = 0;
};

struct Plan {
  std::string name;
  std::string file;
  std::string target;
  ProfileSpec profile;
  int max_vusers = 0;  // 0: chosen by the runtime
  std::vector<TaskSpec> tasks;
  // By key: "p99_ms" (the whole run) or "TASK.p99_ms" (plan/thresholds.h).
  Thresholds thresholds;
  bool follow_redirects = false;          // @scenario(follow_redirects=)
  int max_redirects = kDefaultRedirects;  // @scenario(max_redirects=)
  // @scenario(http_version=) or --http-version: "auto" (HTTP/2 over TLS when
  // the server offers h2, else HTTP/1.1), "1.1" or "2" (docs/protocols.md).
  std::string http_version = "auto";
  int max_streams = 0;  // @scenario(max_streams=); 0: the server's limit
  // @scenario(mode="find"): its profile is then a constant rate (each
  // step's), and this holds the search's bounds. JSON: "find": {"rps_min",
  // "rps_max"}, present only for such a scenario.
  std::optional<FindSpec> find_spec;
  // The custom metrics the scenario file declares when it is imported
  // (docs/scenarios.md#custom-metrics): what thresholds may name as
  // "NAME.STAT". JSON: "custom_metrics": [{"name", "kind", "where"}],
  // absent when there are none.
  std::vector<CustomMetricSpec> custom_metrics;
  // @scenario(start=): seconds from the run's start to this scenario's
  // curve's start (it asks for nothing before). 0 in a run of one.
  double start_s = 0;
  std::vector<std::string> groups;  // @scenario(group=), as written
  // A run of several scenarios: their plans, in the order run. Empty: the
  // plan is one scenario's. See combine().
  std::vector<Plan> scenarios;
  bool several() const { return !scenarios.empty(); }
  // The scenario a task (an index into `tasks`) belongs to, and its index
  // among that scenario's tasks. A run of one: (0, task).
  std::pair<std::size_t, std::size_t> task_home(std::size_t task) const;

  nlohmann::json to_json() const;
  // Parses without validating; throws PlanError naming the field on a type
  // mismatch or a missing required field (name, target, profile, tasks,
  // tasks[i].name, request.path). Absent optional fields keep their
  // defaults.
  static Plan from_json(const nlohmann::json& j);
};

// The plan of a run of PARTS (two or more scenarios' plans) named NAME:
// `scenarios` = PARTS; `tasks` their tasks in order as "SCENARIO.TASK";
// `target` and `file` the first part's; `profile` a summary of theirs for
// the places that show one figure (open: rps the sum of the open parts'
// rates; closed when every part is, users their sum), lasting until the
// last part ends, in "constant" mode. Thresholds: none of its own (the
// command line's --threshold adds them).
Plan combine(std::vector<Plan> parts, std::string name);

// Seconds from the run's start to the end of the last scenario's curve
// (a run of one: its profile's length).
double run_length_s(const Plan& plan);

struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Upper bounds of the plan's values. Each is far above any run this
// machine-bound engine can carry out, and low enough that the schedule
// arithmetic (iterations = rate x seconds, weight sums) stays exact and
// finite; a value beyond one is a typo, not a plan. docs/scenarios.md lists
// them.
inline constexpr double kMaxRps = 10'000'000;        // iterations/s, whole run
inline constexpr double kMaxDurationS = 7 * 86'400;  // duration and ramp_up: 7 days
inline constexpr int kMaxSteps = 1'000;              // step mode windows
inline constexpr int kMaxVUsers = 100'000;           // Python VUsers
inline constexpr int kMaxUsers = 100'000;            // closed model users, whole run
inline constexpr double kMaxThinkS = 86'400;         // one think time: a day
inline constexpr double kMaxWeight = 1'000'000;      // one task's weight

// Every problem with the plan, each "FIELD: PROBLEM (got VALUE)" with the
// field named as the user writes it, e.g. "rps: must be a number > 0
// (got -5)", "tasks.products.weight: ...", "thresholds.p98_ms: ...".
// Empty means valid. Rules: 0 < rps <= kMaxRps unless unlimited or closed;
// 0 < duration <= kMaxDurationS; 0 <= ramp_up <= kMaxDurationS (a ramp
// runs ramp_up plus duration, so either may be the longer); 1 <= steps <= kMaxSteps; 0 <=
// max_vusers <= kMaxVUsers (0: the runtime chooses); closed model: 1 <= users <= kMaxUsers, not
// unlimited, wait times finite in [0, kMaxThinkS], between's min <= max,
// pacing > 0; target an http(s) URL with a host
// (http::Target::parse); at least one task; unique task names;
// 0 < weight <= kMaxWeight; a native task has a request with a known
// method, a path starting with "/" and well-formed headers; thresholds
// as plan/thresholds.h's threshold_problem() accepts them (or a declared
// custom metric's NAME.STAT, plan/custom_keys.h, judged on the whole run;
// a custom metric named like a task is refused), each message led by its
// origin when known ("shop.py:12: thresholds.checkout.p99: ...", or
// "--threshold TEXT: ..." for the command line's); 0 <= max_redirects <=
// kMaxRedirects; http_version one of "auto", "1.1", "2"; 0 <= max_streams <= kMaxStreams;
// 0 <= start_s <= kMaxDurationS. Every number must be finite. A run of
// several: each scenario by these rules, its fields named
// "scenarios.NAME.FIELD"; scenario names unique.

std::vector<std::string> validate(const Plan& plan);

// Moves the "target: ..." entries out of *errors (as validate() or
// scenario::build_plan() made them) and returns them: a bad --target is the
// command line's problem, not the scenario's.
std::vector<std::string> take_target_errors(std::vector<std::string>* errors);

}  // namespace loadpilot::plan
