#include "run/startup_interrupt.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "run/exit_codes.h"
#include "run/stop_signals.h"

namespace loadpilot::cli {

StartupInterrupt::StartupInterrupt(std::string phase, bool quiet)
    : quiet_(quiet), phase_(std::move(phase)) {
  tty_ = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty_ >= 0 && tcgetattr(tty_, &tty_modes_) != 0) {
    close(tty_);
    tty_ = -1;
  }
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { watch(); });
}

void StartupInterrupt::set_phase(std::string phase) {
  std::lock_guard lock(mu_);
  phase_ = std::move(phase);
}

void StartupInterrupt::stop() {
  if (!thread_.joinable()) return;
  done_.store(true);
  thread_.join();
  if (tty_ >= 0) close(tty_);
  tty_ = -1;
}

void StartupInterrupt::watch() {
  const sigset_t set = stop_signals();
  const timespec tick{0, 50'000'000};
  while (!done_.load()) {
    const int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig != SIGINT && sig != SIGTERM) continue;
    if (!quiet_) {
      std::string line;
      {
        std::lock_guard lock(mu_);
        // On a terminal the "^C" echo is still on the current line.
        line = fmt::format("{}interrupted while {}\n", isatty(STDERR_FILENO) ? "\n" : "", phase_);
      }
      // The main thread may be anywhere (inside Python, holding stdio's
      // locks): write(2) directly, then end without running destructors.
      ssize_t n = write(STDERR_FILENO, line.data(), line.size());
      (void)n;
    }
    if (tty_ >= 0) tcsetattr(tty_, TCSANOW, &tty_modes_);
    std::_Exit(sig == SIGINT ? kExitSigint : kExitSigterm);
  }
}

}  // namespace loadpilot::cli
