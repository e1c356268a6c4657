// The overload verdict (report/verdict.h) from constructed evidence.
#include "report/verdict.h"

#include <gtest/gtest.h>

namespace loadpilot::report {
namespace {

metrics::Round second(double end_s, std::uint64_t started, std::uint64_t late,
                      std::uint64_t dropped = 0) {
  metrics::Round r;
  r.end_s = end_s;
  r.interval_s = 1;
  r.started = started;
  r.late = late;
  r.dropped = dropped;
  r.requests = started;
  r.service_p50_ms = 1;
  r.service_s = started * 0.001;
  r.health.cpu = 0.2;
  r.health.busy = 0.3;
  r.health.lag_max_ms = 1;
  return r;
}

// An open-model run of `n` seconds at 100/s, all answered.
Evidence healthy(int n = 5) {
  Evidence e;
  e.planned = 100.0 * n;
  e.max_connections = 8;
  for (int i = 0; i < n; ++i) e.rounds.push_back(second(i + 1, 100, 0));
  e.started = e.attempts = e.reached = 100u * n;
  return e;
}

void total(Evidence& e) {
  e.started = e.late = e.dropped = e.dropped_no_vuser = e.pacing_late = 0;
  for (const metrics::Round& r : e.rounds) {
    e.started += r.started;
    e.late += r.late;
    e.dropped += r.dropped;
    e.dropped_no_vuser += r.dropped_no_vuser;
    e.pacing_late += r.pacing_late;
  }
}

TEST(Verdict, RunThatKeptUpHasNone) {
  Verdict v = judge(healthy());
  EXPECT_EQ(v.bottleneck, "");
  EXPECT_EQ(v.message, "");
}

TEST(Verdict, RefusedPortIsNothingSentNeverTarget) {
  Evidence e = healthy();
  // Every connection refused; connections all "busy" connecting and the
  // run fell behind: still nothing about the target.
  for (metrics::Round& r : e.rounds) {
    r.late = 10;
    r.health.connections_busy = 8;
  }
  total(e);
  e.reached = 0;
  e.connect_errors = e.attempts;
  e.top_error = "connect: connect 127.0.0.1:1: Connection refused";
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "nothing_sent");
  EXPECT_NE(v.message.find("every connection failed"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("Connection refused"), std::string::npos) << v.message;
}

TEST(Verdict, IterationsFailingBeforeARequestAreNothingSent) {
  Evidence e = healthy();
  e.reached = 0;
  e.iteration_errors = e.attempts;
  e.top_error = "exception: s.py:5: RuntimeError: no login";
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "nothing_sent");
  EXPECT_NE(v.message.find("before sending a request"), std::string::npos) << v.message;
}

TEST(Verdict, NoIterationStartedIsNothingSent) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) r = second(r.end_s, 0, 0, 100);
  total(e);
  e.attempts = e.reached = 0;
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "nothing_sent");
}

TEST(Verdict, IterationsAllCutOffAreNotNothingSent) {
  // Every iteration still ran (blocked in VUser code) when the run ended:
  // nothing failed before a request, the scenario held itself back.
  Evidence e = healthy();
  e.max_vusers = 1000;
  for (metrics::Round& r : e.rounds) {
    r.late = 20;
    r.requests = 0;
    r.health.python_held = 1;
  }
  total(e);
  e.reached = 0;
  e.attempts = e.cut_off = 50;
  EXPECT_EQ(judge(e).bottleneck, "scenario");
}

TEST(Verdict, TimeoutsReachedTheTarget) {
  // Requests that timed out were sent: the target did not answer.
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 50;
    r.health.connections_busy = 8;
  }
  total(e);
  e.reached = 0;
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "target");
}

TEST(Verdict, ConnectionsBusyWithRisingServiceTimeIsTarget) {
  Evidence e = healthy();
  for (std::size_t i = 2; i < e.rounds.size(); ++i) {
    e.rounds[i].dropped = 60;
    e.rounds[i].late = 40;
    e.rounds[i].service_p50_ms = 200;
    e.rounds[i].health.connections_busy = 2;
  }
  e.max_connections = 2;
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "target");
  EXPECT_NE(v.message.find("2 of 2 connections"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("200"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("--max-connections"), std::string::npos) << v.message;
  EXPECT_EQ(v.late_by_cause["target"], 120u);
}

TEST(Verdict, AgentsWithoutBusyCountsUseIterationsInFlight) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 30;
    r.in_flight = 1000;
    r.health.connections_open = 8;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "target");
  for (metrics::Round& r : e.rounds) r.in_flight = 3;  // connections mostly idle
  EXPECT_EQ(judge(e).bottleneck, "unknown");
}

