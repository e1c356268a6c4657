#pragma once
// StartupInterrupt: Ctrl-C and SIGTERM while `loadpilot run` prepares a run
// (importing the scenario, building the plan, starting the Python runtime
// and agent processes, binding the metrics endpoint).
//
// Nothing has been sent yet, so there is nothing to stop gracefully, and the
// scenario's module-level code may block where the engine cannot reach it
// (time.sleep, a socket, an endless loop). On SIGINT or SIGTERM the process
// therefore ends at once: one line "interrupted while PHASE" on stderr
// (unless quiet) and exit 130 or 143 (docs/cli.md), no traceback. The
// controlling terminal's modes are put back first, as the constructor found
// them (the scenario picker and Python code may change them).
//
// Contract: the constructor blocks SIGINT and SIGTERM in the calling thread
// (threads started afterwards inherit that) and waits for them on a thread
// of its own. stop() (also the destructor) ends the wait and leaves both
// signals blocked, so one that arrives later stays pending for the run's
// SignalWatcher rather than killing the process.
// Thread-safety: set_phase() and stop() from the thread that constructed it.
#include <termios.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

namespace loadpilot::cli {

class StartupInterrupt {
 public:
  // `phase` completes "interrupted while ...", e.g. "loading checkout.py".
  // A quiet one (an agent process: its coordinator speaks) prints nothing.
  StartupInterrupt(std::string phase, bool quiet);
  ~StartupInterrupt() { stop(); }
  StartupInterrupt(const StartupInterrupt&) = delete;
  StartupInterrupt& operator=(const StartupInterrupt&) = delete;

  void set_phase(std::string phase);
  void stop();

 private:
  void watch();

  const bool quiet_;
  int tty_ = -1;  // the controlling terminal, when there is one
  termios tty_modes_{};
  std::mutex mu_;
  std::string phase_;  // guarded by mu_
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace loadpilot::cli
