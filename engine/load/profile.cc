#include "load/profile.h"

#include <algorithm>
#include <cmath>

#include "plan/stages.h"

namespace loadpilot::load {

namespace {
// Index of the segment containing time t (t in [0, total)).
std::size_t find_by(const std::vector<double>& starts, double x) {
  auto it = std::upper_bound(starts.begin(), starts.end(), x);
  return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, (it - starts.begin()) - 1));
}
}  // namespace

Profile::Profile(std::vector<Segment> segments) : segments_(std::move(segments)) {
  // Compensated sums: a shape has thousands of 0.1 s segments.
  plan::Sum t, h;
  for (const Segment& s : segments_) {
    start_t_.push_back(t.value());
    start_h_.push_back(h.value());
    t.add(s.duration_s);
    h.add(0.5 * (s.rate_start + s.rate_end) * s.duration_s);
  }
  start_t_.push_back(t.value());
  start_h_.push_back(h.value());
  total_s_ = t.value();
}

Profile Profile::from_spec(const plan::ProfileSpec& spec) {
  std::vector<Segment> segs;
  if (spec.unlimited) {
    // Closed loop: arrivals are not paced; the segment only carries the time.
    segs.push_back({spec.duration_s, 0, 0, "max rate"});
    return Profile(std::move(segs));
  }
  // Every mode is a list of stages (plan/stages.h): one way to the curve.
  double at = spec.tabled() ? spec.start : 0;
  for (const plan::Stage& s : plan::stages_of(spec)) {
    segs.push_back({s.duration_s, s.hold ? s.target : at, s.target, s.phase});
    at = s.target;
  }
  return Profile(std::move(segs));
}

Profile Profile::of(const plan::Plan& plan) {
  if (plan.several()) {
    std::vector<Profile> parts;
    for (const plan::Plan& part : plan.scenarios) parts.push_back(of(part));
    return sum(parts);
  }
  Profile own = from_spec(plan.profile);
  if (!(plan.start_s > 0)) return own;
  std::vector<Segment> segs{{plan.start_s, 0, 0, "waiting"}};
  for (const Segment& s : own.segments()) segs.push_back(s);
  return Profile(std::move(segs));
}

Profile Profile::sum(const std::vector<Profile>& parts) {
  // Between two consecutive breakpoints of any part every part is linear,
  // so their sum is too: one segment per such interval.
  std::vector<double> cuts{0};
  for (const Profile& p : parts)
    for (std::size_t i = 1; i < p.start_t_.size(); ++i) cuts.push_back(p.start_t_[i]);
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<Segment> segs;
  for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
    const double a = cuts[c], b = cuts[c + 1];
    if (!(b > a)) continue;
    const double mid = 0.5 * (a + b);
    double r0 = 0, r1 = 0;
    for (const Profile& p : parts) {
      if (mid >= p.total_s_ || p.segments_.empty()) continue;
      const std::size_t i = std::min(find_by(p.start_t_, mid), p.segments_.size() - 1);
      const Segment& s = p.segments_[i];
      const auto at = [&](double t) {
        const double tau = t - p.start_t_[i];
        return s.rate_start +
               (s.rate_end - s.rate_start) * (s.duration_s > 0 ? tau / s.duration_s : 0);
      };
      r0 += at(a);
      r1 += at(b);
    }
    segs.push_back({b - a, r0, r1, "running"});
  }
  return Profile(std::move(segs));
}

double Profile::rate_at(double t) const {
  if (t < 0 || t >= total_s_ || segments_.empty()) return 0;
  const std::size_t i = std::min(find_by(start_t_, t), segments_.size() - 1);
  const Segment& s = segments_[i];
  const double tau = t - start_t_[i];
  return s.rate_start + (s.rate_end - s.rate_start) * (s.duration_s > 0 ? tau / s.duration_s : 0);
}

double Profile::due_by(double t) const {
  if (t <= 0 || segments_.empty()) return 0;
  if (t >= total_s_) return start_h_.back();
  const std::size_t i = std::min(find_by(start_t_, t), segments_.size() - 1);
  const Segment& s = segments_[i];
  const double tau = t - start_t_[i];
  const double slope = s.duration_s > 0 ? (s.rate_end - s.rate_start) / s.duration_s : 0;
  return start_h_[i] + s.rate_start * tau + 0.5 * slope * tau * tau;
}

std::optional<double> Profile::time_of(std::uint64_t k) const {
  const double target = static_cast<double>(k);
  if (segments_.empty() || target >= start_h_.back()) return std::nullopt;
  // The first segment whose cumulative end exceeds k holds the crossing;
  // zero-rate segments have equal start and end H and are skipped.
  std::size_t i = find_by(start_h_, target);
  while (i + 1 < start_h_.size() && start_h_[i + 1] <= target) ++i;
  if (i >= segments_.size()) return std::nullopt;
  const Segment& s = segments_[i];
  const double x = target - start_h_[i];
  if (x <= 0) return start_t_[i];
  // Solve r0*tau + (slope/2)*tau^2 = x in the form that stays stable when
  // the slope is zero or negative: tau = 2x / (r0 + sqrt(r0^2 + 2*slope*x)).
  const double slope = s.duration_s > 0 ? (s.rate_end - s.rate_start) / s.duration_s : 0;
  const double disc = std::max(0.0, s.rate_start * s.rate_start + 2 * slope * x);
  const double denom = s.rate_start + std::sqrt(disc);
  if (denom <= 0) return std::nullopt;
  const double tau = std::min(2 * x / denom, s.duration_s);
  const double t = start_t_[i] + tau;
  if (t >= total_s_) return std::nullopt;
  return t;
}

double Profile::peak_rate() const {
  double peak = 0;
  for (const Segment& s : segments_) peak = std::max({peak, s.rate_start, s.rate_end});
  return peak;
}

std::optional<double> Profile::first_at_least(double level, double from) const {
  const double want = level - 1e-9 * std::max(1.0, std::abs(level));
  from = std::max(0.0, from);
  if (segments_.empty() || from >= total_s_) return std::nullopt;
  for (std::size_t i = std::min(find_by(start_t_, from), segments_.size() - 1);
       i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    const double begin = std::max(start_t_[i], from);
    const double end = start_t_[i + 1];
    if (begin >= end) continue;
    const double slope = s.duration_s > 0 ? (s.rate_end - s.rate_start) / s.duration_s : 0;
    const double at_begin = s.rate_start + slope * (begin - start_t_[i]);
    if (at_begin >= want) return begin;
    if (slope <= 0) continue;  // falling or flat: never reaches it in here
    const double t = start_t_[i] + (want - s.rate_start) / slope;
    if (t < end) return std::max(t, begin);
  }
  return std::nullopt;
}

std::string Profile::phase_at(double t) const {
  if (segments_.empty()) return "";
  if (t < 0) return segments_.front().phase;
  if (t >= total_s_) return "done";
  return segments_[std::min(find_by(start_t_, t), segments_.size() - 1)].phase;
}

std::uint64_t Profile::count_due_by(double t) const {
  // time_of(k) grows with k: the first k not due yet, by bisection.
  std::uint64_t lo = 0;
  std::uint64_t hi = static_cast<std::uint64_t>(std::max(0.0, total_iterations())) + 2;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    const std::optional<double> at = time_of(mid);
    if (at && *at <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

}  // namespace loadpilot::load
