// Exact merges, the bounded error-message table, Recorder::take(), and the
// sub-rows of named requests through the Collector.
#include "metrics/stats.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "metrics/snapshot.h"

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

// An engine thread's wait for a CPU (docs/engine.md#generator-health):
// the longest wins when workers or agents merge, it travels with an
// agent's stats, it reaches the snapshot, and an older agent's stats
// without it read 0.
TEST(IntervalStats, CpuWaitMergesAsTheMaximumAndTravels) {
  Recorder a(1), b(1);
  a.record_cpu_wait(0.1);
  a.record_cpu_wait(0.4);
  b.record_cpu_wait(0.3);
  IntervalStats merged = a.take();
  merged.merge(b.take());
  EXPECT_DOUBLE_EQ(merged.cpu_wait, 0.4);
  nlohmann::json j = merged.to_json();
  EXPECT_DOUBLE_EQ(j["generator"]["cpu_wait"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(IntervalStats::from_json(j).cpu_wait, 0.4);
  j["generator"].erase("cpu_wait");
  EXPECT_DOUBLE_EQ(IntervalStats::from_json(j).cpu_wait, 0.0);
  j["generator"]["cpu_wait"] = -0.1;
  EXPECT_THROW(IntervalStats::from_json(j), std::invalid_argument);

  Collector c({"t"});
  std::vector<WorkerReport> reports(1);
  reports[0].stats = IntervalStats(1);
  reports[0].stats.cpu_wait = 0.62;
  const Snapshot snap = c.add_round(reports, 1.0);
  EXPECT_DOUBLE_EQ(snap.generator.cpu_wait, 0.62);
  EXPECT_DOUBLE_EQ(snap.to_json()["generator"]["cpu_wait"].get<double>(), 0.62);
  EXPECT_DOUBLE_EQ(c.rounds().back().health.cpu_wait, 0.62);
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
  r.record_iteration(1, 5000, false);
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
    r.record_iteration(task, latency(rng), i % 2 == 0);
    r.record_started(i % 11 == 0);
    r.record_response(response_class(200 + 100 * (i % 4), i % 9 != 0), 80 + i % 3, 200 + i);
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
    EXPECT_EQ(after.tasks[t].wire_iterations, before.tasks[t].wire_iterations);
    EXPECT_TRUE(after.tasks[t].wire_known);
    EXPECT_EQ(after.tasks[t].errors_by_kind, before.tasks[t].errors_by_kind);
    EXPECT_TRUE(after.tasks[t].latency == before.tasks[t].latency);
    EXPECT_TRUE(after.tasks[t].service == before.tasks[t].service);
    EXPECT_TRUE(after.tasks[t].iteration == before.tasks[t].iteration);
  }
  EXPECT_EQ(after.iterations_started, before.iterations_started);
  EXPECT_EQ(after.dropped, 1u);
  EXPECT_EQ(after.late, before.late);
  EXPECT_EQ(after.responses, before.responses);
  EXPECT_EQ(after.bytes_sent, before.bytes_sent);
  EXPECT_EQ(after.bytes_received, before.bytes_received);
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
  bad = good;
  bad["responses"] = {1, 2, 3};
  EXPECT_EQ(message_of(bad), "stats: \"responses\" must have 5 entries");
  bad = good;
  bad["bytes_sent"] = "many";
  EXPECT_EQ(message_of(bad), "stats: \"bytes_sent\" must be a non-negative integer");
  // An agent of an older version sends neither: none counted.
  bad = good;
  bad.erase("responses");
  bad.erase("bytes_sent");
  bad.erase("bytes_received");
  EXPECT_EQ(message_of(bad), "no error");
}

// The iterations that reached the wire (docs/output.md#iterations): counted
// per task, summed by merge, carried in the agents' frames; an agent of an
// older version does not send them, and then the count is not known.
TEST(TaskStats, WireIterationsMergeAndRoundTripThroughJson) {
  Recorder r(2);
  r.record_iteration(0, 100, true);
  r.record_iteration(0, 100, true);
  r.record_iteration(1, 100, false);  // pure computation, no request
  IntervalStats a = r.take();
  EXPECT_EQ(a.tasks[0].wire_iterations, 2u);
  EXPECT_EQ(a.tasks[1].wire_iterations, 0u);
  EXPECT_EQ(a.tasks[1].iterations, 1u);

  const nlohmann::json j = a.to_json();
  EXPECT_EQ(j["tasks"][0]["wire_iterations"], 2u);
  EXPECT_EQ(j["tasks"][1]["wire_iterations"], 0u);
  const IntervalStats back = IntervalStats::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.tasks[0].wire_iterations, 2u);
  EXPECT_TRUE(back.tasks[0].wire_known);

  IntervalStats total(2);
  total.merge(back);
  total.merge(back);
  EXPECT_EQ(total.tasks[0].wire_iterations, 4u);
  EXPECT_TRUE(total.tasks[0].wire_known);

  // Absent (an older agent): accepted, not known, and a merged count that
  // includes it is not known either.
  nlohmann::json old = j;
  old["tasks"][0].erase("wire_iterations");
  const IntervalStats from_old = IntervalStats::from_json(old);
  EXPECT_FALSE(from_old.tasks[0].wire_known);
  EXPECT_TRUE(from_old.tasks[1].wire_known);
  EXPECT_FALSE(from_old.to_json()["tasks"][0].contains("wire_iterations"));
  total.merge(from_old);
  EXPECT_FALSE(total.tasks[0].wire_known);
  EXPECT_TRUE(total.tasks[1].wire_known);

  // Present, it is type-checked like its neighbours.
  nlohmann::json bad = j;
  bad["tasks"][1]["wire_iterations"] = "2";
  try {
    IntervalStats::from_json(bad);
    ADD_FAILURE() << "a string wire_iterations was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "stats: tasks[1].\"wire_iterations\" must be a non-negative integer");
  }
  bad["tasks"][1]["wire_iterations"] = -1;
  EXPECT_THROW(IntervalStats::from_json(bad), std::invalid_argument);
}