TEST(Verdict, BehindWithoutEvidenceIsUnknownNotTarget) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) r.late = 10;
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "unknown");
}

TEST(Verdict, BusyGeneratorThreadIsGenerator) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 10;
    r.health.busy = 0.97;
    r.health.connections_busy = 8;  // busy too, but the thread is saturated
  }
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "generator");
  EXPECT_NE(v.message.find("97%"), std::string::npos) << v.message;
}

TEST(Verdict, StallWithIdleThreadsIsMachineAndNamesTheLateArrivals) {
  Evidence e = healthy(10);
  e.rounds[4].late = 1581;
  e.rounds[4].started = 1600;
  e.rounds[4].health.lag_max_ms = 115;
  e.rounds[4].health.lag_at_s = 4.2;
  e.rounds[4].health.connections_busy = 8;
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "machine");
  EXPECT_EQ(v.stall_note,
            "1,581 arrivals were late because the load generator stalled 115 ms at 4.2 s");
  EXPECT_NE(v.message.find(v.stall_note), std::string::npos) << v.message;
}

TEST(Verdict, StallInARunThatKeptUpIsStillNamed) {
  Evidence e = healthy(10);
  e.rounds[3].late = 1;  // 1%: kept up
  e.rounds[3].health.lag_max_ms = 80;
  e.rounds[3].health.lag_at_s = 3.5;
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "");
  EXPECT_EQ(v.stall_note, "1 arrival was late because the load generator stalled 80 ms at 3.5 s");
  EXPECT_EQ(v.late_by_cause["stall"], 1u);
}

// A generator starved by other processes on its cores: its loop wakes a
// few ms late (under the stall mark), its threads use little CPU, and the
// responses wait unread, so every connection looks busy. Its threads'
// run-queue wait names the machine, never the target.
TEST(Verdict, GeneratorWaitingForCpuIsMachineNeverTarget) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.late = 60;
    r.dropped = 5;
    r.health.lag_max_ms = 12;
    r.health.busy = 0.35;
    r.health.cpu = 0.3;
    r.health.connections_busy = 8;  // all of them
    r.health.cpu_wait = 0.62;
  }
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "machine");
  EXPECT_NE(v.message.find("the load generator waited for CPU 62% of the time: other processes "
                           "share its cores"),
            std::string::npos)
      << v.message;
  EXPECT_EQ(v.message.find("target could not keep up"), std::string::npos) << v.message;
  EXPECT_EQ(v.late_by_cause["machine"], 300u);
  EXPECT_EQ(generator_bound(e).seconds, 5u);
}

// Two connections to a slow target, 200/s asked, 40 sent: a 67 ms stall or
// a 30% wait for CPU in those seconds explains a handful of the 160
// arrivals held back, the connection cap all of them.
TEST(Verdict, TheCapOutweighsAShortStallOrWait) {
  Evidence e = healthy(3);
  e.max_connections = 2;
  for (metrics::Round& r : e.rounds) {
    r.started = 40;
    r.dropped = 160;
    r.health.connections_busy = 2;
    r.health.lag_max_ms = 67;
    r.health.lag_at_s = r.end_s - 0.5;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "target") << judge(e).message;
  for (metrics::Round& r : e.rounds) {
    r.health.lag_max_ms = 12;
    r.health.cpu_wait = 0.3;
  }
  EXPECT_EQ(judge(e).bottleneck, "target") << judge(e).message;
  // A wait that could hold back as much as was held back stays the machine's.
  for (metrics::Round& r : e.rounds) r.health.cpu_wait = 0.3;
  for (metrics::Round& r : e.rounds) r.dropped = 20;
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "machine") << judge(e).message;
  // So does a long stall.
  for (metrics::Round& r : e.rounds) {
    r.health.cpu_wait = 0;
    r.health.lag_max_ms = 400;
    r.dropped = 160;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "machine") << judge(e).message;
}

