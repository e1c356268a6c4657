#pragma once
// CoordinatorWatch: a persistent agent's judgement of whether the
// coordinator of its current run is still there (docs/distributed.md#faults).
// The coordinator sends a heartbeat once a second; an agent that hears none
// for `silence` (protocol::kCoordinatorSilence) while it reaches the NATS
// server stops its load rather than load a target no one watches.
//
// Two things change the question:
//
// - A gap in the agent's own clock: the agent checks every 250 ms, so a
//   check that comes seconds after the last one means the agent itself was
//   suspended (SIGSTOP, a paused machine) — the heartbeats sent meanwhile
//   may still be on their way. Then it asks first (the caller sends a ping,
//   which a coordinator answers with a heartbeat) and gives up only if no
//   heartbeat comes within `grace`.
// - The agent's own link to the NATS server being down (check()'s
//   `linked` false): the silence is its own link's, not a sign that the
//   coordinator is gone, and the target may well be reachable. It keeps
//   its schedule (kUnlinked) for up to `unlinked_limit` without word from
//   its coordinator, its rounds kept to be sent again; once it reaches the
//   server again it asks, as after a pause, and gives up only if no
//   heartbeat comes within `grace`. Cut off for `unlinked_limit` without
//   word, it gives up: no agent runs unwatched for longer (than that and
//   the grace).
//
// Thread-safety: beat() from any thread; check() from one thread.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace loadpilot::agents {

class CoordinatorWatch {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict {
    kFine,      // heard from it recently
    kAsk,       // just resumed from a pause or back on the server: ask it (once), then wait
    kWait,      // asked, waiting for an answer within the grace
    kUnlinked,  // silent, but cut off from the server itself: keep the schedule
    kGiveUp,    // silent too long: stop the load
  };

  CoordinatorWatch(Clock::time_point now, Clock::duration silence, Clock::duration gap,
                   Clock::duration grace, Clock::duration unlinked_limit)
      : silence_(silence),
        gap_(gap),
        grace_(grace),
        unlinked_limit_(unlinked_limit),
        last_beat_(ns(now)),
        last_check_(now) {}

  void beat(Clock::time_point now) { last_beat_ = ns(now); }

  // `linked`: the agent reaches the NATS server now.
  Verdict check(Clock::time_point now, bool linked = true) {
    const bool paused = now - last_check_ > gap_;
    last_check_ = now;
    const std::int64_t beat = last_beat_.load();
    const auto quiet = now - at(beat);
    if (!linked) {
      unlinked_ = true;
      if (quiet >= unlinked_limit_) return Verdict::kGiveUp;
      return quiet >= silence_ ? Verdict::kUnlinked : Verdict::kFine;
    }
    const bool relinked = unlinked_;
    unlinked_ = false;
    if (paused || relinked) {
      resumed_at_ = ns(now);
      asking_ = true;
      if (quiet >= silence_) return Verdict::kAsk;
    }
    if (asking_ && beat >= resumed_at_) asking_ = false;  // an answer came
    if (quiet < silence_) return Verdict::kFine;
    if (asking_ && now - at(resumed_at_) < grace_) return Verdict::kWait;
    return Verdict::kGiveUp;
  }

  double silent_s(Clock::time_point now) const {
    return std::chrono::duration<double>(now - at(last_beat_.load())).count();
  }

 private:
  static std::int64_t ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
  static Clock::time_point at(std::int64_t ns) {
    return Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
  }

  Clock::duration silence_, gap_, grace_, unlinked_limit_;
  std::atomic<std::int64_t> last_beat_;
  Clock::time_point last_check_;
  std::int64_t resumed_at_ = 0;
  bool asking_ = false;
  bool unlinked_ = false;  // the last check found it cut off from the server
};

}  // namespace loadpilot::agents
