#pragma once
// SignalWatcher: waits for SIGINT/SIGTERM on its own thread (the signals are
// blocked in all other threads) and asks the engine to stop. A second
// signal skips the drain. If the run has still not ended `grace` after the
// first signal (drain + 5 s: something is stuck), it ends the process itself, with the
// signal's exit code: one signal always ends a run (docs/cli.md#stopping-a-run).
// With keep_blocked the signals stay blocked after it, so one that comes
// while the run's outputs are written waits for EndOfRunSignals instead of
// killing the process half-way.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "load/engine.h"
#include "report/live.h"
#include "run/stop_signals.h"

namespace loadpilot::cli {

class SignalWatcher {
 public:
  // Past the drain: on_stop's last second and a stuck collection round.
  explicit SignalWatcher(load::Engine& engine, bool keep_blocked = false)
      : engine_(engine),
        grace_(engine.drain() + std::chrono::seconds(5)),
        keep_blocked_(keep_blocked) {
    set_ = block_stop_signals();
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
    if (!keep_blocked_) pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }
  int signal() const { return first_.load(); }

 private:
  load::Engine& engine_;
  std::chrono::milliseconds grace_;
  bool keep_blocked_;
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<int> first_{0};
  std::thread thread_;
};

// EndOfRunSignals: SIGINT and SIGTERM after the run has ended, while its
// output files and summary are written (docs/cli.md#stopping-a-run). The
// signals are still blocked (SignalWatcher with keep_blocked), so one that
// comes now is taken on this watcher's thread: it is noted on stderr at
// once and the writing goes on. The run's verdict is decided by then, so
// the exit code stays the run's; stop() tells `run` that a signal came, so
// that it skips the metrics linger. Should the writing not end within
// `grace` of the signal (a stdout whose reader stopped reading), the process
// ends itself with the signal's code, as SignalWatcher does for a stuck run.
// Thread-safety: construct and stop() on the main thread.
class EndOfRunSignals {
 public:
  explicit EndOfRunSignals(std::chrono::seconds grace) : grace_(grace) {
    set_ = block_stop_signals();
    thread_ = std::thread([this] { watch(); });
  }
  ~EndOfRunSignals() { stop(); }
  EndOfRunSignals(const EndOfRunSignals&) = delete;
  EndOfRunSignals& operator=(const EndOfRunSignals&) = delete;

  // Ends the watch and returns the first signal seen, or 0. The signals
  // stay blocked: a later one waits for whoever asks next (linger, or
  // take_pending_stop_signal()).
  int stop() {
    if (thread_.joinable()) {
      done_.store(true);
      thread_.join();
    }
    return first_.load();
  }

  // The message for a signal taken after the run: `what` says what was
  // still going on.
  static std::string note(int sig, const char* what) {
    return std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + " after the run ended: " + what +
           "; the exit code stays the run's\n";
  }

 private:
  void watch() {
    const timespec tick{0, 50'000'000};
    std::chrono::steady_clock::time_point first_at{};
    while (!done_.load()) {
      const int sig = sigtimedwait(&set_, nullptr, &tick);
      if ((sig == SIGINT || sig == SIGTERM) && first_.load() == 0) {
        first_.store(sig);
        first_at = std::chrono::steady_clock::now();
        // On a terminal the "^C" echo is still on the current line;
        // write(2), as stdio's lock may be held by a stuck stdout.
        const std::string line = std::string(isatty(STDERR_FILENO) ? "\n" : "") +
                                 note(sig, "finishing the output files and the summary");
        ssize_t n = write(STDERR_FILENO, line.data(), line.size());
        (void)n;
      }
      const int first = first_.load();
      if (first != 0 && !done_.load() && std::chrono::steady_clock::now() - first_at > grace_) {
        report::restore_terminal();
        std::fprintf(stderr, "error: the output was not finished within %lld s of %s; exiting\n",
                     static_cast<long long>(grace_.count()),
                     first == SIGINT ? "SIGINT" : "SIGTERM");
        std::fflush(stderr);
        std::_Exit(first == SIGINT ? 130 : 143);
      }
    }
  }

  std::chrono::seconds grace_;
  sigset_t set_;
  std::atomic<bool> done_{false};
  std::atomic<int> first_{0};
  std::thread thread_;
};

// A SIGINT or SIGTERM that is pending (blocked, not yet taken), or 0.
inline int take_pending_stop_signal() {
  const sigset_t set = stop_signals();
  const timespec now{0, 0};
  const int sig = sigtimedwait(&set, nullptr, &now);
  return sig == SIGINT || sig == SIGTERM ? sig : 0;
}

}  // namespace loadpilot::cli
