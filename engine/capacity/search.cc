#include "capacity/search.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace loadpilot::capacity {

std::string_view kind_name(StepKind k) {
  switch (k) {
    case StepKind::kBracket:
      return "bracket";
    case StepKind::kBisect:
      return "bisect";
    case StepKind::kConfirm:
      return "confirm";
  }
  return "?";
}

std::string_view outcome_name(StepOutcome o) {
  switch (o) {
    case StepOutcome::kPass:
      return "pass";
    case StepOutcome::kFail:
      return "fail";
    case StepOutcome::kGeneratorLimited:
      return "generator";
  }
  return "?";
}

Search::Search(SearchOptions options) : options_(options) {
  const SearchOptions& o = options_;
  if (!(o.rps_min > 0) || !(o.rps_max >= o.rps_min) || !std::isfinite(o.rps_max))
    throw std::invalid_argument("capacity search: needs 0 < rps_min <= rps_max");
  if (!(o.precision > 0) || !(o.growth > 1) || !(o.step_s > 0) || !(o.budget_s > 0))
    throw std::invalid_argument("capacity search: needs precision > 0, growth > 1, step > 0");
}

std::optional<Step> Search::next(double elapsed_s) {
  if (done_) return std::nullopt;
  if (pending_) throw std::logic_error("capacity search: record() the last step first");
  if (elapsed_s + options_.step_s > options_.budget_s) {
    finish("budget");
    return std::nullopt;
  }
  Step step;
  if (!started_) {
    step = {options_.rps_min, StepKind::kBracket};
  } else if (!hi_) {
    // lo_ is set: a step failing with no lo ends the search in record().
    if (*lo_ >= options_.rps_max) {
      if (options_.confirm && !confirmed_) {
        step = {*lo_, StepKind::kConfirm};
      } else {
        finish("rps_max");
        return std::nullopt;
      }
    } else {
      step = {std::min(*lo_ * options_.growth, options_.rps_max), StepKind::kBracket};
    }
  } else if ((*hi_ - *lo_) / *lo_ <= options_.precision) {
    if (options_.confirm && !confirmed_) {
      step = {*lo_, StepKind::kConfirm};
    } else {
      finish("target");
      return std::nullopt;
    }
  } else {
    step = {(*lo_ + *hi_) / 2, StepKind::kBisect};
  }
  started_ = true;
  pending_ = step;
  return step;
}

void Search::record(StepOutcome outcome) {
  if (!pending_) throw std::logic_error("capacity search: no step to record");
  const Step step = *pending_;
  pending_.reset();
  switch (outcome) {
    case StepOutcome::kGeneratorLimited:
      finish("generator");
      return;
    case StepOutcome::kPass:
      if (step.kind == StepKind::kConfirm) {
        confirmed_ = true;
        return;  // next() gives the answer
      }
      passed_.push_back(step.rps);
      lo_ = std::max(lo_.value_or(0), step.rps);
      return;
    case StepOutcome::kFail:
      hi_ = std::min(hi_.value_or(step.rps), step.rps);
      // A rate that failed no longer counts as passed, nor does anything
      // above it.
      std::erase_if(passed_, [&](double r) { return r >= *hi_; });
      if (passed_.empty()) {
        lo_.reset();
        finish("rps_min");
        return;
      }
      lo_ = *std::max_element(passed_.begin(), passed_.end());
      confirmed_ = false;
      return;
  }
}

void Search::finish(std::string limit) {
  done_ = true;
  answer_ = Answer{};
  answer_.limit = std::move(limit);
  answer_.confirmed = confirmed_;
  // Unconfirmed answers still stand when the budget or the generator ended
  // the search: they passed once, and confirmed says whether twice.
  answer_.found = lo_.has_value() && (confirmed_ || !options_.confirm ||
                                      answer_.limit == "budget" || answer_.limit == "generator");
  if (lo_) answer_.capacity = *lo_;
  if (lo_ && hi_) {
    answer_.failed_above = *hi_;
    answer_.precision = (*hi_ - *lo_) / *lo_;
  }
}

}  // namespace loadpilot::capacity
