#pragma once
// Loads a scenario file with the embedded CPython interpreter and turns one
// of its @scenario classes into a Plan.
//
// The interpreter is Debian's CPython, started once per process. Its
// sys.path matches what `python3 FILE` would see: the scenario's folder
// first, PYTHONPATH, the active virtualenv's site-packages ($VIRTUAL_ENV),
// then the bundled `loadpilot` package: $LOADPILOT_PYTHON_DIR when set,
// else <binary's folder>/../share/loadpilot/python when it exists, else the
// source tree's cli/ (kPythonDir). See scenario/interpreter.h.
//
// Every task runs as Python on every iteration (scenario/vuser_runtime.h)
// unless loadpilot._describe.native_proof() shows from its source that it
// always sends one fixed request; only such a task is called once while
// loading, with a recording client, and its request is sent natively. Each
// task's "runtime" and "reason" say which path it takes and why.
//
// Thread-safety: call from one thread (the main thread) only.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace loadpilot::scenario {

// A problem with the scenario file itself: missing file, Python error while
// loading (message holds "FILE:LINE: ExcType: message"), no scenario class.
// what() is one or a few lines, ready to print; exit code 2.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A fault of LoadPilot itself while loading, not of the scenario: its
// bundled Python package missing or broken, the interpreter not starting,
// an unreadable description. `loadpilot` reports it as an internal error
// (exit 3, docs/cli.md).
struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws ScenarioError unless FILE names a regular file (symbolic links
// followed): missing, a directory, a FIFO, a device or a socket, each
// named in the message. Never opens FILE.
void check_scenario_path(const std::string& file);

// description is what loadpilot._describe.describe_file() produced for the
// class:
//   {"name", "doc", "line",
//    "config": {"rps", "duration", "ramp_up", "mode", "steps", "thresholds",
//               "max_vusers", "users",
//               "wait": null | {"kind", "min_s", "max_s"},
//               "follow_redirects", "max_redirects", "stages" (only when given)}
//              (as written; non-JSON values as their repr()),
//    "tasks": [{"name", "weight", "line", "is_async",
//               "runtime": "native" | "python", "reason",
//               "requests": [{"method", "path", "headers": [[k, v]], "body", "name"}]
//                           (native only),
//               "error": null | "FILE:LINE: ExcType: message" (native only)}],
//    "defaults": [config keys the user left at their default],
//    "thresholds_at": "FILE:LINE" of @scenario (tasks: of their @task, with
//                     "thresholds": their thresholds= or null),
//    "stages_at", "shape" (only for a scenario with stages= or a shape()
//    method: scenario/table.h),
//    "has_on_start", "has_on_stop", "checks": ["check_..."],
//    "custom_metrics": [{"name", "kind", "where": "FILE:LINE"}] (only when the
//                      file declared some: loadpilot.metrics)}
struct ScenarioInfo {
  std::string name;
  std::string doc;             // first line of the class docstring, may be empty
  nlohmann::json description;  // raw description from the Python side
};

// Which rows of the scenario's test data (loadpilot.data, read while it is
// imported) this process hands out: it is agent `index` (from 0) of `count`,
// and `seed` is the run's --seed, which the "random" and "shuffle" orders
// draw from (docs/scenarios.md#test-data-from-csv-files).
struct DataShare {
  std::size_t index = 0;
  std::size_t count = 1;
  std::uint64_t seed = 1;
};

// Imports FILE and returns its @scenario classes in definition order
// (classes defined in FILE only). Checks FILE with check_scenario_path()
// first. Throws ScenarioError for the scenario's own problems (a data file
// it reads that cannot be used among them) and InternalError for
// LoadPilot's; never lets a Python error or C++ exception of another type
// escape.
std::vector<ScenarioInfo> load_scenarios(const std::string& file, const DataShare& share = {});

// After load_scenarios(file): the Python source files of the scenario's
// folder (and below) that importing it loaded and the data files it read
// there with loadpilot.data, `file` itself first, as paths relative to that
// folder — what an agent elsewhere needs to import it the same way
// (docs/distributed.md#the-bundle). Throws InternalError.
std::vector<std::string> local_module_files(const std::string& file);

// Overrides from the command line, applied over the @scenario values.
// rps is number text or "max"/"unlimited" (closed loop: profile.unlimited);
// durations use plan::parse_duration(); mode is a mode name. users applies
// to a closed model (users=) only, rps to an open one only.
struct Overrides {
  std::string target;
  std::optional<std::string> rps, duration, ramp_up, mode;
  std::optional<int> steps;
  std::optional<int> max_vusers;
  std::optional<int> users;
  std::optional<std::string> http_version;        // --http-version
  std::map<std::string, std::string> thresholds;  // --threshold KEY=VALUE
  // KEY -> "--threshold TEXT" as typed, to name the flag in its problems.
  std::map<std::string, std::string> threshold_flags;
};

// Builds the Plan from a description plus overrides. Every problem found
// (bad duration text, unknown mode, bad threshold value, ...) is appended to
// *errors as "FIELD: PROBLEM (got VALUE)" with fields named as the user
// wrote them ("rps", "tasks.products.weight"). A ramp_up left at its
// default (10 s) is capped at the duration. A closed model (users=) whose
// mode was left at its default takes "step" when steps are given, "ramp"
// when ramp_up is, else "constant"; its max_vusers is its users (an
// agent's --max-vusers: its share of them). A proven-fixed task that
// failed while recording gives "tasks.NAME: FILE:LINE: ExcType: message". Then
// plan::validate()'s findings are appended too. The Plan is usable only
// when *errors is empty.
plan::Plan build_plan(const ScenarioInfo& info, const std::string& file, const Overrides& overrides,
                      std::vector<std::string>* errors);

}  // namespace loadpilot::scenario
