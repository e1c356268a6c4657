#include "demo/stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

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

void TagCounters::count(std::string_view tag) {
  if (tag.empty()) return;
  for (Slot& slot : slots_) {
    if (!slot.used.load(std::memory_order_relaxed)) {
      if (tag.size() > kMaxName) break;
      std::copy(tag.begin(), tag.end(), slot.name.begin());
      slot.size = tag.size();
      slot.count.store(1, std::memory_order_relaxed);
      slot.used.store(true, std::memory_order_release);
      return;
    }
    if (std::string_view(slot.name.data(), slot.size) == tag) {
      slot.count.store(slot.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
  }
  other_.store(other_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::vector<std::pair<std::string, std::uint64_t>> TagCounters::read() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const Slot& slot : slots_) {
    if (!slot.used.load(std::memory_order_acquire)) break;
    out.emplace_back(std::string(slot.name.data(), slot.size),
                     slot.count.load(std::memory_order_relaxed));
  }
  if (const std::uint64_t n = other_.load(std::memory_order_relaxed); n > 0)
    out.emplace_back("(other)", n);
  return out;
}

std::vector<std::pair<std::string, std::uint64_t>> StatsBoard::tag_totals() const {
  std::map<std::string, std::uint64_t> sums;
  for (const TagCounters* t : tags_)
    for (const auto& [name, n] : t->read()) sums[name] += n;
  return {sums.begin(), sums.end()};
}

std::vector<std::pair<std::string, std::uint64_t>> StatsBoard::tag_counts() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (auto [name, n] : tag_totals()) {
    const auto base = tag_baseline_.find(name);
    if (base != tag_baseline_.end()) n -= std::min(n, base->second);
    if (n > 0) out.emplace_back(std::move(name), n);
  }
  return out;
}

void StatsBoard::reset() {
  std::lock_guard lock(mu_);
  baseline_ = totals();
  tag_baseline_.clear();
  for (const auto& [name, n] : tag_totals()) tag_baseline_[name] = n;
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
  out += "},\"tags\":{";
  bool first = true;
  for (const auto& [name, n] : tag_counts()) {
    if (!first) out += ',';
    first = false;
    out += nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    fmt::format_to(std::back_inserter(out), ":{}", n);
  }
  out += "}}";
  return out;
}

}  // namespace loadpilot::demo
