// One agent of a distributed run as the coordinator sees it
// (cluster/coordinator/agent_link.h), driven by a fake channel and a fake
// clock (fake_channel.h): the hello and its metric rows, round frames merged
// once whatever order they come in, an agent that dies mid-run, one silent
// too long (a local agent ended, a NATS agent lost and back), and what
// problem() and loss() say. The books are asserted exactly: an agent's
// share is started or dropped, and what it started finished or cut off.
// The end of a run (an agent judged lost at the end) is in
// final_reports_test.cc; the real processes in engine/tests/e2e/.
#include "cluster/coordinator/agent_link.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/agent/agent_child.h"
#include "fake_channel.h"
#include "load/engine.h"
#include "load/profile.h"
#include "plan/plan.h"

namespace loadpilot::agents {
namespace {

using std::chrono::milliseconds;
using test_support::FakeChannel;
using test_support::round_frame;

load::Profile ten_seconds_at_10_per_s() {
  plan::ProfileSpec spec;
  spec.mode = plan::Mode::kConstant;
  spec.rps = 10;
  spec.duration_s = 10;
  spec.ramp_up_s = 0;
  return load::Profile::from_spec(spec);
}

// Agent 2 of 2 of a 10-second run at 10 iterations/s (its share: the 50
// odd iterations, one due every 0.2 s), on a fake channel and a clock the
// test moves.
struct Rig {
  struct Options {
    bool pipe = false;  // a local agent: ended when silent
    bool closed_loop = false;
    milliseconds lost_after{2000};
  };
  Rig() : Rig(Options{}) {}
  explicit Rig(Options o) {
    auto c = std::make_unique<FakeChannel>(/*closes_later=*/false, o.pipe);
    channel = c.get();
    EndOfRun end;
    end.now = [this] { return clock; };
    link = std::make_unique<AgentLink>(
        1, 2, profile, o.closed_loop, std::move(c), o.lost_after, [this] { ++drained; }, end);
  }
  // Hello, then the start at t0.
  void start() {
    channel->hello({"health"});
    ASSERT_EQ(link->wait_ready(milliseconds(0)), std::vector<std::string>{"health"});
    link->start(t0);
  }
  void at(double s) {
    clock =
        t0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  }
  // Rounds 1..n at 1, 2, ... s, each starting its 5 iterations and
  // finishing them; the last leaves `in_flight` running.
  void report_until(std::uint64_t n, std::uint64_t in_flight = 0) {
    for (std::uint64_t i = 1; i <= n; ++i) {
      at(static_cast<double>(i));
      channel->send(round_frame(i, 5, i == n ? 5 - in_flight : 5, i == n ? in_flight : 0));
      collect();
    }
  }
  void collect() {
    link->report([&](metrics::WorkerReport&& r) {
      started += r.stats.iterations_started;
      dropped += r.stats.dropped;
      cut_off += r.stats.cut_off;
      for (const metrics::TaskStats& t : r.stats.tasks) finished += t.iterations;
      notice = r.notice;
      in_flight = r.in_flight;
    });
  }

