// Free-form stages: the curve a table makes (load::Profile) and the
// table's validation (plan::validate_table, plan::Plan::from_json).
#include "plan/stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "load/profile.h"

namespace loadpilot {
namespace {

plan::ProfileSpec table(std::vector<plan::StageSpec> stages, double start = 0,
                        plan::Mode mode = plan::Mode::kStages) {
  plan::ProfileSpec s;
  s.mode = mode;
  s.stages = std::move(stages);
  s.start = start;
  plan::settle_table(&s, false);
  return s;
}

// Every start instant of the curve, as the pacer walks them.
std::vector<double> instants(const load::Profile& p) {
  std::vector<double> out;
  for (std::uint64_t k = 0;; ++k) {
    auto t = p.time_of(k);
    if (!t) break;
    out.push_back(*t);
  }
  return out;
}

std::size_t count_in(const std::vector<double>& at, double from, double to) {
  return static_cast<std::size_t>(
      std::count_if(at.begin(), at.end(), [&](double t) { return t >= from && t < to; }));
}

// The integral of a piecewise-linear rate, by the trapezoid of each stage.
double integral(const std::vector<plan::StageSpec>& stages, double start) {
  double h = 0, r = start;
  for (const auto& s : stages) {
    h += 0.5 * (r + s.target) * s.duration_s;
    r = s.target;
  }
  return h;
}

const std::vector<plan::StageSpec> kFive = {{1.0, 50}, {2.0, 50}, {0.5, 300}, {1.0, 300}, {1.5, 0}};

TEST(Stages, FiveSegmentTableStartsTheIntegralToTheIteration) {
  const load::Profile p = load::Profile::from_spec(table(kFive));
  EXPECT_DOUBLE_EQ(p.total_s(), 6.0);
  const double h = integral(kFive, 0);  // 25 + 100 + 87.5 + 300 + 225
  EXPECT_DOUBLE_EQ(h, 737.5);
  EXPECT_NEAR(p.total_iterations(), h, 1e-9);
  const std::vector<double> at = instants(p);
  EXPECT_LE(std::abs(static_cast<double>(at.size()) - h), 1.0) << at.size();
  EXPECT_EQ(p.count_due_by(p.total_s()), at.size());
  // Each stage's own window holds its own integral to +-1.
  double t = 0, r = 0;
  for (const auto& s : kFive) {
    const double want = 0.5 * (r + s.target) * s.duration_s;
    const double got = static_cast<double>(count_in(at, t, t + s.duration_s));
    EXPECT_LE(std::abs(got - want), 1.0) << "stage ending at " << t + s.duration_s;
    t += s.duration_s;
    r = s.target;
  }
  // And so does every 100 ms window (no bursts at stage edges).
  for (double w = 0; w < 5.95; w += 0.1) {
    const double got = static_cast<double>(count_in(at, w, w + 0.1));
    EXPECT_LE(std::abs(got - (p.due_by(w + 0.1) - p.due_by(w))), 1.0) << "window at " << w;
  }
}

TEST(Stages, StartInstantsRiseAndInvertTheIntegral) {
  const load::Profile p = load::Profile::from_spec(table(kFive));
  const std::vector<double> at = instants(p);
  ASSERT_FALSE(at.empty());
  EXPECT_DOUBLE_EQ(at.front(), 0.0);
  for (std::size_t k = 1; k < at.size(); ++k) {
    ASSERT_GT(at[k], at[k - 1]) << "iteration " << k;
    EXPECT_NEAR(p.due_by(at[k]), static_cast<double>(k), 1e-6) << "iteration " << k;
  }
  EXPECT_LT(at.back(), p.total_s());
}

TEST(Stages, StartRateIsWhereTheFirstStageBegins) {
  const load::Profile from0 = load::Profile::from_spec(table({{2, 100}}));
  const load::Profile from50 = load::Profile::from_spec(table({{2, 100}}, 50));
  EXPECT_NEAR(from0.rate_at(0), 0, 1e-9);
  EXPECT_NEAR(from50.rate_at(0), 50, 1e-9);
  EXPECT_NEAR(from0.total_iterations(), 100, 1e-9);
  EXPECT_NEAR(from50.total_iterations(), 150, 1e-9);
}

TEST(Stages, ZeroRateStagesStartNothing) {
  // Idle, a ramp up and down, idle again in the middle, a last ramp.
  const std::vector<plan::StageSpec> idle = {{1, 0}, {1, 100}, {0.5, 0}, {1, 0}, {1, 40}};
  const load::Profile p = load::Profile::from_spec(table(idle));
  const std::vector<double> at = instants(p);
  EXPECT_EQ(count_in(at, 0, 1), 0u);
  EXPECT_EQ(count_in(at, 2.5, 3.5), 0u);
  EXPECT_LE(std::abs(static_cast<double>(at.size()) - integral(idle, 0)), 1.0);
  // Nothing is due before the curve leaves zero, and the first start is then.
  EXPECT_DOUBLE_EQ(at.front(), 1.0);
  EXPECT_NEAR(p.rate_at(3), 0, 1e-9);
  EXPECT_EQ(p.phase_at(0.5), "stage 1/5");
  EXPECT_EQ(p.phase_at(4), "stage 5/5");
}

TEST(Stages, AllZeroTableStartsNothing) {
  const load::Profile p = load::Profile::from_spec(table({{1, 0}, {2, 0}}));
  EXPECT_FALSE(p.time_of(0).has_value());
  EXPECT_EQ(p.count_due_by(5), 0u);
}

TEST(Stages, LastStageDownToZeroEndsInsideTheRun) {
  const std::vector<plan::StageSpec> down = {{1, 200}, {2, 0}};
  const load::Profile p = load::Profile::from_spec(table(down));
  const std::vector<double> at = instants(p);
  EXPECT_LE(std::abs(static_cast<double>(at.size()) - 300.0), 1.0);
  EXPECT_LT(at.back(), 3.0);
  // The rate falls: gaps between starts grow over the last stage.
  EXPECT_GT(at.back() - at[at.size() - 2], at[200] - at[199]);
  EXPECT_NEAR(p.rate_at(2.999999), 0, 1e-3);
}

TEST(Stages, ClosedTableIsTheUsersCurve) {
  plan::ProfileSpec s;
  s.mode = plan::Mode::kStages;
  s.stages = {{2, 10}, {2, 10}, {1, 0}};
  s.start = 2;
  plan::settle_table(&s, true);
  EXPECT_EQ(s.users, 10);
  EXPECT_TRUE(s.closed());
  EXPECT_DOUBLE_EQ(s.total_s(), 5);
  const load::Profile p = load::Profile::from_spec(s);
  EXPECT_NEAR(p.rate_at(0), 2, 1e-9);
  EXPECT_NEAR(p.rate_at(1), 6, 1e-9);
  EXPECT_NEAR(p.peak_rate(), 10, 1e-9);
  EXPECT_NEAR(*p.first_at_least(10, 0), 2, 1e-8);  // levels have a 1e-9 relative tolerance
}

TEST(Stages, ShapeTableHoldsEachStep) {
  // What a shape() evaluated every 100 ms makes: held steps.
  const plan::ProfileSpec s =
      table({{0.3, 10}, {0.2, 50}, {0.1, 0}, {0.4, 20}}, 0, plan::Mode::kShape);
  const load::Profile p = load::Profile::from_spec(s);
  EXPECT_NEAR(p.rate_at(0), 10, 1e-9);
  EXPECT_NEAR(p.rate_at(0.29), 10, 1e-9);
  EXPECT_NEAR(p.rate_at(0.31), 50, 1e-9);
  EXPECT_NEAR(p.rate_at(0.55), 0, 1e-9);
  EXPECT_NEAR(p.total_iterations(), 3 + 10 + 0 + 8, 1e-9);
  EXPECT_EQ(p.phase_at(0.1), "shape");
}

TEST(Stages, ManyShortStagesAddUpWithoutDrift) {
  // Two minutes of 0.1 s shape steps alternating 10/s and 20/s: 1,200
  // stages, 1,800 iterations. Summed naively the run would last
  // 119.99999999999746 s.
  std::vector<plan::StageSpec> steps;
  for (int i = 0; i < 1200; ++i) steps.push_back({0.1, i % 2 == 0 ? 10.0 : 20.0});
  const plan::ProfileSpec s = table(steps, 0, plan::Mode::kShape);
  EXPECT_DOUBLE_EQ(s.total_s(), 120);
  const load::Profile p = load::Profile::from_spec(s);
  EXPECT_DOUBLE_EQ(p.total_s(), 120);
  EXPECT_NEAR(p.total_iterations(), 1800, 1e-9);
  EXPECT_EQ(p.count_due_by(p.total_s()), 1800u);
}

// The shorthands are stages too: what each makes.
TEST(Stages, ShorthandsAreStages) {
  plan::ProfileSpec ramp;
  ramp.mode = plan::Mode::kRamp;
  ramp.rps = 100;
  ramp.duration_s = 10;
  ramp.ramp_up_s = 5;
  auto st = plan::stages_of(ramp);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_FALSE(st[0].hold);
  EXPECT_EQ(st[0].phase, "ramp-up");
  EXPECT_TRUE(st[1].hold);
  EXPECT_DOUBLE_EQ(st[1].target, 100);

  plan::ProfileSpec step = ramp;
  step.mode = plan::Mode::kStep;
  step.steps = 4;
  st = plan::stages_of(step);
  ASSERT_EQ(st.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_TRUE(st[k].hold);
    EXPECT_DOUBLE_EQ(st[k].target, 25.0 * (k + 1));
    EXPECT_DOUBLE_EQ(st[k].duration_s, 2.5);
  }
  // The knee's windows are the step profile's segments, one per step.
  EXPECT_EQ(load::Profile::from_spec(step).segments().size(), 4u);

  plan::ProfileSpec spike = ramp;
  spike.mode = plan::Mode::kSpike;
  spike.duration_s = 9;
  st = plan::stages_of(spike);
  ASSERT_EQ(st.size(), 3u);
  EXPECT_DOUBLE_EQ(st[1].target, 100);
  EXPECT_EQ(st[2].phase, "recovery");

  plan::ProfileSpec unlimited = ramp;
  unlimited.unlimited = true;
  EXPECT_TRUE(plan::stages_of(unlimited).empty());
}

// --- validation -----------------------------------------------------------

std::vector<std::string> problems(const plan::ProfileSpec& s) {
  std::vector<std::string> errors;
  plan::validate_table(s, &errors);
  return errors;
}

bool has(const std::vector<std::string>& errors, const std::string& wanted) {
  return std::find(errors.begin(), errors.end(), wanted) != errors.end();
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

TEST(StagesValidation, AGoodTableHasNoProblems) {
  EXPECT_TRUE(problems(table(kFive)).empty()) << joined(problems(table(kFive)));
}

TEST(StagesValidation, EachBadRowIsNamedWithItsValue) {
  const auto e = problems(table({{1, 10}, {0, 20}, {-2, 5}, {1, -5}, {NAN, 1}}));
  EXPECT_TRUE(has(e, "stages[1].duration: must be a duration > 0 (got 0s)")) << joined(e);
  EXPECT_TRUE(has(e, "stages[2].duration: must be a duration > 0 (got -2s)")) << joined(e);
  EXPECT_TRUE(has(e,
                  "stages[3].target: must be a number of iterations/s from 0 to 10000000 "
                  "(got -5)"))
      << joined(e);
  EXPECT_TRUE(has(e, "stages[4].duration: must be a duration > 0 (got nans)")) << joined(e);
  EXPECT_EQ(e.size(), 4u) << joined(e);
}

TEST(StagesValidation, EmptyAllZeroTooManyAndTooLong) {
  EXPECT_TRUE(has(problems(table({})),
                  "stages: at least one (duration, target) stage is "
                  "required (got [])"))
      << joined(problems(table({})));
  EXPECT_TRUE(has(problems(table({{1, 0}, {1, 0}})),
                  "stages: every target is 0, so nothing would run (got 2 stages)"))
      << joined(problems(table({{1, 0}, {1, 0}})));
  std::vector<plan::StageSpec> many(plan::kMaxStages + 1, plan::StageSpec{1, 1});
  EXPECT_TRUE(has(problems(table(many)), "stages: at most 20000 stages (got 20001)"))
      << joined(problems(table(many)));
  EXPECT_TRUE(has(problems(table({{5 * 86400, 1}, {3 * 86400, 1}})),
                  "stages: must last at most 604800s (7 days) in all (got 691200s)"))
      << joined(problems(table({{5 * 86400, 1}, {3 * 86400, 1}})));
  EXPECT_TRUE(has(problems(table({{1, 1}}, -3)),
                  "start: must be a number of iterations/s from 0 to 10000000 (got -3)"));
}

TEST(StagesValidation, ClosedTargetsAreWholeUsers) {
  plan::ProfileSpec s;
  s.mode = plan::Mode::kStages;
  s.stages = {{1, 2.5}, {1, 200000}};
  plan::settle_table(&s, true);
  const auto e = problems(s);
  EXPECT_TRUE(has(e,
                  "stages[0].target: must be a whole number of users from 0 to 100000 "
                  "(got 2.5)"))
      << joined(e);
  EXPECT_TRUE(has(e,
                  "stages[1].target: must be a whole number of users from 0 to 100000 "
                  "(got 200000)"))
      << joined(e);
}

TEST(StagesValidation, AShapeIsNamedByTime) {
  const auto e = problems(table({{0.5, 10}, {0.2, -1}}, 0, plan::Mode::kShape));
  EXPECT_TRUE(has(e,
                  "shape() at 0.5s: must be a number of iterations/s from 0 to 10000000 "
                  "(got -1)"))
      << joined(e);
}

TEST(StagesValidation, PlanJsonRoundTripsAndNamesBadRows) {
  plan::Plan p;
  p.name = "S";
  p.target = "http://127.0.0.1:1";
  p.profile = table(kFive, 5);
  plan::TaskSpec t;
  t.name = "a";
  t.request = plan::HttpRequestSpec{};
  p.tasks = {t};
  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["profile"]["mode"], "stages");
  EXPECT_EQ(j["profile"]["stages"][2], nlohmann::json::parse("[0.5, 300]"));
  EXPECT_EQ(j["profile"]["start"], 5);
  plan::Plan back = plan::Plan::from_json(j);
  ASSERT_EQ(back.profile.stages.size(), 5u);
  EXPECT_DOUBLE_EQ(back.profile.stages[4].duration_s, 1.5);
  EXPECT_DOUBLE_EQ(back.profile.rps, 300);  // the peak
  EXPECT_DOUBLE_EQ(back.profile.total_s(), 6);
  EXPECT_TRUE(plan::validate(back).empty()) << joined(plan::validate(back));

  // A closed table's users are its peak, whatever the JSON said.
  nlohmann::json closed = j;
  closed["profile"]["model"] = "closed";
  closed["profile"]["users"] = 1;
  closed["profile"]["stages"] = nlohmann::json::parse("[[1, 4], [1, 7], [1, 0]]");
  EXPECT_EQ(plan::Plan::from_json(closed).profile.users, 7);

  for (const char* bad :
       {R"("30s")", R"([[1, 2, 3]])", R"([[1, "a"]])", R"([["1s", 2]])", R"([1, 2])"}) {
    nlohmann::json k = j;
    k["profile"]["stages"] = nlohmann::json::parse(bad);
    try {
      plan::Plan::from_json(k);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const plan::PlanError& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with("profile.stages")) << e.what();
    }
  }
}

TEST(StagesValidation, ValidateNamesTheTable) {
  plan::Plan p;
  p.name = "S";
  p.target = "http://127.0.0.1:1";
  p.profile = table({{1, 10}, {0, 20}});
  plan::TaskSpec t;
  t.name = "a";
  t.request = plan::HttpRequestSpec{};
  p.tasks = {t};
  const auto e = plan::validate(p);
  EXPECT_TRUE(has(e, "stages[1].duration: must be a duration > 0 (got 0s)")) << joined(e);
  EXPECT_EQ(e.size(), 1u) << joined(e);
}

}  // namespace
}  // namespace loadpilot
