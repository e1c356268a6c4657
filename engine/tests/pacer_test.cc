// The pacers without a clock or sockets: every instant is made up, so the
// closed model's think times, pacing slots, ramping counts and the end of a
// run are checked exactly (load/pacer.h, docs/engine.md#closed-model).
#include "load/pacer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace loadpilot::load {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kT0 = Clock::time_point() + 1000s;

Clock::time_point at(double s) {
  return kT0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

double secs(Clock::time_point t) { return std::chrono::duration<double>(t - kT0).count(); }

plan::ProfileSpec users_spec(int users, plan::Mode mode, double duration_s, double ramp_up_s = 0,
                             int steps = 5) {
  plan::ProfileSpec p;
  p.users = users;
  p.mode = mode;
  p.duration_s = duration_s;
  p.ramp_up_s = ramp_up_s;
  p.steps = steps;
  return p;
}

plan::WaitSpec wait(plan::WaitSpec::Kind kind, double lo, double hi) {
  plan::WaitSpec w;
  w.kind = kind;
  w.min_s = lo;
  w.max_s = hi;
  return w;
}

// Takes everything due by `now`.
std::vector<Arrival> take_all(Pacer& p, Clock::time_point now) {
  std::vector<Arrival> out;
  while (auto a = p.take(now)) out.push_back(*a);
  return out;
}

TEST(ClosedPacer, AllUsersStartAtOnceWithoutARamp) {
  const Profile curve = Profile::from_spec(users_spec(10, plan::Mode::kConstant, 60));
  ClosedPacer p(curve, {}, 0, 1, 1);
  p.start(kT0);
  ASSERT_EQ(p.users(), 10u);
  EXPECT_EQ(p.next_due(), kT0);
  const auto started = take_all(p, at(0.001));
  ASSERT_EQ(started.size(), 10u);
  for (std::uint32_t g = 0; g < 10; ++g) EXPECT_EQ(started[g].user, g);
  // Each user has one iteration at a time: nothing more until one ends.
  EXPECT_FALSE(p.next_due().has_value());
  EXPECT_EQ(p.active_users(at(0.5), 0), 10u);
}

TEST(ClosedPacer, ConstantThinkTimeFollowsTheEndOfEachIteration) {
  const Profile curve = Profile::from_spec(users_spec(1, plan::Mode::kConstant, 60));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kConstant, 0.5, 0.5), 0, 1, 1);
  p.start(kT0);
  ASSERT_EQ(take_all(p, at(0)).size(), 1u);
  p.ended(0, at(0.2));
  ASSERT_TRUE(p.next_due().has_value());
  EXPECT_NEAR(secs(*p.next_due()), 0.7, 1e-9);
  EXPECT_FALSE(p.take(at(0.69)).has_value());
  const auto a = p.take(at(0.75));
  ASSERT_TRUE(a.has_value());
  // Thinking is no coordinated omission: latency counts from the start.
  EXPECT_EQ(a->intended, at(0.75));
  EXPECT_FALSE(a->pacing_late);
  // Thinking counts as present.
  p.ended(0, at(1.0));
  EXPECT_EQ(p.active_users(at(1.2), 0), 1u);
}

TEST(ClosedPacer, BetweenDrawsWithinItsBoundsAndRepeatsWithTheSeed) {
  const Profile curve = Profile::from_spec(users_spec(1, plan::Mode::kConstant, 10000));
  const auto draws = [&](std::uint64_t seed) {
    ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kBetween, 1, 3), 0, 1, seed);
    p.start(kT0);
    std::vector<double> thinks;
    Clock::time_point now = kT0;
    for (int i = 0; i < 200; ++i) {
      EXPECT_TRUE(p.take(now).has_value());
      const Clock::time_point end = now + 10ms;
      p.ended(0, end);
      now = *p.next_due();
      thinks.push_back(std::chrono::duration<double>(now - end).count());
    }
    return thinks;
  };
  const std::vector<double> a = draws(7);
  double lo = 10, hi = 0, sum = 0;
  for (double t : a) {
    lo = std::min(lo, t);
    hi = std::max(hi, t);
    sum += t;
  }
  EXPECT_GE(lo, 1.0 - 1e-9);
  EXPECT_LE(hi, 3.0 + 1e-9);
  EXPECT_NEAR(sum / a.size(), 2.0, 0.15);  // uniform: mean 2
  EXPECT_LT(lo, 1.2);
  EXPECT_GT(hi, 2.8);
  EXPECT_EQ(a, draws(7));
  EXPECT_NE(a, draws(8));
}