  SteadyClock::time_point t0 = SteadyClock::time_point{} + std::chrono::hours(1);
  SteadyClock::time_point clock = t0;
  load::Profile profile = ten_seconds_at_10_per_s();
  FakeChannel* channel = nullptr;
  int drained = 0;
  std::unique_ptr<AgentLink> link;
  std::uint64_t started = 0, finished = 0, dropped = 0, cut_off = 0, in_flight = 0;
  std::string notice;
};

constexpr std::uint64_t kShare = 50;  // share_of(100, 1, 2)

TEST(AgentLinkStart, TheHelloGivesItsRowsAndTheStartGoesToTheAgent) {
  Rig rig;
  rig.channel->hello({"health", "login"});
  EXPECT_EQ(rig.link->wait_ready(milliseconds(0)), (std::vector<std::string>{"health", "login"}));
  EXPECT_TRUE(rig.channel->gos.empty());
  rig.link->start(rig.t0);
  ASSERT_EQ(rig.channel->gos.size(), 1u);
  EXPECT_EQ(rig.channel->gos[0], rig.t0);
  EXPECT_EQ(rig.link->who(), "agent a2 (2 of 2)");
  EXPECT_EQ(kShare, load::share_of(100, 1, 2));
}

TEST(AgentLinkStart, AnAgentThatCannotStartSaysWhy) {
  Rig rig;
  rig.channel->failed("scenario s.py: No module named 'requests'");
  try {
    rig.link->wait_ready(milliseconds(0));
    FAIL() << "no error";
  } catch (const AgentError& e) {
    EXPECT_STREQ(e.what(), "agent a2 (2 of 2): scenario s.py: No module named 'requests'");
  }
  rig.channel->close("exited with code 2");
  EXPECT_EQ(rig.link->problem(), "agent a2 (2 of 2): scenario s.py: No module named 'requests'");
  // Never started: nothing of a share to count.
  EXPECT_FALSE(rig.link->loss());
}

TEST(AgentLinkStart, AnAgentThatEndsBeforeItsHelloOrNeverSaysItIsNamed) {
  {
    Rig rig;
    EXPECT_THROW(
        {
          try {
            rig.link->wait_ready(milliseconds(0));
          } catch (const AgentError& e) {
            EXPECT_STREQ(e.what(), "agent a2 (2 of 2) did not start within 0 s");
            throw;
          }
        },
        AgentError);
  }
  Rig rig;
  rig.channel->close("was killed by SIGKILL");
  EXPECT_EQ(rig.drained, 1);
  try {
    rig.link->wait_ready(milliseconds(0));
    FAIL() << "no error";
  } catch (const AgentError& e) {
    EXPECT_STREQ(e.what(), "agent a2 (2 of 2) was killed by SIGKILL before the run started");
  }
}

// A NATS frame may come late or twice: each round is counted once, by its
// number, whenever it comes.
TEST(AgentLinkRounds, EachRoundCountsOnceALateOneWhenItComes) {
  Rig rig;
  rig.start();
  rig.at(1);
  rig.channel->send(round_frame(1, 5, 5, 0));
  rig.channel->send(round_frame(3, 5, 4, 1));  // round 2 is late
  rig.channel->send(round_frame(1, 5, 5, 0));  // a repeat
  rig.collect();
  EXPECT_EQ(rig.started, 10u);
  EXPECT_EQ(rig.in_flight, 1u);
  rig.channel->send(round_frame(2, 5, 5, 0));  // late: counted now
  rig.channel->send(round_frame(3, 5, 4, 1));  // resent: ignored
  rig.channel->send(round_frame(2, 5, 5, 0));
  rig.collect();
  EXPECT_EQ(rig.started, 15u);
  EXPECT_EQ(rig.finished, 14u);
  // The rest of its share, then its end.
  for (std::uint64_t seq = 4; seq <= 10; ++seq) {
    rig.at(static_cast<double>(seq));
    rig.channel->send(round_frame(seq, 5, seq == 4 ? 6 : 5, 0));
  }
  rig.channel->end(10);
  rig.channel->close("exited with code 0");
  rig.collect();
  EXPECT_EQ(rig.drained, 1);
  EXPECT_EQ(rig.started, kShare);
  EXPECT_EQ(rig.finished, kShare);
  EXPECT_EQ(rig.dropped + rig.cut_off, 0u);
  EXPECT_FALSE(rig.link->loss());
  EXPECT_EQ(rig.link->problem(), "");
  EXPECT_EQ(rig.link->warning(), "");
  EXPECT_EQ(rig.channel->kills, 0);
}

// Rounds its end frame counts that never came: what they counted is
// missing, and the run must not read as complete.
TEST(AgentLinkRounds, RoundsThatNeverArriveAreAProblem) {
  Rig rig;
  rig.start();
  rig.at(10);
  for (std::uint64_t seq : {1, 2, 4, 5, 6, 7, 8, 9, 10})
    rig.channel->send(round_frame(seq, 5, 5, 0));
  rig.channel->end(10);
  rig.channel->close("exited with code 0");
  rig.collect();
  EXPECT_EQ(rig.link->problem(),
            "agent a2 (2 of 2): 1 of its 10 round reports never arrived; the requests and "
            "iterations they counted are missing from the results");
  // Without its end frame, the highest number seen tells of the gap.
  Rig early;
  early.start();
  early.at(1);
  early.channel->send(round_frame(3, 5, 5, 0));
  EXPECT_NE(early.link->problem().find("2 of its 3 round reports never arrived"), std::string::npos)
      << early.link->problem();
}

TEST(AgentLinkRounds, MalformedFramesAreDroppedWholeAndNamed) {
  Rig rig;
  rig.start();
  rig.at(1);
  rig.channel->send("not json");
  rig.channel->send(R"({"type":"round","seq":0,"stats":{}})");
  rig.channel->send(round_frame(1, 5, 5, 0));
  rig.collect();
  EXPECT_EQ(rig.started, 5u);
  const std::string problem = rig.link->problem();
  EXPECT_EQ(
      problem.rfind(
          "agent a2 (2 of 2): 2 malformed frames dropped, nothing of them counted; the first: ", 0),
      0u)
      << problem;
}

// Killed, crashed: its channel closes mid-run. The part of its share it
// had not reported started is counted as dropped, what it had in flight
// as cut off — once, whatever comes later.
TEST(AgentLinkDied, AnAgentKilledMidRunHasItsShareDroppedAndItsInFlightCutOff) {
  Rig rig({.pipe = true});
  rig.start();
  rig.report_until(4, /*in_flight=*/2);
  EXPECT_EQ(rig.started, 20u);
  EXPECT_EQ(rig.in_flight, 2u);
  rig.at(4.5);
  rig.channel->close("was killed by SIGKILL");
  EXPECT_EQ(rig.drained, 1);
  rig.collect();
  EXPECT_EQ(rig.in_flight, 0u);
  EXPECT_EQ(rig.dropped, kShare - 20);
  EXPECT_EQ(rig.cut_off, 2u);
  // The books: its share is started or dropped; what it started finished
  // or was cut off.
  EXPECT_EQ(rig.started + rig.dropped, kShare);
  EXPECT_EQ(rig.started, rig.finished + rig.cut_off);
  const auto loss = rig.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->agent, 2u);
  EXPECT_EQ(loss->who, "agent a2 (2 of 2)");
  EXPECT_EQ(loss->how, "was killed by SIGKILL");
  EXPECT_DOUBLE_EQ(loss->at_s, 4.5);
  EXPECT_EQ(loss->dropped, 30u);
  // Due by 4.5 s: its 23 odd iterations up to 4.5 s (0.1, 0.3, ... 4.5),
  // of which it reported 20 started.
  EXPECT_EQ(load::share_of(rig.profile.count_due_by(4.5), 1, 2), 23u);
  EXPECT_EQ(loss->unreported, 3u);
  EXPECT_EQ(loss->cut_off, 2u);
  EXPECT_EQ(rig.link->problem(),
            "agent a2 (2 of 2) was killed by SIGKILL 4.5 s into the run: 30 iterations of its "
            "share counted as dropped (3 due before then, which it may have started "
            "unreported), 2 in flight cut off");
  // Counted once.
  rig.collect();
  EXPECT_EQ(rig.dropped, 30u);
  EXPECT_EQ(rig.cut_off, 2u);
  // In the results file (docs/output.md): one lost agent.
  const nlohmann::json lost = cli::lost_agents({rig.link.get()});
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0]["agent"], 2);
  EXPECT_EQ(lost[0]["ended"], "was killed by SIGKILL");
  EXPECT_TRUE(lost[0]["pid"].is_null());
  EXPECT_EQ(lost[0]["dropped"], 30);
  EXPECT_EQ(lost[0]["unreported"], 3);
  EXPECT_EQ(lost[0]["cut_off"], 2);
  EXPECT_EQ(lost[0]["absences"], nlohmann::json::array());
}

