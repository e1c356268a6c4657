#pragma once
// SignalWatcher: waits for SIGINT/SIGTERM on its own thread (the signals are
// blocked in all other threads) and asks the engine to stop. A second
// signal skips the drain. If the run has still not ended `grace` after the
// first signal (drain + 5 s: something is stuck), it ends the process itself, with the
// signal's exit code: one signal always ends a run (docs/cli.md#stopping-a-run).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "load/engine.h"
#include "report/live.h"

namespace loadpilot::cli {

class SignalWatcher {
 public:
  // Past the drain: on_stop's last second and a stuck collection round.
  explicit SignalWatcher(load::Engine& engine)
      : engine_(engine), grace_(engine.drain() + std::chrono::seconds(5)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      const timespec tick{0, 100'000'000};
      std::chrono::steady_clock::time_point first_at{};
      while (!done_.load()) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
          if (first_.load() == 0) {
            first_.store(sig);
            first_at = std::chrono::steady_clock::now();
          }
          engine_.stop();
        }
        const int first = first_.load();
        if (first != 0 && !done_.load() && std::chrono::steady_clock::now() - first_at > grace_) {
          // Out of the dashboard's alternate screen, so the message stays.
          report::restore_terminal();
          std::fprintf(stderr,
                       "error: the run did not end within %.1f s of %s; exiting without "
                       "results\n",
                       std::chrono::duration<double>(grace_).count(),
                       first == SIGINT ? "SIGINT" : "SIGTERM");
          std::fflush(stderr);
          std::_Exit(first == SIGINT ? 130 : 143);
        }
      }
    });
  }
  ~SignalWatcher() {
    done_.store(true);
    thread_.join();
    pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }
  int signal() const { return first_.load(); }

 private:
  load::Engine& engine_;
  std::chrono::milliseconds grace_;
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<int> first_{0};
  std::thread thread_;
};

}  // namespace loadpilot::cli