TEST(ClosedPacer, PacingKeepsSlotsAndAnOverrunStartsLateFromItsSlot) {
  const Profile curve = Profile::from_spec(users_spec(1, plan::Mode::kConstant, 60));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kPacing, 1, 1), 0, 1, 1);
  p.start(kT0);
  ASSERT_TRUE(p.take(at(0)).has_value());
  // A short iteration: the next starts on the slot, 1 s after the last start.
  p.ended(0, at(0.3));
  EXPECT_NEAR(secs(*p.next_due()), 1.0, 1e-9);
  EXPECT_FALSE(p.take(at(0.99)).has_value());
  auto a = p.take(at(1.002));
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(secs(a->intended), 1.0, 1e-9);  // latency counts from the slot
  EXPECT_FALSE(a->pacing_late);
  // An iteration that outlasts its slot: the next starts at once, late,
  // stamped with the slot it missed.
  p.ended(0, at(2.5));
  EXPECT_NEAR(secs(*p.next_due()), 2.5, 1e-9);
  a = p.take(at(2.5));
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->pacing_late);
  EXPECT_NEAR(secs(a->intended), 2.0, 1e-9);
  // No catching up: the slots go on from the late start.
  p.ended(0, at(2.6));
  EXPECT_NEAR(secs(*p.next_due()), 3.5, 1e-9);
  a = p.take(at(3.5));
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->pacing_late);
  EXPECT_NEAR(secs(a->intended), 3.5, 1e-9);
}

TEST(ClosedPacer, PacingSlotsCountFromTheFirstStartWhenItWasTakenLate) {
  const Profile curve = Profile::from_spec(users_spec(1, plan::Mode::kConstant, 60));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kPacing, 1, 1), 0, 1, 1);
  p.start(kT0);
  // Due at 0, taken at 0.7 (a busy start-up): the user starts then, not
  // late, and its next slot is 1 s after that start.
  auto a = p.take(at(0.7));
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(secs(a->intended), 0.7, 1e-9);
  EXPECT_FALSE(a->pacing_late);
  p.ended(0, at(0.9));
  EXPECT_NEAR(secs(*p.next_due()), 1.7, 1e-9);
  a = p.take(at(1.7));
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->pacing_late);
  // Later takes keep the grid: due 2.7, taken at 2.9, next slot 3.7.
  p.ended(0, at(1.8));
  a = p.take(at(2.9));
  ASSERT_TRUE(a.has_value());
  p.ended(0, at(3.0));
  EXPECT_NEAR(secs(*p.next_due()), 3.7, 1e-9);
}

TEST(ClosedPacer, RampBringsUsersInLinearly) {
  // 10 users over a 10 s ramp, then 10 s steady: user g joins at g + 1 s.
  const Profile curve = Profile::from_spec(users_spec(10, plan::Mode::kRamp, 10, 10));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kConstant, 0.1, 0.1), 0, 1, 1);
  p.start(kT0);
  for (int g = 0; g < 10; ++g) {
    ASSERT_TRUE(p.next_due().has_value());
    EXPECT_NEAR(secs(*p.next_due()), g + 1.0, 1e-6);
    const auto a = p.take(at(g + 1.0 + 1e-6));
    ASSERT_TRUE(a.has_value()) << g;
    EXPECT_EQ(a->user, static_cast<std::uint32_t>(g));
    EXPECT_EQ(p.active_users(at(g + 1.5), 0), static_cast<std::uint64_t>(g + 1));
  }
  EXPECT_EQ(p.active_users(at(15), 0), 10u);
}

TEST(ClosedPacer, StepsAndWorkersSplitTheUsersExactly) {
  // 12 users in 3 steps of 10 s (4, 8, 12), shared by 2 agents x 2 workers:
  // each pacer runs the users g with g mod 4 == its index.
  const Profile curve = Profile::from_spec(users_spec(12, plan::Mode::kStep, 30, 0, 3));
  std::vector<std::unique_ptr<ClosedPacer>> pacers;
  for (std::size_t i = 0; i < 4; ++i) {
    pacers.push_back(std::make_unique<ClosedPacer>(curve, plan::WaitSpec{}, i, 4, 1));
    pacers.back()->start(kT0);
    EXPECT_EQ(pacers.back()->users(), 3u);
  }
  const auto active = [&](double t) {
    std::uint64_t n = 0;
    for (auto& p : pacers) {
      for (const Arrival& a : take_all(*p, at(t)))
        EXPECT_EQ(static_cast<std::ptrdiff_t>(a.user % 4), &p - &pacers[0]);
      n += p->active_users(at(t), 0);
    }
    return n;
  };
  EXPECT_EQ(active(0.5), 4u);
  EXPECT_EQ(active(10.5), 8u);
  EXPECT_EQ(active(20.5), 12u);
}

