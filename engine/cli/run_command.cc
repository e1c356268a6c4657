#include "cli/run_command.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/find_command.h"
#include "cli/picker.h"
#include "cluster/agent/agent_child.h"
#include "cluster/coordinator/coordinator.h"
#include "cluster/service/serve_child.h"
#include "load/engine.h"
#include "run/run_engine.h"
#include "run/run_setup.h"
#include "run/terminal_output.h"

namespace loadpilot::cli {

// `run` picks its role: set-up (run/run_setup.h), then an agent process
// (--agent I/N) runs its share for its coordinator
// (cluster/agent/agent_child.h); any other run goes to run_engine
// (run/run_engine.h), with a Coordinator as its Session when it has agents
// and the coordinator service's pipes as its sink when it is the
// service's run child (cluster/service/serve_child.h).
int run_command(const RunArgs& args) {
  // A reader of stdout that goes away is an EPIPE for guard_stdout, not a
  // death that loses the output files.
  ignore_sigpipe();
  int code = kExitOk;
  std::unique_ptr<RunSetup> setup = prepare_run(args, &code, pick_on_terminal);
  if (!setup) return code;
  // @scenario(mode="find"): a capacity search (docs/capacity.md).
  if (setup->plan.find_spec && args.agent.empty() && !args.serve_child)
    return run_find_scenario(args, std::move(setup));
  load::EngineOptions eo = setup->engine;
  std::unique_ptr<Coordinator> coordinator;
  std::optional<load::Engine> engine;
  try {
    coordinator = Coordinator::make(args, *setup);
    if (coordinator) coordinator->configure(eo);
    engine.emplace(setup->plan, *setup->target, eo, coordinator ? nullptr : setup->vusers.get());
  } catch (const CoordinatorError& e) {
    return fail(e.what());
  } catch (const agents::AgentError& e) {
    return fail(e.what());
  }
  if (setup->agent) {
    setup->startup.reset();  // the run's own signal handling takes over
    return run_as_agent(*engine, setup->vusers.get());
  }
  RunRoles roles;
  roles.session = coordinator.get();
  roles.ndjson = args.output == "ndjson";
  try {
    if (coordinator) coordinator->wait_ready(*engine, *setup->startup);
  } catch (const SessionError& e) {
    return fail(e.what());
  }
  // The coordinator service's run process reports on fd 3 and starts when
  // the service says go.
  std::unique_ptr<ServeChild> serve_child;
  if (args.serve_child) {
    serve_child = ServeChild::open();
    if (!serve_child || !coordinator || !coordinator->external())
      return fail("--serve-child is internal to `loadpilot coordinator --serve`");
    roles.start_at = serve_child->hello_and_wait(engine->collector().task_names(),
                                                 coordinator->start_lead(), coordinator->count());
    if (!roles.start_at) return fail("the coordinator service went away before the start");
    roles.sink = serve_child.get();
    roles.json_out = serve_child->out();
    roles.ndjson = true;
  }
  return run_engine(args, *setup, *engine, roles);
}

}  // namespace loadpilot::cli
