#pragma once
// Loads a scenario file with the embedded CPython interpreter and turns one
// of its @scenario classes into a Plan.
//
// The interpreter is Debian's CPython, started once per process. Its
// sys.path matches what `python3 FILE` would see: the scenario's folder
// first, PYTHONPATH, the active virtualenv's site-packages ($VIRTUAL_ENV),
// then the bundled `loadpilot` package (next to the binary, or the source
// tree's cli/ when run from a build folder).
//
// Thread-safety: call from one thread (the main thread) only.
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plan/plan.h"

namespace loadpilot::scenario {

// A problem with the scenario file itself: missing file, Python error while
// loading (message holds "FILE:LINE: ExcType: message"), no scenario class.
// what() is one or a few lines, ready to print; exit code 2.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ScenarioInfo {
  std::string name;
  std::string doc;  // first line of the class docstring, may be empty
  nlohmann::json description;  // raw description from the Python side
};

// Imports FILE and returns its @scenario classes in definition order.
std::vector<ScenarioInfo> load_scenarios(const std::string& file);

// Overrides from the command line, applied over the @scenario values.
struct Overrides {
  std::string target;
  std::optional<std::string> rps, duration, ramp_up, mode;
  std::optional<int> steps;
  std::optional<int> max_vusers;
  std::map<std::string, std::string> thresholds;  // --threshold KEY=VALUE
};

// Builds the Plan from a description plus overrides. Every problem found
// (bad duration text, unknown mode, bad threshold value, ...) is appended to
// *errors, each naming the field and the bad value; then plan::validate()'s
// findings are appended too. The Plan is usable only when *errors is empty.
plan::Plan build_plan(const ScenarioInfo& info, const std::string& file,
                      const Overrides& overrides, std::vector<std::string>* errors);

}  // namespace loadpilot::scenario
