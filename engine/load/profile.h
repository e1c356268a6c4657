#pragma once
// Profile: the arrival curve of a run. r(t) is the target rate of task
// iterations per second; H(t) = integral of r over [0, t] is how many
// iterations are due by time t. Iteration k (k = 0, 1, ...) is due at the
// time H first reaches k, so over any window the number started is exact to
// +-1 and there are no bursts at tick edges.
//
// A profile is a list of segments with linear rate (a constant segment has
// equal start and end rates), so H is piecewise quadratic and inverted in
// closed form. Immutable after construction; safe to share across threads.
//
// A closed model's profile is the same curve read as a number of users:
// r(t) is how many users the run wants at t (docs/engine.md#closed-model),
// and H has no meaning there.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace loadpilot::load {

struct Segment {
  double duration_s;
  double rate_start;
  double rate_end;
  std::string phase;  // "ramp-up", "steady", "step 2/5", "spike", ...
};

class Profile {
 public:
  explicit Profile(std::vector<Segment> segments);
  static Profile from_spec(const plan::ProfileSpec& spec);
  // A scenario's curve in its run: from_spec(plan.profile) after
  // plan.start_s seconds of rate 0 (phase "waiting"). A run of several
  // scenarios: the sum of theirs (a run's total rate, or users).
  static Profile of(const plan::Plan& plan);
  // The curve whose rate is the sum of PARTS' rates at every instant,
  // lasting as long as the longest (phase "running").
  static Profile sum(const std::vector<Profile>& parts);

  double total_s() const { return total_s_; }
  double rate_at(double t) const;  // r(t); 0 outside [0, total)
  double due_by(double t) const;   // H(t)
  double total_iterations() const { return due_by(total_s_); }
  // The largest rate of the curve (a closed model's peak of users).
  double peak_rate() const;
  // The time iteration k is due, or nullopt when the run ends first.
  std::optional<double> time_of(std::uint64_t k) const;
  // How many iterations are due by `t`: the k with time_of(k) <= t (all of
  // them past the end).
  std::uint64_t count_due_by(double t) const;
  // The first time t >= from at which r(t) >= level (closed model: when
  // user level-1 is wanted), or nullopt when that does not happen before
  // the run ends. Levels are compared with a relative tolerance of 1e-9,
  // so a ramp reaching exactly `level` counts.
  std::optional<double> first_at_least(double level, double from) const;
  std::string phase_at(double t) const;
  const std::vector<Segment>& segments() const { return segments_; }

 private:
  std::vector<Segment> segments_;
  std::vector<double> start_t_;  // start time of each segment
  std::vector<double> start_h_;  // H at the start of each segment
  double total_s_ = 0;
};

}  // namespace loadpilot::load
