#pragma once
// `loadpilot find`'s options (docs/capacity.md); the search itself:
// capacity/find_run.h.
#include "capacity/find_run.h"

namespace CLI {
class App;
}

namespace loadpilot::cli {

void add_find_command(CLI::App& app, FindArgs& a);

}  // namespace loadpilot::cli
