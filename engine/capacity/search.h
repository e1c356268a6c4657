#pragma once
// Search: the strategy of a capacity search (docs/capacity.md), apart from
// any traffic. Given the outcome of each step it has asked for, it decides
// the next step's arrival rate or that the search is over, and what the
// answer is.
//
// The strategy:
//  1. Bracket: the first step runs at rps_min; while steps pass, the next
//     one runs at `growth` times the last (never above rps_max), until one
//     fails. A failure at rps_min ends the search: not found.
//  2. Bisect: between the highest rate that passed (lo) and the lowest
//     that failed (hi), at their midpoint, until (hi - lo) / lo <= precision.
//  3. Confirm: lo is run once more. If it passes again, it is the answer.
//     If it fails, it becomes hi, the next lower rate that passed becomes lo
//     (none: not found), and bisection goes on.
//  A step whose load the generator could not deliver (kGeneratorLimited)
//  ends the search at once: the target's capacity is at least lo, and the
//  generator is the limit. rps_max passing (and confirmed) ends it too:
//  the capacity is at least rps_max. The budget ends it before a step that
//  would not finish within it; the answer is then the best so far.
//
// Rates are arrival rates (iterations/s). A rate that has passed counts as
// lo only while no later step failed at it.
//
// No clock, no I/O: the caller runs each step and says how long the search
// has taken (engine/tests/capacity_search_test.cc drives it with made-up
// outcomes). Thread-safety: none (one owner).
#include <optional>
#include <string>
#include <vector>

namespace loadpilot::capacity {

struct SearchOptions {
  double rps_min = 10;
  double rps_max = 100'000;
  double precision = 0.05;  // stop bisecting when (hi - lo) / lo <= this
  double growth = 2;        // the bracket's factor from one step to the next
  double budget_s = 600;    // the whole search's time, steps included
  double step_s = 4;        // one step's length (warm-up + hold + drain), for the budget
  bool confirm = true;      // run the answer once more before giving it
};

enum class StepKind { kBracket, kBisect, kConfirm };
enum class StepOutcome {
  kPass,              // every threshold held in the hold, nothing dropped
  kFail,              // a threshold failed, or arrivals were dropped, because of the target
  kGeneratorLimited,  // the load generator (or its machine) could not deliver the rate
};

std::string_view kind_name(StepKind k);        // "bracket", "bisect", "confirm"
std::string_view outcome_name(StepOutcome o);  // "pass", "fail", "generator"

struct Step {
  double rps = 0;
  StepKind kind = StepKind::kBracket;
};

struct Answer {
  bool found = false;       // some rate passed (and, with confirm, passed again)
  double capacity = 0;      // the highest rate that passed: lo
  double failed_above = 0;  // the lowest failing rate above it: hi (0: none failed)
  double precision = 0;     // (hi - lo) / lo; 0 when nothing above failed
  bool confirmed = false;   // lo passed a confirming repeat
  // Why the search stopped: "target" (bracketed to the precision),
  // "rps_max" (rps_max passed), "generator" (a step was generator-limited),
  // "budget" (no time for another step), "rps_min" (not even rps_min held).
  std::string limit;
};

class Search {
 public:
  // Options must hold 0 < rps_min <= rps_max, precision > 0, growth > 1
  // (the caller validates user input; throws std::invalid_argument).
  explicit Search(SearchOptions options);

  // The next step, or nullopt when the search is over (then answer()).
  // `elapsed_s`: how long the search has run; no step starts that would
  // end past the budget. Call record() for a step before asking again.
  std::optional<Step> next(double elapsed_s);
  // The outcome of the step next() returned last.
  void record(StepOutcome outcome);

  bool done() const { return done_; }
  const Answer& answer() const { return answer_; }
  const SearchOptions& options() const { return options_; }

 private:
  void finish(std::string limit);

  SearchOptions options_;
  std::optional<Step> pending_;
  std::vector<double> passed_;  // rates that passed and have not failed since
  std::optional<double> lo_, hi_;
  bool confirmed_ = false;
  bool started_ = false;
  bool done_ = false;
  Answer answer_;
};

}  // namespace loadpilot::capacity
