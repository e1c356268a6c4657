#pragma once
// Pacer: the arrival side of a worker — when its iterations start, and with
// which intended start (docs/engine.md#pacing). The Worker sends, queues,
// drops and records; the Pacer only decides what comes due when.
//
//   OpenPacer    the open model: iteration k of the arrival curve (Profile)
//                is due when H(t) reaches k, whatever became of earlier
//                ones. This worker's share is k = index, index + count, ...
//   ClosedPacer  the closed model: users, each starting its next iteration
//                after the previous one ended and its think time passed
//                (or on its pacing slot), as many at a time as the users
//                curve asks for. This worker's users are g = index,
//                index + count, ... A closed loop (rps="max") is a closed
//                pacer too: one user per connection, no think time.
//
// No clock of its own and no I/O: every call gets "now", so tests drive a
// pacer with made-up instants (engine/tests/pacer_test.cc). Times before
// start() are meaningless.
//
// Thread-safety: none. A pacer belongs to one worker's thread.
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "load/profile.h"
#include "plan/plan.h"

namespace loadpilot::load {

using Clock = std::chrono::steady_clock;

// The user of an arrival of the open model (there are none).
inline constexpr std::uint32_t kNoUser = std::numeric_limits<std::uint32_t>::max();

struct Arrival {
  // Latency counts from here: the curve's instant (open), the pacing slot
  // (closed, constant_pacing), else the moment the user started it.
  Clock::time_point intended;
  std::uint32_t user = kNoUser;  // closed: the user's number in the run
  // closed, constant_pacing: the slot passed while the user's previous
  // iteration still ran (more than 1 ms before it ended).
  bool pacing_late = false;
};

class Pacer {
 public:
  virtual ~Pacer() = default;
  // The run's time origin; arrivals end at t0 + the profile's length.
  virtual void start(Clock::time_point t0) = 0;
  // When the next arrival is due (possibly already past), or nullopt when
  // none is until an iteration ends (closed: every user is busy) or ever.
  virtual std::optional<Clock::time_point> next_due() const = 0;
  // The next arrival due by `now`, earliest first, taken; nullopt if none.
  virtual std::optional<Arrival> take(Clock::time_point now) = 0;
  // Counts every arrival due by `now` as taken and returns how many, for
  // the caller to count as dropped: the overload path, where nothing could
  // take them (docs/engine.md#overload). A closed pacer never has a
  // backlog (a user comes due only after its iteration ended): 0.
  virtual std::uint64_t drop_due_by(Clock::time_point now) = 0;
  // An iteration of `user` ended, or was dropped, at `now`. Closed: its
  // next start is scheduled. Open: nothing.
  virtual void ended(std::uint32_t user, Clock::time_point now) = 0;
  // No arrival comes due any more (the run is stopping).
  virtual void stop() = 0;
  // Users present at `now`: closed, the users looping (in an iteration, or
  // thinking while still wanted); open, every arrival is a user who stays
  // while its iteration runs, so the iterations in flight (`in_flight`).
  virtual std::uint64_t active_users(Clock::time_point now, std::uint64_t in_flight) const = 0;
  // Whether an arrival that finds every VUser busy is dropped (open); a
  // closed model's users each have their VUser, so they wait for it.
  virtual bool drops_when_busy() const = 0;
};

class OpenPacer : public Pacer {
 public:
  OpenPacer(const Profile& profile, std::size_t index, std::size_t count);
  void start(Clock::time_point t0) override { t0_ = t0; }
  std::optional<Clock::time_point> next_due() const override;
  std::optional<Arrival> take(Clock::time_point now) override;
  std::uint64_t drop_due_by(Clock::time_point now) override;
  void ended(std::uint32_t, Clock::time_point) override {}
  void stop() override { stopped_ = true; }
  std::uint64_t active_users(Clock::time_point, std::uint64_t in_flight) const override {
    return in_flight;
  }
  bool drops_when_busy() const override { return true; }

 private:
  const Profile& profile_;
  std::size_t count_;
  Clock::time_point t0_;
  std::uint64_t next_k_;
  bool stopped_ = false;
};

class ClosedPacer : public Pacer {
 public:
  // `curve` is the number of users wanted over time (its rate read as
  // users): user g is wanted at t while curve.rate_at(t) >= g + 1, so users
  // join and leave in the order of their numbers. This pacer runs the users
  // g = index + count * j below the curve's peak. `seed` seeds the think
  // times of between(a, b).
  ClosedPacer(Profile curve, plan::WaitSpec wait, std::size_t index, std::size_t count,
              std::uint64_t seed);
  void start(Clock::time_point t0) override;
  std::optional<Clock::time_point> next_due() const override;
  std::optional<Arrival> take(Clock::time_point now) override;
  std::uint64_t drop_due_by(Clock::time_point) override { return 0; }
  void ended(std::uint32_t user, Clock::time_point now) override;
  void stop() override;
  std::uint64_t active_users(Clock::time_point now, std::uint64_t in_flight) const override;
  bool drops_when_busy() const override { return false; }

  // This pacer's users (for tests and the engine's split).
  std::size_t users() const { return users_.size(); }

 private:
  struct User {
    double due_s = 0;        // when its next iteration comes due
    double intended_s = 0;   // its pacing slot (constant_pacing)
    double last_due_s = -1;  // when its last iteration came due
    bool queued = false;     // due_s is in queue_
    bool running = false;    // an iteration in flight
    bool started = false;    // it has run an iteration
    bool pacing_late = false;
  };

  double seconds(Clock::time_point t) const;
  Clock::time_point at(double s) const;
  bool wanted(std::size_t j, double t) const;
  void enqueue(std::size_t j, double due_s, double intended_s, bool late);
  // The user waits, unwanted, until the curve wants it again.
  void park(std::size_t j, double from_s);

  Profile curve_;
  plan::WaitSpec wait_;
  std::size_t index_, count_;
  std::mt19937_64 rng_;
  Clock::time_point t0_;
  std::vector<User> users_;                           // local j: user index_ + count_ * j
  std::set<std::pair<double, std::uint32_t>> queue_;  // (due_s, j), earliest first
  bool stopped_ = false;
};

// The pacer for a worker's share of `plan`: open (the arrival curve),
// closed (the plan's users), or a closed loop (`slots` users, rps="max").
// `curve` is the engine's Profile of the plan; the pacer may keep a
// reference to it.
std::unique_ptr<Pacer> make_pacer(const plan::Plan& plan, const Profile& curve, std::size_t index,
                                  std::size_t count, std::size_t slots, std::uint64_t seed);

}  // namespace loadpilot::load
