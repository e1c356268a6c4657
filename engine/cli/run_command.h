#pragma once
// `loadpilot run`: scenario file -> Plan -> Engine -> live view -> summary,
// results file and exit code. The options: run/run_config.h.
#include "run/run_config.h"

namespace loadpilot::cli {

int run_command(const RunArgs& args);

}  // namespace loadpilot::cli
