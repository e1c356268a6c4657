#include "load/pacer.h"

#include <algorithm>
#include <cmath>

namespace loadpilot::load {

namespace {

// A pacing slot that passed less than this before the previous iteration
// ended is not counted late (the threshold of `late` arrivals).
constexpr double kLateS = 0.001;

Clock::time_point offset(Clock::time_point t0, double seconds) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

// --- OpenPacer ---------------------------------------------------------------

OpenPacer::OpenPacer(const Profile& profile, std::size_t index, std::size_t count)
    : profile_(profile), count_(std::max<std::size_t>(1, count)), next_k_(index) {}

std::optional<Clock::time_point> OpenPacer::next_due() const {
  if (stopped_) return std::nullopt;
  const auto due = profile_.time_of(next_k_);
  if (!due) return std::nullopt;
  return offset(t0_, *due);
}

std::optional<Arrival> OpenPacer::take(Clock::time_point now) {
  const auto due = next_due();
  if (!due || *due > now) return std::nullopt;
  next_k_ += count_;
  return Arrival{*due};
}

std::uint64_t OpenPacer::drop_due_by(Clock::time_point now) {
  if (stopped_) return 0;
  const Clock::time_point end = offset(t0_, profile_.total_s());
  const double h = profile_.due_by(std::chrono::duration<double>(std::min(now, end) - t0_).count());
  const double total = profile_.total_iterations();
  if (!(h >= static_cast<double>(next_k_)) || !(total > static_cast<double>(next_k_))) return 0;
  // Iteration k exists while k < H(total) (Profile::time_of).
  const std::uint64_t last = std::min(static_cast<std::uint64_t>(std::floor(h)),
                                      static_cast<std::uint64_t>(std::ceil(total)) - 1);
  if (last < next_k_) return 0;
  const std::uint64_t n = (last - next_k_) / count_ + 1;
  next_k_ += n * count_;
  return n;
}

// --- ClosedPacer -------------------------------------------------------------

ClosedPacer::ClosedPacer(Profile curve, plan::WaitSpec wait, std::size_t index, std::size_t count,
                         std::uint64_t seed)
    : curve_(std::move(curve)),
      wait_(wait),
      index_(index),
      count_(std::max<std::size_t>(1, count)),
      rng_(seed * 0x9E3779B97F4A7C15ULL + index + 0x5851F42D4C957F2DULL) {
  const auto peak = static_cast<std::size_t>(std::floor(curve_.peak_rate() + 1e-9));
  if (peak > index_) users_.resize((peak - index_ - 1) / count_ + 1);
}

double ClosedPacer::seconds(Clock::time_point t) const {
  return std::chrono::duration<double>(t - t0_).count();
}

Clock::time_point ClosedPacer::at(double s) const { return offset(t0_, s); }

bool ClosedPacer::wanted(std::size_t j, double t) const {
  const double level = static_cast<double>(index_ + count_ * j + 1);
  return t < curve_.total_s() && curve_.rate_at(t) >= level - 1e-9 * level;
}

void ClosedPacer::enqueue(std::size_t j, double due_s, double intended_s, bool late) {
  User& u = users_[j];
  if (u.queued) queue_.erase({u.due_s, static_cast<std::uint32_t>(j)});
  u.due_s = due_s;
  u.intended_s = intended_s;
  u.pacing_late = late;
  u.queued = true;
  queue_.insert({due_s, static_cast<std::uint32_t>(j)});
}

void ClosedPacer::park(std::size_t j, double from_s) {
  const double level = static_cast<double>(index_ + count_ * j + 1);
  if (const auto back = curve_.first_at_least(level, from_s)) enqueue(j, *back, *back, false);
}

void ClosedPacer::start(Clock::time_point t0) {
  t0_ = t0;
  for (std::size_t j = 0; j < users_.size(); ++j) park(j, 0);
}

std::optional<Clock::time_point> ClosedPacer::next_due() const {
  if (stopped_ || queue_.empty()) return std::nullopt;
  return at(queue_.begin()->first);
}

std::optional<Arrival> ClosedPacer::take(Clock::time_point now) {
  if (stopped_) return std::nullopt;
  const double now_s = seconds(now);
  while (!queue_.empty()) {
    const auto [due, j] = *queue_.begin();
    // next_due() rounds to the clock's tick: an instant it returned is due.
    if (due > now_s + 1e-9) return std::nullopt;
    queue_.erase(queue_.begin());
    User& u = users_[j];
    u.queued = false;
    if (!wanted(j, due)) {
      // It thought while the curve went down: it waits, out of the run,
      // until the curve wants it again (never, past the run's end).
      const double level = static_cast<double>(index_ + count_ * j + 1);
      const auto back = curve_.first_at_least(level, due);
      if (!back) continue;
      if (*back > due) {
        enqueue(j, *back, *back, false);
        continue;
      }
      // Wanted after all (the two tests round differently at the edge).
    }
    u.running = true;
    // Pacing slots begin with a user's first start: that start is when the
    // worker took it (as every start without pacing is), and the slots
    // follow it, so a busy start-up neither counts as a late start nor
    // makes the next slots late (docs/scenarios.md#users-and-think-time).
    const bool slot = wait_.kind == plan::WaitSpec::Kind::kPacing && u.started;
    u.last_due_s = u.started ? due : std::max(due, now_s);
    u.started = true;
    Arrival a;
    a.user = static_cast<std::uint32_t>(index_ + count_ * j);
    // Only a pacing slot is a start the user meant to make; otherwise the
    // iteration starts when it starts (docs/engine.md#measuring).
    a.intended = slot ? at(u.intended_s) : now;
    a.pacing_late = u.pacing_late;
    return a;
  }
  return std::nullopt;
}

void ClosedPacer::ended(std::uint32_t user, Clock::time_point now) {
  if (user == kNoUser || user < index_ || (user - index_) % count_ != 0) return;
  const std::size_t j = (user - index_) / count_;
  if (j >= users_.size() || !users_[j].running) return;
  User& u = users_[j];
  u.running = false;
  if (stopped_) return;
  const double now_s = seconds(now);
  double due = now_s, intended = now_s;
  bool late = false;
  switch (wait_.kind) {
    case plan::WaitSpec::Kind::kNone:
      break;
    case plan::WaitSpec::Kind::kConstant:
      due = intended = now_s + wait_.min_s;
      break;
    case plan::WaitSpec::Kind::kBetween:
      due = intended =
          now_s + std::uniform_real_distribution<double>(wait_.min_s, wait_.max_s)(rng_);
      break;
    case plan::WaitSpec::Kind::kPacing: {
      // Start to start: the slot after the one it came due in. An
      // iteration that outlasted it starts the next at once (late, its
      // latency counted from the slot) and the slots go on from there.
      const double slot = u.last_due_s + wait_.min_s;
      intended = slot;
      if (now_s > slot) {
        late = now_s - slot > kLateS;
      } else {
        due = slot;
      }
      break;
    }
  }
  if (due >= curve_.total_s()) return;  // the run is over for it
  enqueue(j, due, intended, late);
}

void ClosedPacer::stop() {
  stopped_ = true;
  queue_.clear();
  for (User& u : users_) u.queued = false;
}

std::uint64_t ClosedPacer::active_users(Clock::time_point now, std::uint64_t) const {
  const double now_s = seconds(now);
  const bool over = stopped_ || now_s >= curve_.total_s();
  std::uint64_t n = 0;
  for (std::size_t j = 0; j < users_.size(); ++j) {
    const User& u = users_[j];
    if (u.running || (!over && u.started && wanted(j, now_s))) ++n;
  }
  return n;
}

std::unique_ptr<Pacer> make_pacer(const plan::Plan& plan, const Profile& curve, std::size_t index,
                                  std::size_t count, std::size_t slots, std::uint64_t seed) {
  if (plan.profile.unlimited) {
    // One user per connection, each sending its next request when the last
    // one ended, for the run's length.
    const double n = static_cast<double>(std::max<std::size_t>(1, slots));
    return std::make_unique<ClosedPacer>(Profile({{curve.total_s(), n, n, "max rate"}}),
                                         plan::WaitSpec{}, 0, 1, seed);
  }
  if (plan.profile.closed())
    return std::make_unique<ClosedPacer>(curve, plan.profile.wait, index, count, seed);
  return std::make_unique<OpenPacer>(curve, index, count);
}

}  // namespace loadpilot::load
