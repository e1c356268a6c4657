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
//   {"type":"end","fatal":"...","blocked":B}
//                                          its run's fatal error, or "";
//                                          B: a VUser blocked its Python thread
// and reads from its fd 4 one line "go <t0>" (t0: the run's origin as
// steady_clock nanoseconds, the same clock in every process of a machine).
// stop_arrivals() sends it SIGINT, as Ctrl-C would; its stdout and stderr
// are the coordinator's. It runs in its own process group, so a Ctrl-C at
// the terminal reaches only the coordinator, which passes it on once.
//
// An agent that ends before its share of the run is done — killed, crashed,
// or stopped by a fatal error of its own — is noticed at once (its frames
// pipe reaches EOF and waitpid tells how it ended); a death without an end
// frame is printed then, one line on stderr. One that sends no frame for
// 5 s while it runs (stopped, hung) is said so, killed and counted as died.
// In its next report, its share of the schedule that it had not reported
// started is counted as dropped and, when it died, what it had in flight
// as cut off (docs/engine.md#processes); problem() tells the story after
// the run.
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

#include "load/profile.h"
#include "load/source.h"
#include "metrics/stats.h"

namespace loadpilot::agents {

struct AgentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AgentProcess : public load::Source {
 public:
  // Spawns argv (argv[0]: the executable) as agent `index` of `count`,
  // which starts the iterations k of `profile` with k mod count == index
  // (a closed-loop run has no such schedule). Throws AgentError.
  AgentProcess(std::size_t index, std::size_t count, load::Profile profile, bool closed_loop,
               const std::vector<std::string>& argv, std::function<void()> on_drained);
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
  // end frame, with what that cost (below).
  std::string problem() const;
  // After join(): a VUser blocked the agent's Python thread.
  bool python_blocked() const;
  // After join(): how an agent that ended before its share was done (or
  // died without an end frame) ended and what that cost; nullopt for one
  // that ended as it should.
  struct Loss {
    std::size_t agent = 0;  // 1-based
    pid_t pid = -1;
    std::string how;  // "was killed by SIGKILL", "exited with code 3", ...
    double at_s = 0;  // seconds into the run
    // Iterations of its share counted as dropped for it; of those, the ones
    // due before it ended, which it may have started without reporting.
    std::uint64_t dropped = 0, unreported = 0;
    // Iterations in flight at its last report whose end never came (when
    // it died without an end frame).
    std::uint64_t cut_off = 0;
  };
  std::optional<Loss> loss() const;

 private:
  void read_frames();
  void handle(const std::string& line);
  bool signal(int sig);              // false when it has ended already
  void ended_early();                // mu_ held
  std::string how_it_ended() const;  // mu_ held
  double seconds_since_start() const;
  std::uint64_t in_flight_unreported() const;  // mu_ held
  void check_silence();                        // mu_ held

  std::size_t index_;
  std::size_t count_;
  load::Profile profile_;
  bool closed_loop_;
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
  bool kill_sent_ = false;  // abort(): the coordinator ended it
  bool silent_ = false;     // it sent no frame for kSilentAfter and was ended
  std::optional<std::chrono::steady_clock::time_point> last_frame_at_;
  bool blocked_ = false;  // the end frame says a VUser blocked it
  std::optional<std::chrono::steady_clock::time_point> t0_;
  double stop_at_s_ = -1;  // when stop_arrivals() was sent
  double exit_at_s_ = 0;
  bool early_ = false;  // ended before its share was done, unasked
  // Sums of its round frames.
  std::uint64_t reported_started_ = 0, reported_finished_ = 0, reported_dropped_ = 0,
                reported_cut_off_ = 0;
  // Counted for it (see the class comment); unreported: due before its end.
  std::uint64_t lost_dropped_ = 0, lost_unreported_ = 0;
  bool lost_counted_ = false;
  // Died without an end frame: its in-flight iterations, counted cut off.
  std::uint64_t lost_cut_off_ = 0;
  bool cut_off_counted_ = false;
  std::vector<std::string> tasks_;
  metrics::IntervalStats pending_;
  std::uint64_t in_flight_ = 0;
  std::uint64_t connections_ = 0;
  std::string fatal_;
  std::string bad_frame_;
  int status_ = 0;  // waitpid status
};

}  // namespace loadpilot::agents
