// The engine's pacing and books without sockets: workers get a Sender that
// answers after a set delay, or never, so drops, lateness, the drain, cut-off
// and stop() are measured exactly (docs/output.md#iterations).
#include "load/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <thread>

#include "load/profile.h"
#include "load/sender.h"

namespace loadpilot::load {
namespace {

using namespace std::chrono_literals;

// Answers every request `delay` after it was sent (never, when delay is
// nullopt, until close()). Its send number `block_at` (0: the first) first
// holds the worker's thread for `block`. Lives on one worker's io_context.
class TimedSender : public Sender {
 public:
  TimedSender(boost::asio::io_context& io, std::size_t capacity,
              std::optional<std::chrono::milliseconds> delay, std::chrono::milliseconds block = 0ms,
              std::size_t block_at = 0)
      : io_(io), capacity_(capacity), delay_(delay), block_(block), block_at_(block_at) {}

  void send(std::uint32_t, Callback cb) override {
    if (sends_++ == block_at_ && block_ > 0ms) {
      // A worker thread that cannot answer the collector for a while.
      std::this_thread::sleep_for(block_);
    }
    ++busy_;
    auto timer = std::make_shared<boost::asio::steady_timer>(io_);
    const auto sent = std::chrono::steady_clock::now();
    timer->expires_after(delay_ ? *delay_ : std::chrono::hours(24));
    timers_.push_back(timer);
    timer->async_wait([this, timer, sent, cb = std::move(cb)](const boost::system::error_code& ec) {
      --busy_;
      http::Result r;
      r.sent_at = sent;
      r.done_at = std::chrono::steady_clock::now();
      if (ec) {
        r.error = metrics::ErrorKind::kReset;
        r.error_message = "shutdown";
      } else {
        r.status = 200;
      }
      cb(std::move(r));
    });
  }
  std::size_t busy() const override { return busy_; }
  std::size_t capacity() const override { return capacity_; }
  std::size_t open_connections() const override { return busy_; }
  void close() override {
    for (auto& t : timers_)
      if (auto p = t.lock()) p->cancel();
  }

