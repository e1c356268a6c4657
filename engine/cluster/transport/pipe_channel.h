#pragma once
// PipeChannel: an agent that is a child process of this one — a
// `loadpilot run ... --agent I/N` (docs/engine.md#processes), spawned by a
// `--agents N` coordinator, or by a persistent `loadpilot agent` for each
// run it is given (docs/distributed.md).
//
// The child writes its frames (cluster/protocol.h), one JSON line each, to
// its fd 3 and reads control lines from its fd 4: "go <t0>", t0 the run's
// origin as steady_clock nanoseconds (one clock for every process of a
// machine). stop() is a SIGINT, as Ctrl-C would be; kill() a SIGKILL. The
// child's stdout is this process's; its stderr too, and when `keep_stderr`
// is set the last 16 KiB of it are also kept for stderr_tail() (a child
// that fails to load its scenario says why there).
//
// `own_group`: the child runs in a process group of its own, so a Ctrl-C
// at the terminal reaches only this process, which passes it on once.
// Without it, the child shares this process's group (and its fate when the
// group is stopped or killed).
//
// Thread-safety: as Channel. A reader thread per child delivers its frames.
#include <sys/types.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/transport/channel.h"

namespace loadpilot::agents {

struct PipeChannelOptions {
  std::vector<std::string> argv;  // argv[0]: the executable
  std::size_t index = 0;          // for who(): agent index+1 of count
  std::size_t count = 1;
  bool own_group = true;
  bool keep_stderr = false;
  std::string cwd;  // empty: this process's
};

class PipeChannel : public Channel {
 public:
  // Spawns the child; throws std::runtime_error when it cannot.
  explicit PipeChannel(PipeChannelOptions options);
  ~PipeChannel() override;
  PipeChannel(const PipeChannel&) = delete;
  PipeChannel& operator=(const PipeChannel&) = delete;

  void open(std::function<void(std::string_view)> on_line,
            std::function<void(std::string)> on_closed) override;
  void go(std::chrono::steady_clock::time_point t0) override;
  void stop() override;
  void kill() override;
  void join() override;
  std::string who() const override;
  bool ends_when_silent() const override { return true; }
  long long process_id() const override { return pid_; }

  pid_t pid() const { return pid_; }
  // What the child wrote to stderr, its last 16 KiB (keep_stderr).
  std::string stderr_tail() const;
  // Sends a signal unless the child has ended; false when it has.
  bool signal(int sig);

 private:
  void read_frames(std::function<void(std::string_view)> on_line,
                   std::function<void(std::string)> on_closed);
  void read_stderr();

  PipeChannelOptions options_;
  pid_t pid_ = -1;
  int frames_fd_ = -1;   // read end of the child's fd 3
  int control_fd_ = -1;  // write end of the child's fd 4
  int stderr_fd_ = -1;   // read end of the child's fd 2 (keep_stderr)
  std::thread reader_, stderr_reader_;
  mutable std::mutex mu_;
  bool exited_ = false;
  std::string stderr_tail_;
};

// "was killed by SIGKILL", "exited with code 3": a waitpid status in words.
std::string describe_exit(int status);

}  // namespace loadpilot::agents
