#include "load/profile.h"

#include <gtest/gtest.h>

#include <cmath>

namespace loadpilot::load {
namespace {

plan::ProfileSpec spec(plan::Mode mode, double rps, double duration, double ramp = 0,
                       int steps = 5) {
  plan::ProfileSpec s;
  s.mode = mode;
  s.rps = rps;
  s.duration_s = duration;
  s.ramp_up_s = ramp;
  s.steps = steps;
  return s;
}

// Counts iterations due in [from, to) by walking time_of like the scheduler.
std::uint64_t count_between(const Profile& p, double from, double to) {
  std::uint64_t n = 0;
  for (std::uint64_t k = 0;; ++k) {
    auto t = p.time_of(k);
    if (!t || *t >= to) break;
    if (*t >= from) ++n;
  }
  return n;
}

TEST(Profile, ConstantRunHasExactCountAndEvenSpacing) {
  Profile p = Profile::from_spec(spec(plan::Mode::kConstant, 100, 10));
  EXPECT_DOUBLE_EQ(p.total_s(), 10);
  EXPECT_EQ(count_between(p, 0, 10), 1000u);
  for (std::uint64_t k = 0; k < 1000; ++k) EXPECT_NEAR(*p.time_of(k), k * 0.01, 1e-9);
  EXPECT_FALSE(p.time_of(1000).has_value());
}

TEST(Profile, StartWaitsAtRateZeroThenRunsTheScenariosCurve) {
  plan::Plan p;
  p.profile = spec(plan::Mode::kConstant, 100, 10);
  p.start_s = 5;
  const Profile curve = Profile::of(p);
  EXPECT_DOUBLE_EQ(curve.total_s(), 15);
  EXPECT_EQ(curve.phase_at(1), "waiting");
  EXPECT_EQ(curve.count_due_by(4.999), 0u);
  EXPECT_NEAR(*curve.time_of(0), 5.0, 1e-9);
  EXPECT_NEAR(curve.total_iterations(), 1000, 1e-9);
  EXPECT_EQ(count_between(curve, 5, 15), 1000u);
}

TEST(Profile, SumAddsTheRatesOfCurvesWithDifferentBreakpoints) {
  // A 0 -> 100 ramp over 10 s, then 100 for 10 s; and 50 for 5 s after a
  // 3 s wait.
  const Profile ramp = Profile::from_spec(spec(plan::Mode::kRamp, 100, 10, 10));
  plan::Plan later;
  later.profile = spec(plan::Mode::kConstant, 50, 5);
  later.start_s = 3;
  const Profile sum = Profile::sum({ramp, Profile::of(later)});
  EXPECT_DOUBLE_EQ(sum.total_s(), 20);
  for (double t : {0.0, 2.9, 3.0, 4.5, 7.99, 8.0, 12.0, 19.9})
    EXPECT_NEAR(sum.rate_at(t), ramp.rate_at(t) + Profile::of(later).rate_at(t), 1e-9) << t;
  EXPECT_NEAR(sum.total_iterations(), ramp.total_iterations() + 250, 1e-6);
}

TEST(Profile, EveryWindowIsExactToPlusMinusOne) {
  // Fractional rate: no tick bucket may burst or starve.
  Profile p = Profile::from_spec(spec(plan::Mode::kConstant, 37.3, 20));
  for (double w = 0; w < 19.5; w += 0.5) {
    const double n = static_cast<double>(count_between(p, w, w + 0.5));
    EXPECT_LE(std::abs(n - 37.3 * 0.5), 1.0) << "window at " << w;
  }
}

TEST(Profile, RampIsQuadraticThenSteady) {
  Profile p = Profile::from_spec(spec(plan::Mode::kRamp, 100, 10, 5));
  EXPECT_DOUBLE_EQ(p.total_s(), 15);
  EXPECT_NEAR(p.due_by(5), 250, 1e-9);  // triangle: 5 s * 100 / 2
  EXPECT_NEAR(p.due_by(15), 1250, 1e-9);
  EXPECT_NEAR(p.rate_at(2.5), 50, 1e-9);
  EXPECT_EQ(p.phase_at(1), "ramp-up");
  EXPECT_EQ(p.phase_at(6), "steady");
  // time_of inverts due_by on the curved part.
  for (std::uint64_t k = 0; k < 1250; k += 7) EXPECT_NEAR(p.due_by(*p.time_of(k)), k, 1e-6);
  EXPECT_EQ(count_between(p, 0, 15), 1250u);
  EXPECT_DOUBLE_EQ(*p.time_of(0), 0);
}

TEST(Profile, StepWindowsRiseEvenly) {
  Profile p = Profile::from_spec(spec(plan::Mode::kStep, 100, 10, 0, 5));
  ASSERT_EQ(p.segments().size(), 5u);
  for (int k = 1; k <= 5; ++k) {
    EXPECT_NEAR(p.rate_at(2.0 * (k - 1) + 1), 100.0 * k / 5, 1e-9);
    EXPECT_EQ(p.phase_at(2.0 * (k - 1) + 1), "step " + std::to_string(k) + "/5");
    const double n = static_cast<double>(count_between(p, 2.0 * (k - 1), 2.0 * k));
    EXPECT_LE(std::abs(n - 2 * 100.0 * k / 5), 1.0);
  }
}

TEST(Profile, SpikeIsThirds) {
  Profile p = Profile::from_spec(spec(plan::Mode::kSpike, 100, 9));
  EXPECT_NEAR(p.rate_at(1), 20, 1e-9);
  EXPECT_NEAR(p.rate_at(4), 100, 1e-9);
  EXPECT_NEAR(p.rate_at(8), 20, 1e-9);
  EXPECT_NEAR(p.total_iterations(), 60 + 300 + 60, 1e-9);
}

TEST(Profile, DecreasingRateInvertsStably) {
  Profile p({{10, 100, 0, "down"}});
  EXPECT_NEAR(p.total_iterations(), 500, 1e-9);
  double prev = -1;
  for (std::uint64_t k = 0; k < 500; ++k) {
    auto t = p.time_of(k);
    ASSERT_TRUE(t.has_value()) << k;
    EXPECT_GT(*t, prev);
    EXPECT_NEAR(p.due_by(*t), k, 1e-6);
    prev = *t;
  }
  EXPECT_FALSE(p.time_of(500).has_value());
}

TEST(Profile, ZeroRateSegmentsAreSkipped) {
  Profile p({{1, 10, 10, "a"}, {2, 0, 0, "pause"}, {1, 10, 10, "b"}});
  EXPECT_NEAR(*p.time_of(10), 3.0, 1e-9);
  EXPECT_EQ(count_between(p, 0, 4), 20u);
}

}  // namespace
}  // namespace loadpilot::load