// A closed model has no schedule to share: a dead agent costs only what
// it had in flight.
TEST(AgentLinkDied, AClosedModelAgentCostsOnlyItsInFlight) {
  Rig rig({.closed_loop = true});
  rig.start();
  rig.report_until(3, /*in_flight=*/1);
  rig.at(3.5);
  rig.channel->close("exited with code 1");
  rig.collect();
  EXPECT_EQ(rig.dropped, 0u);
  EXPECT_EQ(rig.cut_off, 1u);
  const auto loss = rig.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "exited with code 1");
  EXPECT_EQ(rig.link->problem(),
            "agent a2 (2 of 2) exited with code 1 3.5 s into the run: 0 iterations of its share "
            "counted as dropped, 1 in flight cut off");
}

// Its own fatal error (no on_start succeeded): said, with what it cost.
TEST(AgentLinkDied, AnAgentsFatalErrorIsItsProblem) {
  Rig rig;
  rig.start();
  rig.report_until(2);
  rig.at(2.5);
  rig.channel->end(2, "no on_start succeeded", /*blocked=*/true);
  rig.channel->close("exited with code 1");
  rig.collect();
  EXPECT_TRUE(rig.link->python_blocked());
  EXPECT_EQ(rig.dropped, kShare - 10);
  EXPECT_EQ(rig.cut_off, 0u);  // its end frame reported all it started
  const auto loss = rig.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->unreported, 0u);
  EXPECT_EQ(rig.link->problem(),
            "agent a2 (2 of 2): no on_start succeeded\n  agent a2 (2 of 2) exited with code 1 "
            "2.5 s into the run: 40 iterations of its share counted as dropped");
}