TEST(ResponseClass, ByFinalStatusOrNoneWithoutACompleteResponse) {
  EXPECT_EQ(response_class(200, true), ResponseClass::k2xx);
  EXPECT_EQ(response_class(299, true), ResponseClass::k2xx);
  EXPECT_EQ(response_class(301, true), ResponseClass::k3xx);
  EXPECT_EQ(response_class(404, true), ResponseClass::k4xx);
  EXPECT_EQ(response_class(599, true), ResponseClass::k5xx);
  EXPECT_EQ(response_class(200, false), ResponseClass::kNone);  // cut mid-body
  EXPECT_EQ(response_class(0, true), ResponseClass::kNone);
  EXPECT_EQ(name(ResponseClass::kNone), "none");
  EXPECT_EQ(name(ResponseClass::k4xx), "4xx");
}

TEST(IntervalStats, ResponsesAndBytesMergeBySum) {
  Recorder a(1), b(1);
  a.record_response(ResponseClass::k2xx, 100, 1000);
  a.record_response(ResponseClass::k5xx, 100, 50);
  b.record_response(ResponseClass::k2xx, 10, 20);
  b.record_response(ResponseClass::kNone, 0, 0);
  IntervalStats sum = a.take();
  sum.merge(b.take());
  EXPECT_EQ(sum.responses, (std::array<std::uint64_t, kResponseClassCount>{1, 2, 0, 0, 1}));
  EXPECT_EQ(sum.bytes_sent, 210u);
  EXPECT_EQ(sum.bytes_received, 1070u);
  EXPECT_EQ(responses_json(sum.responses),
            nlohmann::json({{"none", 1}, {"2xx", 2}, {"3xx", 0}, {"4xx", 0}, {"5xx", 1}}));
}