// Under the mark, the wait is a busy machine's ordinary share and the
// other evidence decides.
TEST(Verdict, ShortCpuWaitLeavesTheOtherEvidence) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 20;
    r.health.connections_busy = 8;
    r.health.cpu_wait = kCpuWaitShare - 0.01;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "target");
  for (metrics::Round& r : e.rounds) r.health.connections_busy = 1;
  EXPECT_EQ(judge(e).bottleneck, "unknown");
  for (metrics::Round& r : e.rounds) r.health.cpu_wait = kCpuWaitShare;
  EXPECT_EQ(judge(e).bottleneck, "machine");
}

// A saturated engine thread is LoadPilot's own limit even if it also
// waited: more workers or agents is the remedy.
TEST(Verdict, SaturatedThreadStaysGeneratorWhateverTheWait) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 20;
    r.health.busy = 0.95;
    r.health.cpu_wait = 0.4;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "generator");
}

// The books say behind, no single second did: the run judged as one
// second keeps the longest wait too.
TEST(Verdict, SpreadLatenessJudgedAsOneSecondSeesTheWait) {
  Evidence e = healthy(10);
  for (metrics::Round& r : e.rounds) {
    r.late = 1;  // 1% each: no second behind
    r.health.cpu_wait = 0.1;
  }
  e.rounds[3].health.cpu_wait = 0.7;
  total(e);
  e.late += 10;  // the run as a whole over 1%
  const Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "machine");
  EXPECT_NE(v.message.find("waited for CPU 70%"), std::string::npos) << v.message;
}

TEST(Verdict, StealIsMachine) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 5;
    r.health.steal = 0.3;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "machine");
}

TEST(Verdict, PythonThreadHeldWithoutCpuIsScenario) {
  // An async def task calling time.sleep(): the thread is away from its
  // loop, idle.
  Evidence e = healthy();
  e.max_vusers = 1000;
  for (metrics::Round& r : e.rounds) {
    r.late = 20;
    r.health.python_held = 0.99;
    r.health.python_cpu = 0.01;
    r.health.connections_busy = 8;
  }
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "scenario");
  EXPECT_NE(v.message.find("time.sleep"), std::string::npos) << v.message;
}

TEST(Verdict, PythonThreadHeldNamesTheLineTheWatchdogSaw) {
  Evidence e = healthy();
  e.max_vusers = 1000;
  for (metrics::Round& r : e.rounds) {
    r.late = 20;
    r.health.python_held = 0.99;
    r.health.python_cpu = 0.01;
  }
  total(e);
  e.held_at = "Sleepy.get (scenarios/shop.py:12)";
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "scenario");
  EXPECT_NE(v.message.find("Sleepy.get (scenarios/shop.py:12) blocks the VUser thread: use await "
                           "asyncio.sleep() or wait= think time"),
            std::string::npos)
      << v.message;
}

TEST(Verdict, GeneratorJsonKeepsTheLongestSendQueue) {
  Evidence e = healthy(3);
  e.rounds[1].health.send_queue = 40;
  e.rounds[2].health.send_queue = 7;
  total(e);
  EXPECT_EQ(generator_json(e.rounds, judge(e))["send_queue_max"], 40);
}

TEST(Verdict, PythonThreadAtFullCpuIsGenerator) {
  Evidence e = healthy();
  e.max_vusers = 1000;
  for (metrics::Round& r : e.rounds) {
    r.dropped = 20;
    r.health.python_held = 0.99;
    r.health.python_cpu = 0.98;
  }
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "generator");
  EXPECT_NE(v.message.find("Python thread"), std::string::npos) << v.message;
}

TEST(Verdict, BlockedPythonThreadIsScenario) {
  Evidence e = healthy();
  e.max_vusers = 1000;
  for (metrics::Round& r : e.rounds) {
    r.late = 20;
    r.health.connections_busy = 8;
  }
  total(e);
  e.python_blocked = true;
  EXPECT_EQ(judge(e).bottleneck, "scenario");
}

TEST(Verdict, VUsersBusyInTheirOwnCodeIsScenario) {
  // Every VUser busy, but their time went to sleeping in tasks, not to
  // waiting for responses (10 VUsers, 0.1 s of service time a second).
  Evidence e = healthy();
  e.max_vusers = 10;
  for (metrics::Round& r : e.rounds) {
    r.dropped = r.dropped_no_vuser = 50;
    r.service_s = 0.1;
  }
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "scenario");
}