// Stopped by the coordinator (the run was stopped, or aborted): not a loss.
TEST(AgentLinkDied, AnAgentTheCoordinatorStoppedOrEndedIsNotLost) {
  Rig stopped;
  stopped.start();
  stopped.report_until(3);
  stopped.link->stop_arrivals();
  stopped.link->stop_arrivals();
  EXPECT_EQ(stopped.channel->stops, 1);
  stopped.at(3.5);
  stopped.channel->end(3);
  stopped.channel->close("exited with code 130");
  stopped.collect();
  stopped.link->cut_off();  // ended already: nothing more is sent
  EXPECT_EQ(stopped.channel->stops, 1);
  EXPECT_EQ(stopped.channel->kills, 0);
  EXPECT_FALSE(stopped.link->loss());
  EXPECT_EQ(stopped.link->problem(), "");
  EXPECT_EQ(stopped.dropped + stopped.cut_off, 0u);

  Rig aborted;
  aborted.start();
  aborted.report_until(3, 1);
  aborted.link->abort();
  EXPECT_EQ(aborted.channel->kills, 1);
  EXPECT_TRUE(aborted.channel->closed());
  aborted.collect();
  EXPECT_FALSE(aborted.link->loss());
  EXPECT_EQ(aborted.link->problem(), "");
  EXPECT_EQ(aborted.cut_off, 1u);  // what it had in flight never ends
}

// A local agent silent for --agent-lost-after is ended (its pipe closes
// when its process is gone) and counted as died.
TEST(AgentLinkSilent, ALocalAgentSilentTooLongIsEndedAndCountedAsDied) {
  Rig rig({.pipe = true});
  rig.start();
  rig.report_until(3, 1);
  rig.at(4.9);
  rig.collect();
  EXPECT_EQ(rig.channel->kills, 0);
  rig.at(5.25);
  rig.collect();
  EXPECT_EQ(rig.channel->kills, 1);
  EXPECT_EQ(rig.dropped, 0u);  // counted when it is gone
  rig.at(5.5);
  rig.channel->close("was killed by SIGKILL");
  rig.collect();
  EXPECT_EQ(rig.channel->kills, 1);
  EXPECT_EQ(rig.started + rig.dropped, kShare);
  EXPECT_EQ(rig.cut_off, 1u);
  const auto loss = rig.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "stopped reporting and was ended");
  EXPECT_DOUBLE_EQ(loss->at_s, 5.5);
  EXPECT_TRUE(rig.link->absences().empty());  // ended, not lost
}

