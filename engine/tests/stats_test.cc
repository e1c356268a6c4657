// Exact merges, the bounded error-message table, and Recorder::take().
#include "metrics/stats.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace loadpilot::metrics {
namespace {

constexpr ErrorKind kTimeout = ErrorKind::kTimeout;
constexpr ErrorKind kConnect = ErrorKind::kConnect;

TEST(TaskStats, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::uint64_t> latency(0, 5'000'000);
  std::uniform_int_distribution<std::size_t> kind(0, kErrorKindCount - 1);
  TaskStats whole, a, b;
  for (int i = 0; i < 10'000; ++i) {
    TaskStats& part = i % 3 ? a : b;
    const std::uint64_t l = latency(rng), s = l / 2, it = l + 100;
    for (TaskStats* t : {&whole, &part}) {
      ++t->requests;
      ++t->iterations;
      t->latency.record(l);
      t->service.record(s);
      t->iteration.record(it);
    }
    if (i % 17 == 0) {
      const std::size_t k = kind(rng);
      for (TaskStats* t : {&whole, &part}) {
        ++t->errors;
        ++t->errors_by_kind[k];
      }
    }
  }
  TaskStats merged;
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.requests, whole.requests);
  EXPECT_EQ(merged.errors, whole.errors);
  EXPECT_EQ(merged.iterations, whole.iterations);
  EXPECT_EQ(merged.errors_by_kind, whole.errors_by_kind);
  EXPECT_EQ(merged.latency, whole.latency);
  EXPECT_EQ(merged.service, whole.service);
  EXPECT_EQ(merged.iteration, whole.iteration);
}

TEST(ErrorMessages, CountsAndKeepsEarliestFirstSeen) {
  ErrorMessages m;
  m.add(kTimeout, "read timed out", 5.0);
  m.add(kTimeout, "read timed out", 2.5, 3);
  m.add(kConnect, "read timed out", 1.0);  // same text, other kind: separate
  ASSERT_EQ(m.entries.size(), 2u);
  const auto& e = m.entries.at({kTimeout, "read timed out"});
  EXPECT_EQ(e.count, 4u);
  EXPECT_EQ(e.first_seen_s, 2.5);
  EXPECT_EQ(m.entries.at({kConnect, "read timed out"}).count, 1u);
}

TEST(ErrorMessages, BoundedWithPerKindOverflow) {
  ErrorMessages m;
  for (std::size_t i = 0; i < ErrorMessages::kMaxDistinct + 50; ++i)
    m.add(kTimeout, "timeout #" + std::to_string(i), static_cast<double>(i));
  m.add(kConnect, "refused", 999.0, 7);
  m.add(kTimeout, "timeout #0", 1000.0);  // known messages still count
  EXPECT_EQ(m.entries.size(), ErrorMessages::kMaxDistinct + 2);
  EXPECT_EQ(m.entries.at({kTimeout, "(other messages)"}).count, 50u);
  EXPECT_EQ(m.entries.at({kTimeout, "(other messages)"}).first_seen_s, 200.0);
  EXPECT_EQ(m.entries.at({kConnect, "(other messages)"}).count, 7u);
  EXPECT_EQ(m.entries.at({kTimeout, "timeout #0"}).count, 2u);
  EXPECT_FALSE(m.entries.count({kConnect, "refused"}));

  std::uint64_t timeouts = 0;
  for (const auto& [key, entry] : m.entries)
    if (key.first == kTimeout) timeouts += entry.count;
  EXPECT_EQ(timeouts, ErrorMessages::kMaxDistinct + 51) << "no error may be lost";
}

TEST(ErrorMessages, MergeAddsCountsAndRespectsBound) {
  ErrorMessages a, b;
  a.add(kTimeout, "slow", 3.0, 2);
  b.add(kTimeout, "slow", 1.0, 5);
  b.add(ErrorKind::kHttp5xx, "503 Service Unavailable", 4.0);
  a.merge(b);
  EXPECT_EQ(a.entries.size(), 2u);
  EXPECT_EQ(a.entries.at({kTimeout, "slow"}).count, 7u);
  EXPECT_EQ(a.entries.at({kTimeout, "slow"}).first_seen_s, 1.0);

  ErrorMessages big, other;
  for (std::size_t i = 0; i < ErrorMessages::kMaxDistinct; ++i)
    big.add(kConnect, "a" + std::to_string(i), 0);
  for (std::size_t i = 0; i < 30; ++i) other.add(kConnect, "b" + std::to_string(i), 0, 2);
  big.merge(other);
  EXPECT_EQ(big.entries.size(), ErrorMessages::kMaxDistinct + 1);
  EXPECT_EQ(big.entries.at({kConnect, "(other messages)"}).count, 60u);
}

