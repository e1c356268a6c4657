#pragma once
// The run half of `loadpilot run` (docs/cli.md), after prepare_run
// (run/run_setup.h) and after a role, if any, has made the Engine ready:
// the metrics endpoint, the live view, Engine::run() with each second's
// snapshot fanned out (view, endpoint, outputs, the role's sink), then the
// summary, the files and the terminal, and the exit code.
#include <chrono>
#include <cstdio>
#include <optional>

#include "load/engine.h"
#include "run/run_config.h"
#include "run/run_setup.h"
#include "run/session.h"

namespace loadpilot::cli {

struct RunRoles {
  // The coordinator of agents, or null for a run of this process alone.
  Session* session = nullptr;
  // The coordinator service's run child: gets every snapshot and the end.
  SnapshotSink* sink = nullptr;
  // Where the ndjson stream goes, when there is one (--output ndjson or a
  // sink that reads it).
  std::FILE* json_out = stdout;
  bool ndjson = false;
  // The start instant, when someone else chose it.
  std::optional<std::chrono::steady_clock::time_point> start_at;
};

// Runs and reports; returns the exit code (docs/cli.md#exit-codes).
int run_engine(const RunArgs& args, RunSetup& setup, load::Engine& engine, const RunRoles& roles);

}  // namespace loadpilot::cli
