// The run-queue wait of a thread (load/run_queue.h): the schedstat parse,
// the share, and a real read of this thread's own file.
#include "load/run_queue.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace loadpilot::load {
namespace {

using namespace std::chrono_literals;

TEST(RunQueue, ParsesTheSecondFieldOfASchedstatLine) {
  EXPECT_EQ(parse_schedstat_wait("167879766 59614209 23\n"), 59614209u);
  EXPECT_EQ(parse_schedstat_wait("0 3552187 1"), 3552187u);
  EXPECT_EQ(parse_schedstat_wait("18446744073709551615 18446744073709551614 1\n"),
            18446744073709551614u);
}

TEST(RunQueue, RefusesWhatIsNotASchedstatLine) {
  for (const char* bad : {"", "\n", "12", "12 34", "12 34\n", "12  34 5", "a 34 5", "12 -34 5",
                          "12 34 5 6", "12 34 5x", " 12 34 5", "12 184467440737095516160 5"})
    EXPECT_EQ(parse_schedstat_wait(bad), std::nullopt) << '"' << bad << '"';
}

TEST(RunQueue, ShareIsTheWaitOverTheWallTime) {
  EXPECT_DOUBLE_EQ(*RunQueueWait::share(1'000'000, 251'000'000, 1s), 0.25);
  EXPECT_DOUBLE_EQ(*RunQueueWait::share(5, 5, 1s), 0.0);
  // Several CPUs' worth of rounding cannot read over 1.
  EXPECT_DOUBLE_EQ(*RunQueueWait::share(0, 3'000'000'000, 2s), 1.0);
  // No time passed, or a counter that went back (not ours): no figure.
  EXPECT_EQ(RunQueueWait::share(0, 10, 0s), std::nullopt);
  EXPECT_EQ(RunQueueWait::share(10, 5, 1s), std::nullopt);
}

TEST(RunQueue, UnreadableFileGivesNoFigure) {
  RunQueueWait w("/nonexistent/schedstat");
  EXPECT_EQ(w.sample(), std::nullopt);
  EXPECT_EQ(w.sample(), std::nullopt);
  EXPECT_EQ(read_schedstat_wait("/nonexistent/schedstat"), std::nullopt);
}

TEST(RunQueue, ReadsThisThreadsOwnWaitAndAnotherThreadsById) {
  if (!read_schedstat_wait(kOwnSchedstat)) GTEST_SKIP() << "this kernel has no schedstat";
  RunQueueWait own;
  RunQueueWait by_id(schedstat_path(static_cast<pid_t>(::syscall(SYS_gettid))));
  const auto t0 = RunQueueWait::Clock::now();
  EXPECT_EQ(own.sample(t0), std::nullopt);  // the first call marks the start
  EXPECT_EQ(by_id.sample(t0), std::nullopt);
  std::this_thread::sleep_for(20ms);
  const auto t1 = RunQueueWait::Clock::now();
  const std::optional<double> a = own.sample(t1), b = by_id.sample(t1);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_GE(*a, 0.0);
  EXPECT_LE(*a, 1.0);
  EXPECT_GE(*b, 0.0);
  EXPECT_LE(*b, 1.0);
}

}  // namespace
}  // namespace loadpilot::load