TEST(ErrorMessages, TopIsMostFrequentFirstThenKindThenMessage) {
  ErrorMessages m;
  m.add(ErrorKind::kHttp5xx, "b", 0, 5);
  m.add(ErrorKind::kHttp5xx, "a", 0, 5);
  m.add(kConnect, "z", 0, 5);
  m.add(kTimeout, "most", 0, 9);
  m.add(kTimeout, "least", 0, 1);
  const auto top = m.top(10);
  ASSERT_EQ(top.size(), 5u);
  EXPECT_EQ(top[0].first, std::make_pair(kTimeout, std::string("most")));
  EXPECT_EQ(top[1].first, std::make_pair(kConnect, std::string("z")));  // connect < http_5xx
  EXPECT_EQ(top[2].first, std::make_pair(ErrorKind::kHttp5xx, std::string("a")));
  EXPECT_EQ(top[3].first, std::make_pair(ErrorKind::kHttp5xx, std::string("b")));
  EXPECT_EQ(top[4].second.count, 1u);
  EXPECT_EQ(m.top(2).size(), 2u);
  EXPECT_EQ(m.top(2)[1].first.second, "z");
  EXPECT_TRUE(m.top(0).empty());
  EXPECT_TRUE(ErrorMessages().top(3).empty());
}

TEST(IntervalStats, MergeIsExactAndGrowsAnEmptyTarget) {
  IntervalStats a(2), b(2);
  a.tasks[0].requests = 3;
  a.tasks[1].latency.record(1000);
  b.tasks[1].latency.record(2000);
  b.tasks[1].errors_by_kind[3] = 4;
  a.iterations_started = 10;
  b.iterations_started = 5;
  a.dropped = 1;
  b.late = 2;
  b.messages.add(kTimeout, "x", 1.0);

  IntervalStats total;  // a collector starting with nothing
  total.merge(a);
  total.merge(b);
  ASSERT_EQ(total.tasks.size(), 2u);
  EXPECT_EQ(total.tasks[0].requests, 3u);
  EXPECT_EQ(total.tasks[1].latency.count(), 2u);
  EXPECT_EQ(total.tasks[1].latency.min(), 1000u);
  EXPECT_EQ(total.tasks[1].latency.max(), 2000u);
  EXPECT_EQ(total.tasks[1].errors_by_kind[3], 4u);
  EXPECT_EQ(total.iterations_started, 15u);
  EXPECT_EQ(total.dropped, 1u);
  EXPECT_EQ(total.late, 2u);
  EXPECT_EQ(total.messages.entries.at({kTimeout, "x"}).count, 1u);
}

TEST(Recorder, RecordsRequestsIterationsAndErrors) {
  Recorder r(2);
  r.record_request(0, 1500, 900, nullptr, "ignored for successes", 0.1);
  const ErrorKind e5xx = ErrorKind::kHttp5xx;
  r.record_request(0, 3000, 2000, &e5xx, "500 Internal Server Error", 0.2);
  r.record_iteration(1, 5000);
  r.record_iteration_error(1, ErrorKind::kException, "ValueError: bad", 0.3);
  r.record_started(false);
  r.record_started(true);
  r.record_dropped();

  const IntervalStats s = r.take();
  ASSERT_EQ(s.tasks.size(), 2u);
  const TaskStats& t0 = s.tasks[0];
  EXPECT_EQ(t0.requests, 2u);
  EXPECT_EQ(t0.errors, 1u);
  EXPECT_EQ(t0.errors_by_kind[static_cast<std::size_t>(e5xx)], 1u);
  EXPECT_EQ(t0.latency.count(), 2u);
  EXPECT_EQ(t0.latency.min(), 1500u);
  EXPECT_EQ(t0.service.max(), 2000u);
  EXPECT_EQ(t0.iterations, 0u);
  const TaskStats& t1 = s.tasks[1];
  EXPECT_EQ(t1.requests, 0u) << "an iteration error is not a request";
  EXPECT_EQ(t1.errors, 1u);
  EXPECT_EQ(t1.errors_by_kind[static_cast<std::size_t>(ErrorKind::kException)], 1u);
  EXPECT_EQ(t1.iterations, 1u);
  EXPECT_EQ(t1.iteration.max(), 5000u);
  EXPECT_TRUE(t1.latency.empty());
  EXPECT_EQ(s.iterations_started, 2u);
  EXPECT_EQ(s.late, 1u);
  EXPECT_EQ(s.dropped, 1u);
  ASSERT_EQ(s.messages.entries.size(), 2u);
  EXPECT_EQ(s.messages.entries.at({e5xx, "500 Internal Server Error"}).first_seen_s, 0.2);
  EXPECT_TRUE(s.messages.entries.count({ErrorKind::kException, "ValueError: bad"}));
}

