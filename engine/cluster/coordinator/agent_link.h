#pragma once
// AgentLink: one agent of a run, as the coordinator's Engine sees it — a
// Source standing for a whole `loadpilot run` elsewhere that takes share I
// of N of the run's schedule (iterations k with k mod N == I), reached
// through a Channel (cluster/transport/channel.h): a local child process over pipes
// or a remote agent over NATS. Frames and their meaning: cluster/protocol.h.
//
// The books (docs/engine.md#processes, docs/distributed.md#faults): every
// round frame is merged once (frames carry a sequence number; a late one
// is merged when it comes, a repeated one ignored). An agent that ends
// before its share of the run is done — killed, crashed, stopped by a
// fatal error of its own — is noticed when its channel closes; an agent
// that sends nothing for `silent_after` while it runs is said so: a pipe
// agent is killed and counted as died, a NATS agent is marked lost (the
// run goes on with the others) and comes back if its frames resume. In
// the report after its end (or, for one still lost, at the end of the
// run) its share of the schedule that it had not reported started or
// dropped is counted as dropped, and what it had in flight as cut off;
// problem() and loss() tell the story after the run.
//
// Once its share is over, an agent that has not sent its end frame is
// awaited for a bounded time and then judged lost (cluster/coordinator/final_reports.h):
// report() says what it waits for (WorkerReport::notice), and the books of
// one judged lost close at once, whatever arrives later.
//
// Thread-safety: as Source. Frames arrive on the channel's thread.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cluster/coordinator/final_reports.h"
#include "cluster/transport/channel.h"
#include "load/profile.h"
#include "load/source.h"
#include "metrics/round_accumulator.h"
#include "metrics/stats.h"

namespace loadpilot::agents {

struct Frame;  // cluster/frame.h

struct AgentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AgentLink : public load::Source {
 public:
  // Agent `index` of `count` on `channel`; a closed-loop run or a closed
  // model has no schedule of iterations to share (`closed_loop`): its
  // users are split instead, and a lost agent's count is only its cut-off
  // iterations. on_drained is called once the agent has ended.
  // `end_of_run`: the wait for a last report, and the clock the link reads
  // for silence and for the end (a test's own; SteadyClock by default).
  AgentLink(std::size_t index, std::size_t count, load::Profile profile, bool closed_loop,
            std::unique_ptr<Channel> channel, std::chrono::milliseconds silent_after,
            std::function<void()> on_drained, EndOfRun end_of_run = {});
  ~AgentLink() override;
  AgentLink(const AgentLink&) = delete;
  AgentLink& operator=(const AgentLink&) = delete;

  // Waits for the hello frame and returns the agent's metric rows; throws
  // AgentError when the agent ends or fails first (its message) or
  // `timeout` passes.
  std::vector<std::string> wait_ready(std::chrono::milliseconds timeout);

  // Its round frames' measurements go into `merged` as they arrive, not
  // into its report() (the coordinator hands `merged` to the Engine,
  // load::EngineOptions::take_merged); its books stay its own. Before
  // start().
  void merge_rounds_into(std::shared_ptr<metrics::RoundAccumulator> merged);

  void start(std::chrono::steady_clock::time_point t0) override;
  void report(std::function<void(metrics::WorkerReport&&)> sink) override;
  void stop_arrivals() override;
  void cut_off() override;
  void abort() override;
  void join() override;

