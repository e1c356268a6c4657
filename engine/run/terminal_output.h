#pragma once
// Guarded writes to stdout for `loadpilot run`.
//
// The files a run writes (results, report, JUnit, CSV) matter more than
// what it prints: a stdout that cannot be written (a full device, a pipe
// whose reader has gone, as in `loadpilot run ... | head -1`) must never cost
// them, nor turn the run's verdict into a crash. `run` ignores SIGPIPE, so a
// gone reader is an EPIPE error, and prints through guard_stdout(): the
// first failure is reported once on stderr ("warning: stdout: cannot write
// (...)"), stdout is then pointed at /dev/null so that later writes neither
// fail nor throw, and the exit code stays the run's (docs/cli.md#exit-codes).
//
// Thread-safety: guard_stdout() may be called from any thread; the
// redirection happens once.
#include <functional>

namespace loadpilot::cli {

// Ignores SIGPIPE in this process (agent children get the default back,
// cluster/transport/pipe_channel.cc).
void ignore_sigpipe();

// Runs `print` (which writes to stdout) and flushes stdout. Returns false
// when stdout failed, now or before.
bool guard_stdout(const std::function<void()>& print);

}  // namespace loadpilot::cli
