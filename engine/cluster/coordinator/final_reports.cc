#include "cluster/coordinator/final_reports.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace loadpilot::agents {

LastReportWait LastReportWait::check(SteadyClock::time_point now, SteadyClock::time_point over,
                                     SteadyClock::time_point last_heard,
                                     std::chrono::milliseconds final_wait) {
  LastReportWait w;
  w.silent_s = std::max(0.0, std::chrono::duration<double>(now - last_heard).count());
  if (now < over) return w;
  const double wait_s = std::chrono::duration<double>(final_wait).count();
  if (w.silent_s >= wait_s) {
    w.state = State::kLost;
    return w;
  }
  w.state = State::kWaiting;
  w.left_s = wait_s - w.silent_s;
  return w;
}

std::string waiting_notice(const std::string& who, double left_s) {
  // Whole seconds, rounded up: "0 s" would read as over.
  return fmt::format("waiting for {}'s last report, {:.0f} s", who,
                     std::max(1.0, std::ceil(left_s - 1e-9)));
}

std::string lost_notice(const std::string& who, double lost_at_s, double now_s) {
  return fmt::format(
      "{} lost since {:.1f} s into the run ({:.0f} s); its share counts if it comes back", who,
      lost_at_s, std::max(0.0, std::floor(now_s - lost_at_s)));
}

std::string lost_at_the_end(double last_heard_s) {
  return fmt::format("was lost at the end (silent after {:.1f} s)", std::max(0.0, last_heard_s));
}

std::string unfinished_at_the_end() {
  return "was lost at the end (no last report by the end of the drain)";
}

}  // namespace loadpilot::agents
