#pragma once
// A scenario's curve as a table (docs/scenarios.md#stages): stages= as
// written, or what its shape() method returned every 100 ms (evaluated by
// loadpilot._shape before the run). Part of build_plan().
//
// The description (loader.h) carries, beside "config":
//   "stages_at": {"line", "rows": [line of each row]} | null  (where
//                stages= is written, for messages),
//   "shape": null | {"line", "stages": [[duration_s, value], ...]}
//                 | {"line", "error": "FILE:LINE: ..."}.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "scenario/loader.h"

namespace loadpilot::scenario {

// Whether the scenario's curve is a table (stages= or shape()).
bool has_table(const nlohmann::json& description);

// Reads the table into plan->profile (mode, stages, start; then rps or
// users as its peak) and appends every problem to *errors, each naming
// FILE:LINE and the field ("stages[2].duration: ..."): a row that is not a
// (duration, target) pair, a shape() that failed, rps=/users= that cannot
// be the start, and the shorthands' keywords or command-line overrides
// that do not go with a table. Values are checked by plan::validate().
void read_table(const nlohmann::json& description, const Overrides& o, const std::string& file,
                plan::Plan* plan, std::vector<std::string>* errors);

// `error` (from plan::validate()) with "FILE:LINE: " in front when it is
// about the table: the row's line for "stages[I]...", the stages= line for
// "stages: ..." and "start: ...", the shape()'s for "shape() ...".
std::string locate_table_error(const nlohmann::json& description, const std::string& file,
                               std::string error);

}  // namespace loadpilot::scenario