// A NATS agent silent for --agent-lost-after is marked lost; its share is
// not counted while it may come back. Resent reports (the ones held while
// it was cut off, some of which had come) count once each.
TEST(AgentLinkLost, AnAgentBackTwiceWithItsReportsResentCountsInFull) {
  Rig rig;
  rig.start();
  rig.report_until(2, 1);
  rig.at(4.5);
  rig.collect();
  EXPECT_EQ(rig.notice,
            "agent a2 (2 of 2) lost since 4.5 s into the run (0 s); its share counts if it comes "
            "back");
  EXPECT_EQ(rig.channel->kills, 0);
  rig.at(5);
  for (std::uint64_t seq = 1; seq <= 5; ++seq)
    rig.channel->send(round_frame(seq, 5, seq == 3 ? 6 : 5, 0));
  rig.collect();
  EXPECT_EQ(rig.notice, "");
  EXPECT_EQ(rig.started, 25u);
  rig.at(8);
  rig.collect();  // silent since 5 s: lost again
  EXPECT_NE(rig.notice, "");
  rig.at(9);
  for (std::uint64_t seq = 4; seq <= 9; ++seq) rig.channel->send(round_frame(seq, 5, 5, 0));
  rig.at(10);
  rig.channel->send(round_frame(10, 5, 5, 0));
  rig.channel->end(10);
  rig.channel->close("exited with code 0");
  rig.collect();
  EXPECT_EQ(rig.started, kShare);
  EXPECT_EQ(rig.finished, kShare);
  EXPECT_EQ(rig.dropped + rig.cut_off, 0u);
  EXPECT_FALSE(rig.link->loss());
  const auto absences = rig.link->absences();
  ASSERT_EQ(absences.size(), 2u);
  EXPECT_DOUBLE_EQ(absences[0].lost_at_s, 4.5);
  EXPECT_DOUBLE_EQ(absences[0].back_at_s, 5);
  EXPECT_DOUBLE_EQ(absences[1].lost_at_s, 8);
  EXPECT_DOUBLE_EQ(absences[1].back_at_s, 9);
  EXPECT_EQ(rig.link->warning(),
            "agent a2 (2 of 2) was lost 2 times from 4.5 s into the run, for 1.5 s in all and "
            "came back: every round report of it arrived and its share is counted in full");
}

// Lost and never back: at the end of the drain its books close as if it
// had died when it went silent.
TEST(AgentLinkLost, AnAgentLostAndNeverBackCountsAsDiedWhenItWentSilent) {
  Rig rig;
  rig.start();
  rig.report_until(4, 1);
  rig.at(6.5);
  rig.collect();
  EXPECT_EQ(rig.dropped, 0u);
  ASSERT_EQ(rig.link->absences().size(), 1u);
  rig.at(12);
  rig.link->cut_off();
  EXPECT_EQ(rig.channel->kills, 1);
  EXPECT_EQ(rig.drained, 1);
  rig.collect();
  rig.channel->send(round_frame(5, 5, 5, 0));  // too late: not counted
  rig.collect();
  EXPECT_EQ(rig.started, 20u);
  EXPECT_EQ(rig.started + rig.dropped, kShare);
  EXPECT_EQ(rig.cut_off, 1u);
  const auto loss = rig.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "was lost (sent no report since)");
  EXPECT_DOUBLE_EQ(loss->at_s, 6.5);
  EXPECT_EQ(rig.link->absences()[0].back_at_s, -1);
  EXPECT_EQ(rig.link->warning(), "");
  EXPECT_EQ(rig.link->problem().rfind(
                "agent a2 (2 of 2) was lost (sent no report since) 6.5 s into the run: 30 "
                "iterations of its share counted as dropped",
                0),
            0u)
      << rig.link->problem();
}

// What the run says on stderr as it happens (the end-to-end tests and the
// people watching read these lines).
TEST(AgentLinkSilent, EachTurnIsSaidOnStderrOnce) {
  Rig local({.pipe = true});
  local.start();
  local.report_until(3, 1);
  local.at(5.25);
  ::testing::internal::CaptureStderr();
  local.collect();
  local.collect();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "error: agent a2 (2 of 2) sent no report for 2.2 s, 5.2 s into the run; ending it (the "
            "run goes on without its share)\n");

  Rig remote;
  remote.start();
  remote.report_until(3, 1);
  remote.at(5.5);
  ::testing::internal::CaptureStderr();
  remote.collect();
  remote.collect();
  remote.at(6.25);
  remote.channel->send(round_frame(4, 5, 6, 0));
  remote.channel->send(round_frame(5, 5, 5, 0));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "error: agent a2 (2 of 2) sent no report for 2.5 s, 5.5 s into the run; marked lost "
            "(the run goes on without it until it comes back)\n"
            "agent a2 (2 of 2) is back, 6.2 s into the run (lost for 0.8 s)\n");

  Rig killed;
  killed.start();
  killed.report_until(4);
  killed.at(4.5);
  ::testing::internal::CaptureStderr();
  killed.channel->close("was killed by SIGKILL");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "error: agent a2 (2 of 2) was killed by SIGKILL 4.5 s into the run; the run goes on "
            "without its share (counted as dropped)\n");
}

}  // namespace
}  // namespace loadpilot::agents
