#pragma once
// Session: what a role adds to a run of the engine in this process
// (docs/architecture.md#where-each-role-lives). A run on its own has none.
// A coordinator (cluster/coordinator/coordinator.h) is one: its agents are
// the Engine's sources; it waits for them before the start, and adds their
// problems and results after the end.
//
// Order of calls, all on the run's main thread except where said:
// configure() before the Engine is made; wait_ready() once it is; then
// describe(), attach(&engine), set_start() just before Engine::run(),
// attach(nullptr) after it; then problems(), python_blocked(),
// add_results() and print_after_summary().
//
// SnapshotSink: one more receiver of each second's snapshot besides the
// live view, the metrics endpoint and the outputs (the coordinator
// service's run child streams them to the service).
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "load/engine.h"
#include "metrics/snapshot.h"
#include "report/live.h"
#include "run/startup_interrupt.h"

namespace loadpilot::cli {

// Why a session cannot start (exit code 2, the message printed as is).
struct SessionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Session {
 public:
  virtual ~Session() = default;

  // Makes the engine's options this role's (before the Engine is made).
  virtual void configure(load::EngineOptions& eo) = 0;
  // After the Engine exists, before anything is sent: returns when the run
  // can start; throws SessionError when it cannot.
  virtual void wait_ready(const load::Engine& engine, StartupInterrupt& startup) = 0;
  // The live view's header: how many agents, how many workers.
  virtual void describe(report::LiveHeader& header) const = 0;
  // The engine to stop when the role cannot go on (null after the run).
  virtual void attach(load::Engine* engine) = 0;
  // Sets the run's start far enough ahead for every part of it.
  virtual void set_start(load::Engine& engine) const = 0;
  // After the run: what went wrong beyond this process.
  virtual std::vector<std::string> problems() const = 0;
  // After the run: what it survived beyond this process and should be
  // known (Summary::warnings); problems with --strict.
  virtual std::vector<std::string> warnings() const { return {}; }
  // A part of the run found VUser code blocking its Python thread.
  virtual bool python_blocked() const = 0;
  virtual void add_results(nlohmann::json& results) const = 0;
  // Lines after the summary (nothing by default).
  virtual void print_after_summary(std::FILE* out) const = 0;
};

class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // On the engine's collector thread, once a second; false stops the run
  // (whoever it reports to has gone).
  virtual bool on_snapshot(const load::Engine& engine, const metrics::Snapshot& s) = 0;
  // After the run, with the problems the summary will list.
  virtual void end(const std::vector<std::string>& problems, bool python_blocked) = 0;
};

}  // namespace loadpilot::cli