TEST(Verdict, VUsersWaitingForResponsesIsTarget) {
  Evidence e = healthy();
  e.max_vusers = 10;
  for (metrics::Round& r : e.rounds) {
    r.dropped = r.dropped_no_vuser = 50;
    r.service_s = 9.5;
    r.service_p50_ms = 190;
  }
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "target");
  EXPECT_NE(v.message.find("max_vusers 10"), std::string::npos) << v.message;
}

TEST(Verdict, ClosedUsersMissingTheirOwnPacingAreNotBehind) {
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) r.late = r.pacing_late = 50;
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "");
}

TEST(Verdict, UnlimitedRunIsNeverBehind) {
  Evidence e = healthy();
  e.unlimited = true;
  for (metrics::Round& r : e.rounds) r.late = 50;
  total(e);
  EXPECT_EQ(judge(e).bottleneck, "");
}

TEST(Verdict, MostSecondsDecide) {
  // One stalled second, four where the connections were full: the target.
  Evidence e = healthy();
  for (metrics::Round& r : e.rounds) {
    r.dropped = 10;
    r.health.connections_busy = 8;
  }
  e.rounds[0].health.lag_max_ms = 120;
  total(e);
  Verdict v = judge(e);
  EXPECT_EQ(v.bottleneck, "target");
  EXPECT_EQ(v.late_by_cause["target"], 0u);
}

TEST(Verdict, GeneratorJsonSummarisesTheRounds) {
  Evidence e = healthy(3);
  e.rounds[1].health.lag_max_ms = 115;
  e.rounds[1].health.lag_at_s = 1.4;
  e.rounds[1].health.stall_ms = 113;
  e.rounds[2].health.cpu = 0.6;
  e.rounds[1].late = 90;
  total(e);
  nlohmann::json j = generator_json(e.rounds, judge(e));
  EXPECT_EQ(j["lag_max_ms"], 115.0);
  EXPECT_EQ(j["lag_max_at_s"], 1.4);
  EXPECT_EQ(j["stall_ms"], 113.0);
  EXPECT_EQ(j["cpu_max"], 0.6);
  EXPECT_EQ(j["cpu_wait_max"], 0.0);
  EXPECT_EQ(j["late_by_cause"]["stall"], 90);
  e.rounds[2].health.cpu_wait = 0.45;
  EXPECT_EQ(generator_json(e.rounds, judge(e))["cpu_wait_max"], 0.45);
}

}  // namespace
}  // namespace loadpilot::report

namespace loadpilot::report {
namespace {

// --strict (docs/engine.md#a-generator-bound-run): the share of a run's
// seconds that the generator or its machine held back.
TEST(GeneratorBound, ShareOfSecondsHeldBackByTheGeneratorOrItsMachine) {
  Evidence e = healthy(10);
  EXPECT_EQ(generator_bound(e).seconds, 0u);
  EXPECT_TRUE(generator_bound(e).message.empty());
  // One stalled second of ten (machine): 10%, not over the 10% line.
  e.rounds[3].late = 50;
  e.rounds[3].health.lag_max_ms = 115;
  GeneratorBound b = generator_bound(e);
  EXPECT_EQ(b.seconds, 1u);
  EXPECT_EQ(b.total, 10u);
  EXPECT_TRUE(b.message.empty());
  // Two more seconds with the generator's thread saturated: 30%.
  for (int i : {6, 7}) {
    e.rounds[i].late = 60;
    e.rounds[i].health.busy = 0.99;
  }
  b = generator_bound(e);
  EXPECT_EQ(b.seconds, 3u);
  EXPECT_DOUBLE_EQ(b.share, 0.3);
  EXPECT_EQ(b.message,
            "the load generator held the run back for 3 of 10 s (30%): those seconds measured the "
            "generator, not the target (docs/engine.md#overload)");
}

TEST(GeneratorBound, TargetAndScenarioSecondsDoNotCount) {
  Evidence e = healthy(4);
  for (auto& r : e.rounds) {
    r.late = 90;
    r.health.connections_busy = 8;  // the target: every connection waiting on it
  }
  EXPECT_EQ(generator_bound(e).seconds, 0u);
  for (auto& r : e.rounds) {
    r.health.connections_busy = 0;
    r.health.python_held = 0.95;  // the scenario's own code
    r.health.python_cpu = 0.1;
  }
  EXPECT_EQ(generator_bound(e).seconds, 0u);
}

}  // namespace
}  // namespace loadpilot::report
