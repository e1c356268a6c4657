// The socket-free side of `loadpilot agent --simulate N`
// (cluster/agent/simulated_round.h): shares that add up to the run's
// schedule, frames of the asked size that parse as real ones, and the start
// spread.
#include "cluster/agent/simulated_round.h"

#include <gtest/gtest.h>

#include <cmath>

#include "cluster/frame.h"
#include "load/engine.h"

namespace sim = loadpilot::agents::sim;
using loadpilot::load::Profile;
using loadpilot::load::Segment;

namespace {

// Every agent's rounds, second by second to the profile's end: each share
// once, nothing twice, the whole schedule.
std::uint64_t all_rounds(const Profile& p, std::size_t n) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t mine = 0;
    for (std::uint64_t s = 1; static_cast<double>(s - 1) < p.total_s(); ++s)
      mine += sim::share_due(p, i, n, s == 1 ? -1 : static_cast<double>(s - 1),
                             std::min(static_cast<double>(s), p.total_s()));
    EXPECT_EQ(mine, loadpilot::load::share_of(p.count_due_by(p.total_s()), i, n)) << i;
    total += mine;
  }
  return total;
}

}  // namespace

TEST(SimulatedRound, SharesAddUpToTheScheduleOnAConstantRate) {
  const Profile p({Segment{5, 200, 200, "steady"}});
  EXPECT_EQ(all_rounds(p, 7), p.count_due_by(p.total_s()));
  EXPECT_EQ(p.count_due_by(p.total_s()),
            static_cast<std::uint64_t>(std::ceil(p.total_iterations())));
}

TEST(SimulatedRound, SharesAddUpOnARampWithAFractionalEnd) {
  // More agents than iterations in some seconds; the run ends mid-second.
  const Profile p({Segment{2.5, 1, 40, "ramp-up"}, Segment{1.25, 40, 40, "steady"}});
  for (std::size_t n : {1u, 3u, 100u})
    EXPECT_EQ(all_rounds(p, n), p.count_due_by(p.total_s())) << n;
}

TEST(SimulatedRound, TheFirstRoundCountsTheIterationAtZero) {
  const Profile p({Segment{2, 10, 10, "steady"}});
  EXPECT_EQ(sim::share_due(p, 0, 1, -1, 1), p.count_due_by(1));
  EXPECT_GE(p.count_due_by(0), 1u);  // iteration 0 is due at t = 0
}

TEST(SimulatedRound, FramesHaveTheAskedSizeAndParseAsRoundFrames) {
  for (std::size_t bytes : {1000u, 10'000u, 60'000u}) {
    const std::size_t fill = sim::fill_for_bytes(1, bytes);
    const std::string frame =
        sim::round_frame("r1", "a-0001", 3, sim::round_stats(1, 50, fill, 2.5));
    // About the size: the ids and numbers of a real run differ by a few bytes.
    EXPECT_GE(frame.size() + 100, bytes);
    EXPECT_LE(frame.size(), bytes + bytes / 20 + 200) << bytes;
    const loadpilot::agents::Frame f = loadpilot::agents::parse_frame(frame);
    EXPECT_EQ(f.type, loadpilot::agents::Frame::Type::kRound);
    EXPECT_EQ(f.seq, 3u);
    EXPECT_EQ(f.stats.iterations_started, 50u);
    EXPECT_EQ(f.stats.tasks.at(0).iterations, 50u);
    // Every request is one a histogram holds.
    EXPECT_EQ(f.stats.tasks[0].latency.count(), f.stats.tasks[0].requests);
  }
}

TEST(SimulatedRound, StatsSpreadIterationsOverTasksExactly) {
  const auto s = sim::round_stats(3, 10, 0, 1);
  EXPECT_EQ(s.tasks[0].iterations + s.tasks[1].iterations + s.tasks[2].iterations, 10u);
  EXPECT_EQ(s.tasks[0].iterations, 4u);
  EXPECT_EQ(s.tasks[0].requests, s.tasks[0].wire_iterations);
}

TEST(SimulatedRound, StartSpreadIsTheLatestMinusTheEarliest) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0(std::chrono::seconds(100));
  const auto sp =
      sim::start_spread(t0,
                        {t0 + std::chrono::microseconds(300), t0 - std::chrono::microseconds(200),
                         t0 + std::chrono::microseconds(1300)},
                        1);
  EXPECT_EQ(sp.agents, 3u);
  EXPECT_NEAR(sp.spread_ms, 1.5, 1e-9);
  EXPECT_NEAR(sp.worst_late_ms, 1.3, 1e-9);
  EXPECT_EQ(sp.late, 1u);
  EXPECT_EQ(sim::start_spread(t0, {}, 0).spread_ms, 0);
}
