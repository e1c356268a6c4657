#pragma once
// Stages: every profile as one list of pieces of the curve
// (docs/scenarios.md#stages). The shorthands (ramp, constant, step, spike),
// a stages= table and a shape() callback's table all become a list of
// Stage, and load::Profile builds the arrival curve from that list only,
// so there is one code path from a plan to the instants iterations start.
//
// Pure functions of the plan; no state.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace loadpilot::plan {

// One piece of the curve. A linear stage moves from where the previous one
// ended (the profile's start for the first) to `target` over duration_s; a
// held stage jumps to `target` and stays there (the shorthands' windows, a
// shape's 100 ms steps).
struct Stage {
  double duration_s = 0;
  double target = 0;
  bool hold = false;
  std::string phase;  // as runs show it: "ramp-up", "step 2/5", "stage 3/4", "shape"
};

// Bounds of a table. The plan, stages and all, travels to agents in one
// message (a NATS server's default limit is 1 MB): 20,000 stages of
// [seconds, target] stay well under it.
inline constexpr std::size_t kMaxStages = 20'000;
// shape() is called every kShapeStepS seconds, and must end (return None)
// within kMaxShapeS: a shape that never ends is refused before the run.
inline constexpr double kShapeStepS = 0.1;
inline constexpr double kMaxShapeS = 86'400;

// A running sum without the drift of adding many small terms (Neumaier's
// compensated sum): 1,200 shape steps of 0.1 s last 120 s, not
// 119.99999999999746, and the iterations the run plans are the table's.
class Sum {
 public:
  void add(double x);
  double value() const { return sum_ + carry_; }

 private:
  double sum_ = 0, carry_ = 0;
};

// The profile as stages, for every mode (unlimited: none).
std::vector<Stage> stages_of(const ProfileSpec& spec);

// The largest value a table's curve reaches (its start included).
double table_peak(const ProfileSpec& spec);

// After a table was read: rps (open) or users (closed) become the table's
// peak, duration_s its length and ramp_up_s 0, so what reads those fields
// (the summary's target rate, a closed model's users and their split
// between agents) sees the table. `closed` says which model the table is.
void settle_table(ProfileSpec* spec, bool closed);

// Appends the table's problems to *errors, each "FIELD: PROBLEM (got
// VALUE)": "stages" (none, too many, too long in all, nothing but zeros),
// "stages[I].duration" (> 0 and finite), "stages[I].target" (>= 0, at most
// kMaxRps or, closed, kMaxUsers and whole), "start" likewise. A shape's
// stages are named by their time instead: "shape() at 12.3s".
void validate_table(const ProfileSpec& spec, std::vector<std::string>* errors);

// The table as the plan JSON carries it: [[duration_s, target], ...].
nlohmann::json stages_to_json(const std::vector<StageSpec>& stages);
// Throws PlanError naming "profile.stages[I]" for anything but that shape.
std::vector<StageSpec> stages_from_json(const nlohmann::json& j);

}  // namespace loadpilot::plan