TEST(Recorder, NamedRequestsCountInTheirTaskAndTheirSubRow) {
  Recorder r(2);
  const std::size_t page = r.named_row(0, "page");
  const std::size_t me0 = r.named_row(0, "me");
  const std::size_t me1 = r.named_row(1, "me");  // the same name in another task
  EXPECT_EQ(r.named_row(0, "page"), page);
  EXPECT_NE(me0, me1);
  const ErrorKind kind = kTimeout;
  r.record_request(0, 1000, 500, nullptr, "", 0.1, page);
  r.record_request(0, 3000, 500, &kind, "t", 0.2, page);
  r.record_request(0, 2000, 500, nullptr, "", 0.3, me0);
  r.record_request(0, 4000, 500, nullptr, "", 0.4);  // unnamed: the task only
  r.record_request(1, 5000, 500, nullptr, "", 0.5, me1);
  IntervalStats s = r.take();
  // The task rows count every request; the sub-rows add nothing to them.
  EXPECT_EQ(s.tasks[0].requests, 4u);
  EXPECT_EQ(s.tasks[0].errors, 1u);
  EXPECT_EQ(s.tasks[1].requests, 1u);
  ASSERT_EQ(s.named.size(), 3u);
  EXPECT_EQ(s.named[page].task, 0u);
  EXPECT_EQ(s.named[page].name, "page");
  EXPECT_EQ(s.named[page].requests, 2u);
  EXPECT_EQ(s.named[page].errors, 1u);
  EXPECT_EQ(s.named[page].latency.max(), 3000u);
  EXPECT_EQ(s.named[me0].requests, 1u);
  EXPECT_EQ(s.named[me1].task, 1u);
  EXPECT_EQ(s.named[me1].requests, 1u);
  EXPECT_EQ(s.messages.entries.size(), 1u);  // the error is counted once
  // take() keeps the keys (indices stay valid), with zero counts.
  const IntervalStats empty = r.take();
  ASSERT_EQ(empty.named.size(), 3u);
  EXPECT_EQ(empty.named[me1].name, "me");
  EXPECT_EQ(empty.named[me1].requests, 0u);
  r.record_request(1, 7000, 500, nullptr, "", 0.6, me1);
  EXPECT_EQ(r.take().named[me1].requests, 1u);
}

TEST(IntervalStats, MergeMatchesSubRowsByTaskAndName) {
  // Two agents that met their names in a different order.
  Recorder a(2), b(2);
  const std::size_t a_x = a.named_row(0, "x"), a_y = a.named_row(1, "y");
  const std::size_t b_y = b.named_row(1, "y"), b_x = b.named_row(0, "x"), b_z = b.named_row(0, "y");
  a.record_request(0, 100, 50, nullptr, "", 0, a_x);
  a.record_request(1, 200, 50, nullptr, "", 0, a_y);
  b.record_request(1, 300, 50, nullptr, "", 0, b_y);
  b.record_request(0, 400, 50, nullptr, "", 0, b_x);
  b.record_request(0, 500, 50, nullptr, "", 0, b_z);
  IntervalStats merged(2);
  merged.merge(a.take());
  merged.merge(b.take());
  ASSERT_EQ(merged.named.size(), 3u);
  auto row = [&](std::size_t task, const char* name) -> const NamedStats& {
    return merged.named[merged.named_row(task, name)];
  };
  EXPECT_EQ(row(0, "x").requests, 2u);
  EXPECT_EQ(row(0, "x").latency.max(), 400u);
  EXPECT_EQ(row(1, "y").requests, 2u);
  EXPECT_EQ(row(0, "y").requests, 1u);
  EXPECT_EQ(merged.tasks[0].requests, 3u);
  EXPECT_EQ(merged.tasks[1].requests, 2u);
  EXPECT_EQ(merged.named.size(), 3u);  // row() found them all
}

