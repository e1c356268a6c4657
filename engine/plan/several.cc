// A run of several scenarios (docs/scenarios.md#several-scenarios-in-one-run):
// the run's plan made of its scenarios' plans, and what it derives from them.
#include <algorithm>

#include "plan/plan.h"

namespace loadpilot::plan {

std::pair<std::size_t, std::size_t> Plan::task_home(std::size_t task) const {
  std::size_t first = 0;
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    const std::size_t n = scenarios[s].tasks.size();
    if (task < first + n) return {s, task - first};
    first += n;
  }
  return {0, task};
}

Plan combine(std::vector<Plan> parts, std::string name) {
  Plan run;
  run.name = std::move(name);
  if (!parts.empty()) {
    run.file = parts.front().file;
    run.target = parts.front().target;
    // Declared by the file when it is imported: the same in every part.
    run.custom_metrics = parts.front().custom_metrics;
  }
  bool all_closed = !parts.empty();
  double end_s = 0, rps = 0;
  int users = 0;
  for (const Plan& part : parts) {
    for (TaskSpec t : part.tasks) {
      t.name = part.name + "." + t.name;
      run.tasks.push_back(std::move(t));
    }
    all_closed = all_closed && part.profile.closed();
    if (part.profile.closed())
      users += part.profile.users;
    else if (!part.profile.unlimited)
      rps += part.profile.rps;
    end_s = std::max(end_s, part.start_s + part.profile.total_s());
  }
  run.profile.mode = Mode::kConstant;
  run.profile.duration_s = end_s;
  run.profile.ramp_up_s = 0;
  run.profile.rps = rps;
  if (all_closed) {
    run.profile.users = users;
    run.profile.wait = parts.front().profile.wait;
  }
  run.scenarios = std::move(parts);
  return run;
}

double run_length_s(const Plan& plan) {
  if (!plan.several()) return plan.start_s + plan.profile.total_s();
  double end_s = 0;
  for (const Plan& part : plan.scenarios) end_s = std::max(end_s, run_length_s(part));
  return end_s;
}

}  // namespace loadpilot::plan
