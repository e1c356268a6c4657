#include "plan/stages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace loadpilot::plan {

void Sum::add(double x) {
  const double t = sum_ + x;
  // What the addition lost, from the smaller of the two.
  carry_ += std::abs(sum_) >= std::abs(x) ? (sum_ - t) + x : (x - t) + sum_;
  sum_ = t;
}

std::vector<Stage> stages_of(const ProfileSpec& spec) {
  std::vector<Stage> out;
  if (spec.unlimited) return out;
  // A closed model shapes its users with the same modes.
  const double level = spec.closed() ? spec.users : spec.rps;
  switch (spec.mode) {
    case Mode::kRamp:
      if (spec.ramp_up_s > 0) out.push_back({spec.ramp_up_s, level, false, "ramp-up"});
      out.push_back({spec.duration_s, level, true, "steady"});
      break;
    case Mode::kConstant:
      out.push_back({spec.duration_s, level, true, "steady"});
      break;
    case Mode::kStep: {
      const int n = std::max(1, spec.steps);
      for (int k = 1; k <= n; ++k)
        out.push_back({spec.duration_s / n, level * k / n, true, fmt::format("step {}/{}", k, n)});
      break;
    }
    case Mode::kSpike: {
      const double third = spec.duration_s / 3;
      out.push_back({third, 0.2 * level, true, "baseline"});
      out.push_back({third, level, true, "spike"});
      out.push_back({spec.duration_s - 2 * third, 0.2 * level, true, "recovery"});
      break;
    }
    case Mode::kStages: {
      const std::size_t n = spec.stages.size();
      for (std::size_t i = 0; i < n; ++i)
        out.push_back({spec.stages[i].duration_s, spec.stages[i].target, false,
                       fmt::format("stage {}/{}", i + 1, n)});
      break;
    }
    case Mode::kShape:
      for (const StageSpec& s : spec.stages) out.push_back({s.duration_s, s.target, true, "shape"});
      break;
  }
  return out;
}

double table_peak(const ProfileSpec& spec) {
  double peak = std::isfinite(spec.start) ? std::max(0.0, spec.start) : 0;
  for (const StageSpec& s : spec.stages)
    if (std::isfinite(s.target)) peak = std::max(peak, s.target);
  return peak;
}

void settle_table(ProfileSpec* spec, bool closed) {
  Sum total;
  for (const StageSpec& s : spec->stages) total.add(s.duration_s);
  spec->duration_s = total.value();
  spec->ramp_up_s = 0;
  const double peak = table_peak(*spec);
  if (closed) {
    // At least one user, so the plan stays closed; validate_table() names
    // a table that wants none.
    spec->users =
        static_cast<int>(std::clamp(std::ceil(peak), 1.0, static_cast<double>(kMaxUsers)));
    spec->rps = 0;
  } else {
    spec->users = 0;
    spec->rps = peak;
  }
}

namespace {

std::string show(double v) { return fmt::format("{}", v); }

// What a value of the table must be, for its model.
std::string value_problem(double v, bool closed) {
  if (closed) {
    if (!(std::isfinite(v) && v >= 0 && v <= kMaxUsers && v == std::trunc(v)))
      return fmt::format("must be a whole number of users from 0 to {}", kMaxUsers);
  } else if (!(std::isfinite(v) && v >= 0 && v <= kMaxRps)) {
    return fmt::format("must be a number of iterations/s from 0 to {}", show(kMaxRps));
  }
  return "";
}

}  // namespace

void validate_table(const ProfileSpec& spec, std::vector<std::string>* errors) {
  auto add = [errors](std::string_view field, std::string_view problem, std::string_view got) {
    errors->push_back(fmt::format("{}: {} (got {})", field, problem, got));
  };
  const bool shape = spec.mode == Mode::kShape;
  const bool closed = spec.closed();
  if (spec.stages.empty()) {
    add(shape ? "shape()" : "stages",
        shape ? "returned None at 0s, so nothing would run"
              : "at least one (duration, target) stage is required",
        "[]");
    return;
  }
  if (spec.stages.size() > kMaxStages) {
    add(shape ? "shape()" : "stages",
        fmt::format("at most {} stages{}", kMaxStages,
                    shape ? " (a value that changes every 100 ms for ~33 minutes)" : ""),
        std::to_string(spec.stages.size()));
    return;
  }
  if (const std::string p = value_problem(spec.start, closed); !p.empty())
    add("start", p, show(spec.start));
  double t = 0, total = 0;
  bool any = spec.start > 0;
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& s = spec.stages[i];
    // A shape's rows are its 100 ms steps: the user knows them by time.
    const std::string row = shape ? fmt::format("shape() at {}s", show(std::round(t * 10) / 10))
                                  : fmt::format("stages[{}]", i);
    if (!(s.duration_s > 0 && std::isfinite(s.duration_s)))
      add(shape ? row : row + ".duration", "must be a duration > 0", show(s.duration_s) + "s");
    if (const std::string p = value_problem(s.target, closed); !p.empty())
      add(shape ? row : row + ".target", p, show(s.target));
    any = any || s.target > 0;
    if (std::isfinite(s.duration_s)) t += s.duration_s;
    total += s.duration_s;
  }
  if (std::isfinite(total) && total > kMaxDurationS)
    add(shape ? "shape()" : "stages",
        fmt::format("must last at most {}s (7 days) in all", show(kMaxDurationS)),
        show(total) + "s");
  if (!any)
    add(shape ? "shape()" : "stages", "every target is 0, so nothing would run",
        fmt::format("{} stages", spec.stages.size()));
}

nlohmann::json stages_to_json(const std::vector<StageSpec>& stages) {
  nlohmann::json out = nlohmann::json::array();
  for (const StageSpec& s : stages) out.push_back({s.duration_s, s.target});
  return out;
}

std::vector<StageSpec> stages_from_json(const nlohmann::json& j) {
  if (!j.is_array())
    throw PlanError(
        fmt::format("profile.stages: expected a list of [duration_s, target] (got {})", j.dump()));
  std::vector<StageSpec> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& row = j[i];
    if (!row.is_array() || row.size() != 2 || !row[0].is_number() || !row[1].is_number())
      throw PlanError(fmt::format(
          "profile.stages[{}]: expected [duration_s, target] numbers (got {})", i, row.dump()));
    out.push_back({row[0].get<double>(), row[1].get<double>()});
  }
  return out;
}

}  // namespace loadpilot::plan
