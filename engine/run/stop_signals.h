#pragma once
// SIGINT and SIGTERM: the signals that stop a run, an agent or the
// coordinator service (docs/cli.md#stopping-a-run). Each of those blocks
// them in every thread and takes them on one thread of its own with
// sigtimedwait; a thread started after the block inherits it.
#include <pthread.h>
#include <signal.h>

namespace loadpilot::cli {

inline sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Blocks them in the calling thread; returns the set, for sigtimedwait.
inline sigset_t block_stop_signals() {
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace loadpilot::cli