 private:
  boost::asio::io_context& io_;
  std::size_t capacity_;
  std::optional<std::chrono::milliseconds> delay_;
  std::chrono::milliseconds block_;
  std::size_t block_at_;
  std::size_t sends_ = 0;
  std::size_t busy_ = 0;
  std::vector<std::weak_ptr<boost::asio::steady_timer>> timers_;
};

plan::Plan constant_plan(double rps, double duration_s) {
  plan::Plan p;
  p.name = "engine_test";
  p.target = "http://127.0.0.1:9";
  p.profile.mode = plan::Mode::kConstant;
  p.profile.rps = rps;
  p.profile.duration_s = duration_s;
  plan::TaskSpec t;
  t.name = "get";
  t.request = plan::HttpRequestSpec{};
  p.tasks.push_back(t);
  return p;
}

struct RunResult {
  RunOutcome outcome;
  metrics::IntervalStats books;
  double wall_s = 0;
  std::uint64_t max_active = 0;
  std::uint64_t max_active_users = 0;
  std::vector<metrics::Snapshot> snapshots;
  double planned = 0;
};

RunResult run_engine(const plan::Plan& plan, EngineOptions options,
                     const std::function<void(Engine&)>& during = nullptr) {
  std::string error;
  const auto target = http::Target::parse(plan.target, &error);
  EXPECT_TRUE(target.has_value());
  Engine engine(plan, *target, options);
  RunResult r;
  r.planned = engine.profile().total_iterations();
  std::thread side;
  if (during) side = std::thread([&] { during(engine); });
  const auto start = std::chrono::steady_clock::now();
  r.outcome = engine.run([&](const metrics::Snapshot& s) {
    r.max_active = std::max<std::uint64_t>(r.max_active, s.active);
    r.max_active_users = std::max<std::uint64_t>(r.max_active_users, s.active_users);
    r.snapshots.push_back(s);
  });
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (side.joinable()) side.join();
  r.books = engine.collector().cumulative();
  return r;
}

EngineOptions options_with(std::size_t workers, std::size_t capacity,
                           std::optional<std::chrono::milliseconds> delay,
                           std::chrono::milliseconds block = 0ms, std::size_t block_at = 0) {
  EngineOptions o;
  o.workers = workers;
  o.max_connections = workers * capacity;
  o.make_sender = [=](boost::asio::io_context& io, std::size_t index) {
    return std::make_unique<TimedSender>(io, capacity, delay, index == 0 ? block : 0ms, block_at);
  };
  return o;
}

std::uint64_t finished(const metrics::IntervalStats& s) {
  std::uint64_t n = 0;
  for (const auto& t : s.tasks) n += t.iterations;
  return n;
}

TEST(Engine, EveryPlannedArrivalStartsAndFinishes) {
  const RunResult r = run_engine(constant_plan(200, 1), options_with(2, 8, 1ms));
  EXPECT_DOUBLE_EQ(r.planned, 200);
  EXPECT_EQ(r.books.iterations_started, 200u);
  EXPECT_EQ(r.books.dropped, 0u);
  EXPECT_EQ(r.books.cut_off, 0u);
  EXPECT_EQ(finished(r.books), 200u);
  EXPECT_EQ(r.books.tasks[0].requests, 200u);
  EXPECT_FALSE(r.outcome.interrupted);
}

TEST(Engine, OverloadDropsTheExcessWithoutQueueingIt) {
  // A million arrivals a second into 2 x 4 connections answering in 5 ms
  // (1,600/s at most): the queue stays at its bound, the backlog is
  // counted as dropped in bulk, and the run ends on time.
  plan::Plan plan = constant_plan(1e6, 1);
  EngineOptions o = options_with(2, 4, 5ms);
  o.max_queue = 20;
  o.drain = 200ms;
  const RunResult r = run_engine(plan, o);
  EXPECT_LT(r.wall_s, 1 + 0.2 + 1.0);
  EXPECT_LE(r.max_active, 2u * 4 + 20);
  EXPECT_GT(r.books.dropped, 990'000u);
  EXPECT_EQ(r.books.iterations_started + r.books.dropped, 1'000'000u);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
  EXPECT_LT(r.books.iterations_started, 2'000u);
}

TEST(Engine, ArrivalsThatWaitForAConnectionAreLate) {
  // One connection answering in 20 ms against 100 arrivals/s: most wait.
  EngineOptions o = options_with(1, 1, 20ms);
  o.max_queue = 1000;
  o.drain = 100ms;
  const RunResult r = run_engine(constant_plan(100, 0.5), o);
  EXPECT_EQ(r.books.iterations_started + r.books.dropped, 50u);
  EXPECT_GT(r.books.late, 10u);
  // Nothing starts after the profile: what still waited was dropped.
  EXPECT_GT(r.books.dropped, 0u);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
}

TEST(Engine, ArrivalsThatWaitedPastTheTimeoutAreDropped) {
  // One connection answering in 300 ms; a queued arrival older than the
  // 100 ms timeout is dropped when its turn comes, not sent.
  EngineOptions o = options_with(1, 1, 300ms);
  o.max_queue = 1000;
  o.timeout = 100ms;
  o.drain = 500ms;
  const RunResult r = run_engine(constant_plan(100, 1), o);
  EXPECT_EQ(r.books.iterations_started + r.books.dropped, 100u);
  EXPECT_LE(r.books.iterations_started, 5u);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
}

TEST(Engine, ASilentTargetIsCutOffAfterTheDrain) {
  EngineOptions o = options_with(2, 100, std::nullopt);
  o.drain = 300ms;
  const RunResult r = run_engine(constant_plan(100, 0.5), o);
  EXPECT_LT(r.wall_s, 0.5 + 0.3 + 0.7);
  EXPECT_EQ(r.books.iterations_started, 50u);
  EXPECT_EQ(finished(r.books), 0u);
  EXPECT_EQ(r.books.cut_off, 50u);
  EXPECT_EQ(r.books.tasks[0].requests, 0u);
}

TEST(Engine, StopDrainsAndASecondStopEndsAtOnce) {
  EngineOptions o = options_with(2, 100, std::nullopt);
  o.drain = 10s;
  const RunResult r = run_engine(constant_plan(100, 30), o, [](Engine& e) {
    std::this_thread::sleep_for(300ms);
    e.stop();  // the drain would wait 10 s for the silent target...
    std::this_thread::sleep_for(300ms);
    e.stop();  // ...the second stop ends it now
  });
  EXPECT_TRUE(r.outcome.interrupted);
  EXPECT_LT(r.wall_s, 2.0);
  EXPECT_GT(r.books.iterations_started, 0u);
  EXPECT_EQ(r.books.cut_off, r.books.iterations_started);
  EXPECT_EQ(finished(r.books), 0u);
}

TEST(Engine, AStopWithAShorterDrainCutsOffThenNotAtTheRunsDrain) {
  // A threshold's abort: the run's drain is 10 s, this stop allows 200 ms.
  EngineOptions o = options_with(2, 100, std::nullopt);
  o.drain = 10s;
  const RunResult r = run_engine(constant_plan(100, 30), o, [](Engine& e) {
    std::this_thread::sleep_for(300ms);
    e.stop(200ms);
  });
  EXPECT_TRUE(r.outcome.interrupted);
  EXPECT_LT(r.wall_s, 2.0);
  EXPECT_GT(r.books.iterations_started, 0u);
  EXPECT_EQ(r.books.cut_off, r.books.iterations_started);
}

TEST(Engine, ALateAnswerToTheCollectorIsMergedNotLost) {
  // Worker 0 blocks for 2.5 s in its first send: the collector gives up on
  // it for a round (2 s), and its answer must land in a later round.
  EngineOptions o = options_with(2, 8, 1ms, 2500ms);
  o.drain = 3s;
  const RunResult r = run_engine(constant_plan(20, 1), o);
  // Worker 0's other arrivals came due while it was blocked; the profile
  // (1 s) was over when it woke, but they were due within it: they start,
  // late, as they would have mid-run.
  EXPECT_EQ(r.books.iterations_started, 20u);
  EXPECT_EQ(r.books.dropped, 0u);
  EXPECT_GE(r.books.late, 9u);
  EXPECT_EQ(r.books.tasks[0].requests + r.books.cut_off, r.books.iterations_started);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
}

TEST(Engine, ArrivalsTheLoopReachesJustAfterTheEndStillStartLate) {
  // 100/s for 0.5 s on one worker: arrivals at 0, 10, ..., 490 ms. The
  // send at 470 ms holds the loop for 80 ms, so the arrivals due at 480
  // and 490 ms are reached only after the end (500 ms). A busy machine
  // must not turn them into drops.
  EngineOptions o = options_with(1, 8, 1ms, 80ms, 47);
  o.drain = 500ms;
  const RunResult r = run_engine(constant_plan(100, 0.5), o);
  EXPECT_EQ(r.books.iterations_started, 50u);
  EXPECT_EQ(r.books.dropped, 0u);
  EXPECT_GE(r.books.late, 2u);
  EXPECT_EQ(finished(r.books), 50u);
}

plan::Plan closed_plan(int users, plan::WaitSpec wait, double duration_s) {
  plan::Plan p = constant_plan(1, duration_s);
  p.profile.users = users;
  p.profile.rps = 0;
  p.profile.wait = wait;
  return p;
}

TEST(Engine, ClosedUsersLoopWithThinkTimeAndKeepTheBooks) {
  // 10 users, 10 ms answers, 50 ms think: each user makes an iteration
  // every 60 ms or a little more (timers are not exact), about 416 in 2.5 s.
  plan::WaitSpec think;
  think.kind = plan::WaitSpec::Kind::kConstant;
  think.min_s = think.max_s = 0.05;
  EngineOptions o = options_with(2, 8, 10ms);
  o.drain = 500ms;
  const RunResult r = run_engine(closed_plan(10, think, 2.5), o);
  EXPECT_GT(r.books.iterations_started, 200u);
  EXPECT_LE(r.books.iterations_started, 10u * 43);
  EXPECT_EQ(r.books.dropped, 0u);
  EXPECT_EQ(r.books.pacing_late, 0u);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
  // A closed model never has more in flight than users, and every user is
  // present while the run goes on.
  EXPECT_LE(r.max_active, 10u);
  EXPECT_EQ(r.max_active_users, 10u);
  ASSERT_FALSE(r.snapshots.empty());
  EXPECT_TRUE(r.snapshots.front().closed);
  EXPECT_EQ(r.snapshots.front().target_users, 10u);
  EXPECT_EQ(r.snapshots.front().target_rps, 0);
}

TEST(Engine, ClosedPacingSlotsThatAnIterationOutlastsAreCountedLate) {
  // Pacing of 20 ms against 50 ms answers: every slot after the first is
  // missed, so each user starts again at once, late.
  plan::WaitSpec pacing;
  pacing.kind = plan::WaitSpec::Kind::kPacing;
  pacing.min_s = pacing.max_s = 0.02;
  EngineOptions o = options_with(1, 4, 50ms);
  o.drain = 500ms;
  const RunResult r = run_engine(closed_plan(4, pacing, 0.5), o);
  EXPECT_GT(r.books.iterations_started, 4u * 5);
  EXPECT_GE(r.books.pacing_late + 4, r.books.iterations_started);
  EXPECT_GE(r.books.late, r.books.pacing_late);
  EXPECT_EQ(r.books.iterations_started, finished(r.books) + r.books.cut_off);
}

}  // namespace
}  // namespace loadpilot::load