TEST(Recorder, TakeResetsToAnEmptyIntervalOfTheSameShape) {
  Recorder r(3);
  const ErrorKind kind = kTimeout;
  r.record_request(2, 10, 5, &kind, "t", 1.0);
  r.record_started(true);
  const IntervalStats first = r.take();
  EXPECT_EQ(first.tasks[2].requests, 1u);

  const IntervalStats second = r.take();
  ASSERT_EQ(second.tasks.size(), 3u);
  for (const TaskStats& t : second.tasks) {
    EXPECT_EQ(t.requests, 0u);
    EXPECT_EQ(t.errors, 0u);
    EXPECT_TRUE(t.latency.empty());
    EXPECT_TRUE(t.service.empty());
  }
  EXPECT_TRUE(second.messages.entries.empty());
  EXPECT_EQ(second.iterations_started, 0u);
  EXPECT_EQ(second.late, 0u);

  r.record_request(2, 20, 5, nullptr, "", 2.0);  // still usable after take()
  const IntervalStats third = r.take();
  EXPECT_EQ(third.tasks[2].latency.min(), 20u);
  EXPECT_EQ(first.tasks[2].latency.min(), 10u) << "earlier intervals are untouched";
}

TEST(IntervalStats, JsonRoundTripIsLossless) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> latency(0, 5'000'000);
  Recorder r(3);
  for (int i = 0; i < 5'000; ++i) {
    const std::size_t task = i % 3;
    const ErrorKind kind = i % 7 == 0 ? kTimeout : kConnect;
    r.record_request(task, latency(rng), latency(rng), i % 5 == 0 ? &kind : nullptr,
                     "message " + std::to_string(i % 4), i * 0.001);
    r.record_iteration(task, latency(rng));
    r.record_started(i % 11 == 0);
  }
  r.record_dropped();
  r.record_iteration_error(1, ErrorKind::kException, "boom \"quoted\" \n", 2.5);
  const IntervalStats before = r.take();
  const IntervalStats after =
      IntervalStats::from_json(nlohmann::json::parse(before.to_json().dump()));
  ASSERT_EQ(after.tasks.size(), 3u);
  for (std::size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(after.tasks[t].requests, before.tasks[t].requests);
    EXPECT_EQ(after.tasks[t].errors, before.tasks[t].errors);
    EXPECT_EQ(after.tasks[t].iterations, before.tasks[t].iterations);
    EXPECT_EQ(after.tasks[t].errors_by_kind, before.tasks[t].errors_by_kind);
    EXPECT_TRUE(after.tasks[t].latency == before.tasks[t].latency);
    EXPECT_TRUE(after.tasks[t].service == before.tasks[t].service);
    EXPECT_TRUE(after.tasks[t].iteration == before.tasks[t].iteration);
  }
  EXPECT_EQ(after.iterations_started, before.iterations_started);
  EXPECT_EQ(after.dropped, 1u);
  EXPECT_EQ(after.late, before.late);
  ASSERT_EQ(after.messages.entries.size(), before.messages.entries.size());
  for (const auto& [key, entry] : before.messages.entries) {
    const auto it = after.messages.entries.find(key);
    ASSERT_NE(it, after.messages.entries.end()) << key.second;
    EXPECT_EQ(it->second.count, entry.count);
    EXPECT_DOUBLE_EQ(it->second.first_seen_s, entry.first_seen_s);
  }
}

TEST(IntervalStats, FromJsonNamesTheBadField) {
  const nlohmann::json good = Recorder(1).take().to_json();
  auto message_of = [](const nlohmann::json& j) {
    try {
      IntervalStats::from_json(j);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json bad = good;
  bad["tasks"][0]["requests"] = -1;
  EXPECT_EQ(message_of(bad), "stats: tasks[0].\"requests\" must be a non-negative integer");
  bad = good;
  bad["messages"] = {{{"kind", "nonsense"}, {"message", "x"}, {"count", 1}, {"first_seen_s", 0}}};
  EXPECT_EQ(message_of(bad), "stats: messages[0].\"kind\" is unknown: \"nonsense\"");
  bad = good;
  bad.erase("late");
  EXPECT_EQ(message_of(bad), "stats: \"late\" must be a non-negative integer");
}

}  // namespace
}  // namespace loadpilot::metrics
