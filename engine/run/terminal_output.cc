#include "run/terminal_output.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

namespace loadpilot::cli {

namespace {

std::mutex failed_mu;
std::atomic<bool> failed{false};

// Reports the failure once and makes stdout a sink, so that whatever
// prints next (on any thread) neither fails nor throws.
void give_up_on_stdout(int err) {
  std::lock_guard lock(failed_mu);
  if (failed.load()) return;
  failed.store(true);
  const std::string line = "warning: stdout: cannot write (" + std::string(std::strerror(err)) +
                           "); the rest of the terminal output is dropped, the output files are "
                           "written\n";
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDOUT_FILENO);
    ::close(null);
  }
  // What stdio still holds goes to /dev/null with the next flush.
  std::clearerr(stdout);
  std::fflush(stdout);
  std::clearerr(stdout);
}

}  // namespace

void ignore_sigpipe() { ::signal(SIGPIPE, SIG_IGN); }

bool guard_stdout(const std::function<void()>& print) {
  if (failed.load()) {
    // Already a sink: print anyway (it goes nowhere) so the caller's state
    // (a dashboard's frame count) moves on as usual.
    try {
      print();
    } catch (const std::system_error&) {
    }
    return false;
  }
  int err = 0;
  try {
    print();
    if (std::fflush(stdout) != 0) err = errno;
  } catch (const std::system_error& e) {
    err = e.code().value();
  }
  if (err == 0 && std::ferror(stdout)) err = EIO;
  if (err == 0) return true;
  give_up_on_stdout(err);
  return false;
}

}  // namespace loadpilot::cli
