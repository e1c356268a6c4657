#pragma once
// The set-up half of `loadpilot run` (docs/cli.md): everything that is
// decided before any traffic — options checked, the scenario loaded and
// chosen, the Plan built (or, for an agent of a NATS run, read from the
// plan file its coordinator sent), every output path prepared, the Python
// VUser runtime made. `--dry-run` ends here.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/target.h"
#include "load/engine.h"
#include "plan/plan.h"
#include "run/run_config.h"
#include "run/startup_interrupt.h"
#include "scenario/loader.h"
#include "scenario/vuser_runtime.h"

namespace loadpilot::cli {

struct RunSetup {
  plan::Plan plan;
  std::optional<http::Target> target;
  // --max-connections, or the rate's default raised to one per --workers.
  std::size_t connections = 0;
  double linger_s = 0;
  // The engine's options for a run of its own (a coordinator makes them
  // its own: cluster/coordinator/coordinator.h).
  load::EngineOptions engine;
  // Local agent processes to run in: --agents N, or what --agents auto
  // chose (run/auto_agents.h), with why when it chose more than one.
  std::size_t agents = 1;
  std::string agents_why;
  // This process is agent I of N of a coordinator's run (--agent I/N).
  std::optional<AgentShare> agent;
  // Runs the plan's Python tasks; null when there are none. Outlives the
  // Engine that uses it.
  std::unique_ptr<scenario::VUserRuntime> vusers;
  // A run of several scenarios: per scenario (in plan order), the runtime
  // of its Python tasks, null for one whose tasks are all native
  // (load::EngineOptions::scenario_runtimes). Each outlives the Engine.
  std::vector<std::unique_ptr<scenario::VUserRuntime>> scenario_vusers;
  // Every runtime of the run: `vusers`, or the scenarios' own.
  std::vector<const scenario::VUserRuntime*> runtimes() const {
    std::vector<const scenario::VUserRuntime*> out;
    if (vusers) out.push_back(vusers.get());
    for (const auto& rt : scenario_vusers)
      if (rt) out.push_back(rt.get());
    return out;
  }
  // Until the run starts, Ctrl-C ends the process with "interrupted while
  // <phase>" (run/startup_interrupt.h).
  std::optional<StartupInterrupt> startup;
};

// Asks the person at the terminal which of a file's scenarios to run:
// the index of the one picked, nullopt when none was.
using ScenarioPicker = std::function<std::optional<std::size_t>(
    const std::string& title, const std::vector<std::string>& names)>;

// The scenarios of a file a run takes (indices into load_scenarios()'s
// list, in the order run), and the group they were chosen by ("" when
// not by --group).
struct Selection {
  std::vector<std::size_t> indices;
  std::string group;
};

// By --scenario (repeatable), --all or --group, the only one, or by
// asking `pick` (one scenario, a group, or all; only when stdin and stdout
// are a terminal). Nullopt with an error printed and *exit_code set when
// none can be chosen.
std::optional<Selection> choose_scenarios(const RunArgs& args,
                                          const std::vector<scenario::ScenarioInfo>& all,
                                          const ScenarioPicker& pick, int* exit_code);

// Null with *exit_code set when the run ends here: after printing
// --dry-run's plan (kExitOk), or with an error already printed. `pick` is
// asked when the file has several scenarios, none was named and stdin and
// stdout are a terminal (cli/picker.h); without it that is an error.
std::unique_ptr<RunSetup> prepare_run(const RunArgs& args, int* exit_code,
                                      const ScenarioPicker& pick = {});

// "error: MESSAGE" on stderr; returns kExitInvalid.
int fail(const std::string& message);

// A whole file's bytes; throws std::runtime_error with strerror.
std::string read_text_file(const std::string& path);

}  // namespace loadpilot::cli