TEST(ClosedPacer, UsersAboveTheCurveStopAfterTheirIterationAndComeBackWithIt) {
  // Spike: 20% of 10 users (2), then 10, then 2 again, thirds of 30 s.
  const Profile curve = Profile::from_spec(users_spec(10, plan::Mode::kSpike, 30));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kConstant, 1, 1), 0, 1, 1);
  p.start(kT0);
  EXPECT_EQ(take_all(p, at(0)).size(), 2u);
  EXPECT_EQ(take_all(p, at(10)).size(), 8u);  // users 2..9 join
  EXPECT_EQ(p.active_users(at(15), 0), 10u);
  // At 20 s the curve falls to 2: users 2..9 finish what they run, then
  // leave instead of starting again.
  for (std::uint32_t g = 0; g < 10; ++g) p.ended(g, at(19.5));
  EXPECT_EQ(p.active_users(at(20.2), 0), 2u);
  const auto again = take_all(p, at(20.6));
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].user + again[1].user, 1u);  // users 0 and 1
  EXPECT_FALSE(p.take(at(29)).has_value());
}

TEST(ClosedPacer, NothingStartsAtOrAfterTheEnd) {
  const Profile curve = Profile::from_spec(users_spec(3, plan::Mode::kConstant, 5));
  ClosedPacer p(curve, wait(plan::WaitSpec::Kind::kConstant, 1, 1), 0, 1, 1);
  p.start(kT0);
  EXPECT_EQ(take_all(p, at(0)).size(), 3u);
  // One thinks past the end: it is done. One ends in time to go again.
  p.ended(0, at(4.5));
  p.ended(1, at(3.0));
  EXPECT_NEAR(secs(*p.next_due()), 4.0, 1e-9);
  EXPECT_EQ(take_all(p, at(4.1)).size(), 1u);
  EXPECT_FALSE(p.next_due().has_value());
  // After the end only users in an iteration are present (2 and 1).
  EXPECT_EQ(p.active_users(at(5.5), 0), 2u);
  // stop(): nothing more, whatever ends.
  p.stop();
  p.ended(2, at(5.6));
  EXPECT_FALSE(p.next_due().has_value());
  EXPECT_FALSE(p.take(at(100)).has_value());
  EXPECT_EQ(p.active_users(at(5.7), 0), 1u);
}

TEST(ClosedPacer, ClosedLoopIsOneUserPerSlotWithoutThinking) {
  plan::Plan plan;
  plan.profile.unlimited = true;
  plan.profile.duration_s = 2;
  const Profile curve = Profile::from_spec(plan.profile);
  const auto p = make_pacer(plan, curve, 3, 8, 4, 1);
  p->start(kT0);
  EXPECT_FALSE(p->drops_when_busy());
  auto first = take_all(*p, at(0));
  ASSERT_EQ(first.size(), 4u);
  p->ended(first[2].user, at(0.25));
  const auto next = p->take(at(0.25));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->user, first[2].user);
  EXPECT_EQ(next->intended, at(0.25));
  EXPECT_EQ(p->drop_due_by(at(1)), 0u);
}

TEST(OpenPacer, TakesItsShareOfTheCurveAndDropsABacklogInOneStep) {
  plan::ProfileSpec spec;
  spec.mode = plan::Mode::kConstant;
  spec.rps = 100;
  spec.duration_s = 1;
  const Profile curve = Profile::from_spec(spec);
  OpenPacer p(curve, 1, 4);  // k = 1, 5, 9, ...
  p.start(kT0);
  EXPECT_TRUE(p.drops_when_busy());
  auto a = p.take(at(0.0105));
  ASSERT_TRUE(a.has_value());
  EXPECT_NEAR(secs(a->intended), 0.01, 1e-9);
  EXPECT_EQ(a->user, kNoUser);
  EXPECT_FALSE(p.take(at(0.0105)).has_value());
  // Due by 0.5 s: k = 5, 9, ..., 49: 12 arrivals.
  EXPECT_EQ(p.drop_due_by(at(0.5)), 12u);
  EXPECT_NEAR(secs(*p.next_due()), 0.53, 1e-9);
  EXPECT_EQ(p.active_users(at(0.6), 7), 7u);
}

}  // namespace
}  // namespace loadpilot::load
