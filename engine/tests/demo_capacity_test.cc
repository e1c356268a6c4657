// demo-api --capacity: the pool's queueing arithmetic, with made-up instants.
#include <gtest/gtest.h>

#include <chrono>

#include "demo/capacity.h"

namespace loadpilot::demo {
namespace {

using Clock = CapacityPool::Clock;
using std::chrono::milliseconds;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

TEST(CapacityPool, ServiceTimeIsWorkersOverCapacity) {
  CapacityPool pool(400, 8);
  EXPECT_EQ(pool.workers(), 8);
  EXPECT_DOUBLE_EQ(ms(pool.service_time()), 20.0);
  EXPECT_EQ(CapacityPool::default_workers(400), 8);
  EXPECT_EQ(CapacityPool::default_workers(10), 1);
  EXPECT_EQ(CapacityPool(1500, 0).workers(), 30);
}

// Arrivals evenly paced below the capacity each find a free server: every
// response takes the service time and no more.
TEST(CapacityPool, LatencyIsFlatBelowCapacity) {
  CapacityPool pool(400, 8);  // 20 ms each
  const Clock::time_point t0{};
  for (int k = 0; k < 4000; ++k) {
    // 380 requests/s: one every 1/380 s.
    const auto at =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / 380.0));
    ASSERT_NEAR(ms(pool.admit(at) - at), 20.0, 1e-3) << "request " << k;
  }
}

// Above the capacity the excess queues: after T seconds at rate r > N the
// wait is about (r - N) * T / N seconds, and it keeps growing.
TEST(CapacityPool, LatencyClimbsAboveCapacity) {
  CapacityPool pool(400, 8);
  const Clock::time_point t0{};
  double last_wait = 0;
  for (int k = 0; k < 4400; ++k) {  // 10 s at 440 requests/s
    const auto at =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / 440.0));
    const double wait = ms(pool.admit(at) - at);
    if (k % 440 == 439) {
      const double t = (k + 1) / 440.0;
      EXPECT_NEAR(wait, 20.0 + 40.0 * t / 400.0 * 1000.0, 25.0) << "after " << t << " s";
      EXPECT_GT(wait, last_wait);
      last_wait = wait;
    }
  }
  EXPECT_GT(last_wait, 1000.0);  // a second of queue after 10 s at +10%
}

TEST(CapacityPool, RefusesNoCapacity) { EXPECT_THROW(CapacityPool(0, 1), std::invalid_argument); }

}  // namespace
}  // namespace loadpilot::demo
