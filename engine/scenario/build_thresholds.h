#pragma once
// The plan's thresholds from a scenario's description (scenario/loader.h):
// @scenario(thresholds=...), each @task(thresholds=...) as that task's
// keys ("TASK.p99_ms"), then the command line's --threshold on top. Each
// threshold remembers where it was written (plan::Threshold::origin) so that
// plan::validate() names the decorator's FILE:LINE or the flag.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "scenario/loader.h"

namespace loadpilot::scenario {

// Problems are appended to *errors, each led by the FILE:LINE of its
// decorator (or the --threshold flag) when known.
void apply_thresholds(const nlohmann::json& description, const Overrides& overrides,
                      plan::Plan* plan, std::vector<std::string>* errors);

}  // namespace loadpilot::scenario
