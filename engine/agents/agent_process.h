#pragma once
// AgentProcess: one local agent — a child `loadpilot run ... --agent I/N`
// that takes share I of N of the run's schedule in its own process, with
// its own Python interpreter and thread (DESIGN §5: Python scales past one
// core through processes). To the coordinator's Engine it is a Source like
// a worker.
//
// Protocol (JSON lines): the child writes frames to its fd 3 —
//   {"type":"hello","tasks":[...]}        ready; its metric rows
//   {"type":"round","stats":{...},"in_flight":N,"connections":N}
//                                          once a second (IntervalStats JSON)
//   {"type":"end","fatal":"..."}           its run's fatal error, or ""
// and reads from its fd 4 one line "go <t0>" (t0: the run's origin as
// steady_clock nanoseconds, the same clock in every process of a machine).
// stop_arrivals() sends it SIGINT, as Ctrl-C would; its stdout and stderr
// are the coordinator's. It runs in its own process group, so a Ctrl-C at
// the terminal reaches only the coordinator, which passes it on once.
//
// Thread-safety: as Source. A reader thread per agent parses its frames.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "load/source.h"
#include "metrics/stats.h"

namespace loadpilot::agents {

struct AgentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AgentProcess : public load::Source {
 public:
  // Spawns argv (argv[0]: the executable). Throws AgentError.
  AgentProcess(std::size_t index, const std::vector<std::string>& argv,
               std::function<void()> on_drained);
  ~AgentProcess() override;
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Waits for the hello frame and returns the agent's metric rows; throws
  // AgentError when the child ends first or `timeout` passes.
  std::vector<std::string> wait_ready(std::chrono::seconds timeout);

  void start(std::chrono::steady_clock::time_point t0) override;
  void report(std::function<void(metrics::WorkerReport&&)> sink) override;
  void stop_arrivals() override;
  void abort() override;
  void join() override;

  // After join(): what went wrong in the agent, or empty — its own fatal
  // error (e.g. no on_start ever succeeded), or how it ended without an
  // end frame.
  std::string problem() const;

 private:
  void read_frames();
  void handle(const std::string& line);
  void signal(int sig);

  std::size_t index_;
  std::function<void()> on_drained_;
  pid_t pid_ = -1;
  int frames_fd_ = -1;   // read end of the child's fd 3
  int control_fd_ = -1;  // write end of the child's fd 4
  std::thread reader_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool exited_ = false;
  bool ended_ = false;  // the end frame arrived
  bool stop_sent_ = false;
  std::vector<std::string> tasks_;
  metrics::IntervalStats pending_;
  std::uint64_t in_flight_ = 0;
  std::uint64_t connections_ = 0;
  std::string fatal_;
  std::string bad_frame_;
  int status_ = 0;  // waitpid status
};

}  // namespace loadpilot::agents