  std::string who() const { return channel_->who(); }
  // After join(): what went wrong in the agent, or empty — its own fatal
  // error (e.g. no on_start ever succeeded), or how it ended early and
  // what that cost (below).
  std::string problem() const;
  // After join(): a VUser blocked the agent's Python thread.
  bool python_blocked() const;
  // After join(): how an agent that ended before its share was done (died,
  // or lost and never back) ended and what that cost; nullopt for one that
  // ended as it should.
  struct Loss {
    std::size_t agent = 0;  // 1-based
    std::string who;
    long long pid = -1;  // a local agent's process id
    std::string how;     // "was killed by SIGKILL", "stopped reporting", ...
    double at_s = 0;     // seconds into the run
    // Iterations of its share counted as dropped for it; of those, the ones
    // due before it ended, which it may have started without reporting.
    std::uint64_t dropped = 0, unreported = 0;
    // Iterations in flight at its last report whose end never came.
    std::uint64_t cut_off = 0;
  };
  std::optional<Loss> loss() const;
  // Times it was marked lost and came back during the run.
  struct Absence {
    double lost_at_s = 0, back_at_s = -1;  // -1: never back
  };
  std::vector<Absence> absences() const;
  // After join(): for one that was lost and came back, with its share
  // counted in full (no loss, every round report arrived, no problem()),
  // a sentence saying so — the run survived it, and passes (a problem
  // with --strict); empty otherwise.
  std::string warning() const;

 private:
  void handle(std::string_view line, Frame* parsed);
  void closed(std::string how);
  void ended_early();                // mu_ held
  std::string how_it_ended() const;  // mu_ held
  double seconds_since_start() const;
  std::uint64_t in_flight_unreported() const;  // mu_ held
  void check_silence();                        // mu_ held
  void count_loss(metrics::WorkerReport& r);   // mu_ held
  SteadyClock::time_point now() const;
  // Its share is over and its end frame has not come: says what the run
  // waits for in *notice, or judges it lost (true: kill the channel).
  bool await_last_report(std::string* notice);  // mu_ held
  void judge_lost(std::string how);             // mu_ held

  std::size_t index_;
  std::size_t count_;
  load::Profile profile_;
  bool closed_loop_;
  std::unique_ptr<Channel> channel_;
  std::chrono::milliseconds silent_after_;
  std::function<void()> on_drained_;
  std::function<SteadyClock::time_point()> now_;
  std::chrono::milliseconds final_wait_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool exited_ = false;  // the channel closed
  bool ended_ = false;   // the end frame arrived
  bool stop_sent_ = false;
  bool kill_sent_ = false;  // abort(): the coordinator ended it
  bool silent_ = false;     // silent too long and ended (pipes), or still lost at the end
  bool lost_ = false;       // silent too long, may come back (NATS)
  std::vector<Absence> absences_;
  std::optional<std::chrono::steady_clock::time_point> last_frame_at_;
  bool blocked_ = false;  // the end frame says a VUser blocked it
  std::optional<std::chrono::steady_clock::time_point> t0_;
  double stop_at_s_ = -1;  // when stop_arrivals() was sent
  double exit_at_s_ = 0;
  bool early_ = false;             // ended before its share was done, unasked
  std::string how_;                // how the channel says it ended
  std::set<std::uint64_t> seen_;   // sequence numbers of merged rounds
  std::uint64_t rounds_sent_ = 0;  // from its end frame
  // Sums of its round frames.
  std::uint64_t reported_started_ = 0, reported_finished_ = 0, reported_dropped_ = 0,
                reported_cut_off_ = 0;
  std::uint64_t lost_dropped_ = 0, lost_unreported_ = 0;
  bool lost_counted_ = false;
  std::uint64_t lost_cut_off_ = 0;
  bool cut_off_counted_ = false;
  std::vector<std::string> tasks_;
  metrics::IntervalStats pending_;
  std::shared_ptr<metrics::RoundAccumulator> merged_;  // else pending_
  std::uint64_t in_flight_ = 0;
  std::uint64_t active_users_ = 0;  // its users present at its last report
  std::uint64_t connections_ = 0;
  std::string fatal_;
  std::string failed_;     // it could not start (e.g. its scenario did not load)
  std::string bad_frame_;  // the first malformed frame: why
  std::uint64_t bad_frames_ = 0;
  // Judged at the end of its share (final_reports.h): how, and its books
  // closed — nothing that arrives afterwards is counted.
  std::string judged_how_;
  bool books_closed_ = false;
  std::string relayed_notice_;  // the coordinator service's own notice
};

}  // namespace loadpilot::agents