TEST(IntervalStats, SubRowsRoundTripThroughJson) {
  Recorder r(2);
  const std::size_t n = r.named_row(1, "list \"all\"");
  const ErrorKind kind = kConnect;
  for (int i = 0; i < 100; ++i)
    r.record_request(1, 1000 + i, 10, i % 10 ? nullptr : &kind, "c", 0, n);
  const IntervalStats before = r.take();
  const nlohmann::json j = before.to_json();
  const IntervalStats after = IntervalStats::from_json(nlohmann::json::parse(j.dump()));
  ASSERT_EQ(after.named.size(), 1u);
  EXPECT_EQ(after.named[0].task, 1u);
  EXPECT_EQ(after.named[0].name, "list \"all\"");
  EXPECT_EQ(after.named[0].requests, 100u);
  EXPECT_EQ(after.named[0].errors, 10u);
  EXPECT_TRUE(after.named[0].latency == before.named[0].latency);
  // Without sub-rows the field is left out, as an older agent sends it.
  EXPECT_FALSE(Recorder(1).take().to_json().contains("named"));
  nlohmann::json bad = j;
  bad["named"][0]["task"] = 2;
  EXPECT_THROW(IntervalStats::from_json(bad), std::invalid_argument);
  bad = j;
  bad["named"][0].erase("latency");
  EXPECT_THROW(IntervalStats::from_json(bad), std::invalid_argument);
}

TEST(Collector, SubRowsSitUnderTheirTaskAndStayOutOfTheTotals) {
  Collector c({"browse", "health"});
  for (int round = 0; round < 2; ++round) {
    std::vector<WorkerReport> reports(2);
    for (WorkerReport& w : reports) {
      Recorder r(2);
      // Each round meets the names in its own order.
      const std::size_t first = r.named_row(0, round ? "me" : "page");
      const std::size_t second = r.named_row(0, round ? "page" : "me");
      const std::size_t page = round ? second : first, me = round ? first : second;
      const std::size_t check = r.named_row(1, "check");
      const ErrorKind kind = kTimeout;
      for (int i = 0; i < 10; ++i) {
        r.record_request(0, 2000, 100, nullptr, "", 0, page);
        r.record_request(0, 3000, 100, i == 0 ? &kind : nullptr, "t", 0, me);
        r.record_request(0, 4000, 100, nullptr, "", 0);
        r.record_request(1, 1000, 100, nullptr, "", 0, check);
      }
      w.stats = r.take();
    }
    const Snapshot s = c.add_round(reports, 1.0);
    if (round == 0) continue;
    // Totals: the task rows alone (60 + 20 requests a round).
    EXPECT_EQ(s.requests, 160u);
    EXPECT_EQ(s.errors, 4u);
    ASSERT_EQ(s.tasks.size(), 2u);
    EXPECT_EQ(s.tasks[0].requests, 120u);
    ASSERT_EQ(s.tasks[0].named.size(), 2u);
    ASSERT_EQ(s.tasks[1].named.size(), 1u);
    const NamedSnapshot& page = s.tasks[0].named[0];
    EXPECT_EQ(page.name, "page");
    EXPECT_EQ(page.requests, 40u);
    EXPECT_DOUBLE_EQ(page.current_rps, 20.0);
    EXPECT_EQ(s.tasks[0].named[1].name, "me");
    EXPECT_EQ(s.tasks[0].named[1].requests, 40u);
    EXPECT_EQ(s.tasks[0].named[1].errors, 4u);
    EXPECT_DOUBLE_EQ(s.tasks[0].named[1].error_rate, 10.0);
    EXPECT_EQ(s.tasks[0].named[1].total.count, 40u);
    EXPECT_EQ(s.tasks[1].named[0].name, "check");
    EXPECT_EQ(s.tasks[1].named[0].requests, s.tasks[1].requests);
    EXPECT_EQ(s.total.count, 160u);  // the run's latency: task rows only
    const nlohmann::json j = s.to_json();
    EXPECT_EQ(j["tasks"][0]["named_requests"][1]["errors"], 4u);
  }
}

}  // namespace
}  // namespace loadpilot::metrics
