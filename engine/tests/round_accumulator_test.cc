// RoundAccumulator (metrics/round_accumulator.h): frames merged as they
// arrive, from several threads, come out of take() exactly once.
#include "metrics/round_accumulator.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using loadpilot::metrics::IntervalStats;
using loadpilot::metrics::RoundAccumulator;

namespace {

IntervalStats frame(std::uint64_t latency_us) {
  IntervalStats s(1);
  s.iterations_started = 1;
  s.tasks[0].iterations = 1;
  s.tasks[0].requests = 1;
  s.tasks[0].latency.record(latency_us);
  return s;
}

}  // namespace

TEST(RoundAccumulator, TakeReturnsTheExactSumOfWhatWasAddedSinceTheLastTake) {
  RoundAccumulator acc(1);
  EXPECT_EQ(acc.take().iterations_started, 0u);
  IntervalStats expected(1);
  for (std::uint64_t v = 1; v <= 5; ++v) {
    expected.merge(frame(v * 1000));
    acc.add(frame(v * 1000));
  }
  const IntervalStats got = acc.take();
  EXPECT_EQ(got.iterations_started, 5u);
  EXPECT_TRUE(got.tasks[0].latency == expected.tasks[0].latency);
  const IntervalStats again = acc.take();
  EXPECT_EQ(again.iterations_started, 0u);
  ASSERT_EQ(again.tasks.size(), 1u);
  EXPECT_EQ(again.tasks[0].latency.count(), 0u);
}

// Four threads add while one takes: every frame is in exactly one take.
TEST(RoundAccumulator, ConcurrentAddsAreEachTakenOnce) {
  RoundAccumulator acc(1);
  constexpr std::uint64_t kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&acc, t] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) acc.add(frame(100 + 10 * t + i % 7));
    });
  std::uint64_t started = 0, latencies = 0;
  for (int i = 0; i < 50; ++i) {
    const IntervalStats s = acc.take();
    started += s.iterations_started;
    latencies += s.tasks[0].latency.count();
  }
  for (std::thread& t : threads) t.join();
  const IntervalStats rest = acc.take();
  started += rest.iterations_started;
  latencies += rest.tasks[0].latency.count();
  EXPECT_EQ(started, 4 * kPerThread);
  EXPECT_EQ(latencies, 4 * kPerThread);
}
