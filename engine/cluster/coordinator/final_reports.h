#pragma once
// The end of a run as a coordinator waits for its agents' last reports
// (docs/distributed.md#faults). An agent that runs reports once a second,
// through its drain and its on_stop too, until its end frame. So once its
// share is over — the profile has ended, or the coordinator sent stop — an
// agent that has not sent its end frame and has been silent for
// `final_wait` is not coming back in time: it is judged lost then, not
// after --agent-lost-after (which may be longer than the run). One that
// still reports is waited for up to the end of the drain, and judged lost
// if its end frame has not come by then.
//
// LastReportWait says, for one agent at one instant, which of these holds;
// AgentLink (cluster/coordinator/agent_link.h) acts on it. EndOfRun carries the wait and
// the clock the link reads, so that a test can drive both.
//
// Thread-safety: pure functions and plain values.
#include <chrono>
#include <functional>
#include <string>

namespace loadpilot::agents {

using SteadyClock = std::chrono::steady_clock;

// How long an agent may be silent once its share is over before it is
// judged lost: three of its once-a-second reports missed in a row.
inline constexpr std::chrono::milliseconds kFinalReportWait{3000};

struct EndOfRun {
  std::chrono::milliseconds final_wait = kFinalReportWait;
  // The link's clock; null: SteadyClock::now.
  std::function<SteadyClock::time_point()> now;
};

struct LastReportWait {
  enum class State {
    kRunning,  // its share is not over yet
    kWaiting,  // over; it was heard from within final_wait
    kLost,     // over, and silent for final_wait
  };
  State state = State::kRunning;
  double silent_s = 0;  // since its last frame (or the start)
  double left_s = 0;    // kWaiting: until it is judged lost unless it reports

  // `over`: when its share ended (the profile's end, or the stop sent);
  // `last_heard`: its last frame, or the run's start.
  static LastReportWait check(SteadyClock::time_point now, SteadyClock::time_point over,
                              SteadyClock::time_point last_heard,
                              std::chrono::milliseconds final_wait);
};

// What the live views show while an agent's last report is awaited:
// "waiting for agent a2 (2 of 2)'s last report, 2 s".
std::string waiting_notice(const std::string& who, double left_s);
// What the live views show while an agent is lost mid-run: "agent a2 (2
// of 2) lost since 4.1 s into the run (6 s); its share counts if it comes
// back".
std::string lost_notice(const std::string& who, double lost_at_s, double now_s);
// How an agent judged lost at the end ended (Loss::how, `ended` in the
// results): "was lost at the end (silent after 9.1 s)".
std::string lost_at_the_end(double last_heard_s);
// The same for one that still reported but sent no end frame by the end
// of the drain.
std::string unfinished_at_the_end();

}  // namespace loadpilot::agents
