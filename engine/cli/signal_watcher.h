#pragma once
// SignalWatcher: waits for SIGINT/SIGTERM on its own thread (the signals are
// blocked in all other threads) and asks the engine to stop. A second
// signal skips the drain.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <thread>

#include "load/engine.h"

namespace loadpilot::cli {

class SignalWatcher {
 public:
  explicit SignalWatcher(load::Engine& engine) : engine_(engine) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      const timespec tick{0, 100'000'000};
      while (!done_.load()) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
          if (first_.load() == 0) first_.store(sig);
          engine_.stop();
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
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<int> first_{0};
  std::thread thread_;
};

}  // namespace loadpilot::cli
