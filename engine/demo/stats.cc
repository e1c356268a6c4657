#include "demo/stats.h"

#include <fmt/format.h>

namespace loadpilot::demo {

RouteCounts StatsBoard::totals() const {
  RouteCounts sums{};
  for (const RouteCounters* w : workers_) {
    for (std::size_t r = 0; r < kCountedRoutes; ++r) sums[r] += w->get(r);
  }
  return sums;
}

RouteCounts StatsBoard::snapshot() const {
  std::lock_guard lock(mu_);
  RouteCounts counts = totals();
  for (std::size_t r = 0; r < kCountedRoutes; ++r) counts[r] -= baseline_[r];
  return counts;
}

void StatsBoard::reset() {
  std::lock_guard lock(mu_);
  baseline_ = totals();
}

std::string StatsBoard::to_json() const {
  RouteCounts counts = snapshot();
  std::uint64_t total = 0;
  for (std::uint64_t n : counts) total += n;
  std::string out = fmt::format(R"({{"total":{},"routes":{{)", total);
  for (std::size_t r = 0; r < kCountedRoutes; ++r) {
    if (r > 0) out += ',';
    fmt::format_to(std::back_inserter(out), R"("{}":{})", route_key(static_cast<Route>(r)),
                   counts[r]);
  }
  out += "}}";
  return out;
}

}  // namespace loadpilot::demo
