// The end of a run as a coordinator's AgentLink sees it
// (cluster/coordinator/final_reports.h): once the profile is over, an agent whose last
// report does not come is judged lost after a bounded, shown wait — not
// after --agent-lost-after — and its books close exactly. A fake channel
// and a fake clock drive the link.
#include "cluster/coordinator/final_reports.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/coordinator/agent_link.h"
#include "cluster/frame.h"
#include "fake_channel.h"
#include "load/engine.h"
#include "load/profile.h"
#include "metrics/round_accumulator.h"
#include "plan/plan.h"

namespace agents = loadpilot::agents;
using agents::LastReportWait;
using agents::SteadyClock;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

using loadpilot::test_support::FakeChannel;
using loadpilot::test_support::round_frame;

// Agent 2 of 2 of a 10-second run at 10 iterations/s: its share is the 50
// odd iterations, due one every 0.2 s.
struct EndingRun {
  SteadyClock::time_point t0 = SteadyClock::time_point{} + std::chrono::hours(1);
  SteadyClock::time_point clock = t0;
  FakeChannel* channel = nullptr;
  int drained = 0;
  std::unique_ptr<agents::AgentLink> link;
  std::uint64_t started = 0, dropped = 0, cut_off = 0;
  std::string notice;

  // `pipe`: a local agent, ended when silent for 5 s.
  // `lost_after`: --agent-lost-after, 15 s (5 s for a pipe) when 0.
  explicit EndingRun(bool closes_later = false, bool pipe = false,
                     milliseconds lost_after = milliseconds(0)) {
    loadpilot::plan::ProfileSpec spec;
    spec.mode = loadpilot::plan::Mode::kConstant;
    spec.rps = 10;
    spec.duration_s = 10;
    spec.ramp_up_s = 0;
    auto c = std::make_unique<FakeChannel>(closes_later, pipe);
    channel = c.get();
    agents::EndOfRun end;
    end.now = [this] { return clock; };
    // --agent-lost-after 15s: longer than the run.
    link = std::make_unique<agents::AgentLink>(
        1, 2, loadpilot::load::Profile::from_spec(spec), false, std::move(c),
        lost_after.count() > 0 ? lost_after
        : pipe                 ? milliseconds(5000)
                               : milliseconds(15000),
        [this] { ++drained; }, end);
    channel->send(R"({"type":"hello","tasks":["health"]})");
    link->start(t0);
  }
  void at(double s) {
    clock =
        t0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  }
  // Rounds 1..n at 1, 2, ... s, each starting its 5 iterations; the last
  // one leaves one in flight.
  void report_until(std::uint64_t n) {
    for (std::uint64_t i = 1; i <= n; ++i) {
      at(static_cast<double>(i));
      channel->send(round_frame(i, 5, i == n ? 4 : 5, i == n ? 1 : 0));
      collect();
    }
  }
  void collect() {
    link->report([&](loadpilot::metrics::WorkerReport&& r) {
      started += r.stats.iterations_started;
      dropped += r.stats.dropped;
      cut_off += r.stats.cut_off;
      notice = r.notice;
    });
  }
};

}  // namespace

TEST(LastReportWait, WaitsOnlyOnceTheShareIsOverAndAtMostTheFinalWait) {
  const SteadyClock::time_point t0{};
  const auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  };
  const milliseconds wait(3000);
  // Silent for long, but its share runs until 10 s: not judged here.
  EXPECT_EQ(LastReportWait::check(at(9.9), at(10), at(1), wait).state,
            LastReportWait::State::kRunning);
  const LastReportWait w = LastReportWait::check(at(10.25), at(10), at(8), wait);
  EXPECT_EQ(w.state, LastReportWait::State::kWaiting);
  EXPECT_DOUBLE_EQ(w.silent_s, 2.25);
  EXPECT_DOUBLE_EQ(w.left_s, 0.75);
  EXPECT_EQ(LastReportWait::check(at(11), at(10), at(8), wait).state, LastReportWait::State::kLost);
  // Silent since long before the end: lost at the end, at once.
  EXPECT_EQ(LastReportWait::check(at(10), at(10), at(5), wait).state, LastReportWait::State::kLost);
}

TEST(LastReportWait, TheNoticeSaysWhoAndHowLong) {
  EXPECT_EQ(agents::waiting_notice("agent a2 (2 of 2)", 2.25),
            "waiting for agent a2 (2 of 2)'s last report, 3 s");
  EXPECT_EQ(agents::waiting_notice("agent a2 (2 of 2)", 0.01),
            "waiting for agent a2 (2 of 2)'s last report, 1 s");
  EXPECT_EQ(agents::lost_at_the_end(8.04), "was lost at the end (silent after 8.0 s)");
}

// The killed-agent case: it is silent from 8 s; the profile ends at 10 s;
// --agent-lost-after (15 s) would come long after the run.
TEST(AgentLinkAtTheEnd, AnAgentSilentAtTheEndIsJudgedLostAfterTheBoundedWait) {
  EndingRun run;
  run.report_until(8);
  EXPECT_EQ(run.started, 40u);
  run.at(9.25);
  run.collect();
  EXPECT_EQ(run.notice, "");  // its share is not over: no wait yet
  run.at(10.25);
  run.collect();
  EXPECT_EQ(run.notice, "waiting for agent a2 (2 of 2)'s last report, 1 s");
  EXPECT_EQ(run.drained, 0);
  EXPECT_EQ(run.channel->kills, 0);
  run.at(11.25);
  run.collect();
  // Judged: its channel ended, the run no longer waits for it.
  EXPECT_EQ(run.channel->kills, 1);
  EXPECT_EQ(run.drained, 1);
  EXPECT_EQ(run.notice, "");
  // The books: its whole share is started or dropped; what it had in
  // flight is cut off.
  EXPECT_EQ(run.started + run.dropped, loadpilot::load::share_of(100, 1, 2));
  EXPECT_EQ(run.dropped, 10u);
  EXPECT_EQ(run.cut_off, 1u);
  const auto loss = run.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->agent, 2u);
  EXPECT_EQ(loss->how, "was lost at the end (silent after 8.0 s)");
  EXPECT_NEAR(loss->at_s, 11.25, 1e-9);
  EXPECT_EQ(loss->dropped, 10u);
  // It may have started any of them after its last report, unseen.
  EXPECT_EQ(loss->unreported, 10u);
  EXPECT_EQ(loss->cut_off, 1u);
  const auto absences = run.link->absences();
  ASSERT_EQ(absences.size(), 1u);
  EXPECT_LT(absences[0].back_at_s, 0);
  EXPECT_EQ(run.link->problem(),
            "agent a2 (2 of 2) was lost at the end (silent after 8.0 s) 11.2 s into the run: 10 "
            "iterations of its share counted as dropped (10 due before then, which it may have "
            "started unreported), 1 in flight cut off");
  // Counted once, and nothing that comes later is.
  run.collect();
  EXPECT_EQ(run.dropped, 10u);
  EXPECT_EQ(run.cut_off, 1u);
}

TEST(AgentLinkAtTheEnd, AnAgentThatReportsThroughItsDrainIsWaitedForAndNotLost) {
  EndingRun run;
  run.report_until(10);
  // Its drain: it still reports each second, and is waited for.
  for (std::uint64_t seq = 11; seq <= 13; ++seq) {
    run.at(static_cast<double>(seq));
    run.channel->send(round_frame(seq, 0, 0, 1));
    run.at(static_cast<double>(seq) + 0.25);
    run.collect();
    EXPECT_EQ(run.notice, "waiting for agent a2 (2 of 2)'s last report, 3 s");
  }
  run.at(13.5);
  run.channel->send(round_frame(14, 0, 1, 0));
  run.channel->send(R"({"type":"end","fatal":"","rounds":14})");
  run.channel->close("exited with code 0");
  run.collect();
  EXPECT_EQ(run.notice, "");
  EXPECT_EQ(run.channel->kills, 0);
  EXPECT_EQ(run.drained, 1);
  EXPECT_FALSE(run.link->loss());
  EXPECT_EQ(run.link->problem(), "");
  EXPECT_EQ(run.started, 50u);
  EXPECT_EQ(run.dropped + run.cut_off, 0u);
}

TEST(AgentLinkAtTheEnd, AnAgentLostMidRunIsJudgedAtTheEndNotAtTheDrainsEnd) {
  EndingRun run;
  run.report_until(3);
  // --agent-lost-after 15s: not marked lost mid-run, yet silent since 3 s.
  run.at(10.25);
  run.collect();
  EXPECT_EQ(run.drained, 1);
  const auto loss = run.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "was lost at the end (silent after 3.0 s)");
  EXPECT_EQ(run.started + run.dropped, 50u);
}

// A pipe's close comes after its process died: the books close at the
// judgement, and a round still in the pipe is not counted on top.
TEST(AgentLinkAtTheEnd, AnAgentWithoutItsEndFrameWhenTheDrainIsOverIsLost) {
  EndingRun run(/*closes_later=*/true);
  run.report_until(10);
  run.at(12);
  run.channel->send(round_frame(11, 0, 0, 1));  // alive, draining slowly
  run.at(16);
  run.channel->send(round_frame(12, 0, 0, 1));
  run.link->cut_off();  // the coordinator's drain is over
  EXPECT_EQ(run.channel->kills, 1);
  EXPECT_EQ(run.channel->stops, 0);
  run.collect();
  EXPECT_EQ(run.cut_off, 1u);
  EXPECT_EQ(run.started, 50u);
  run.channel->send(round_frame(13, 0, 1, 0));  // too late: not counted
  run.channel->close("was killed by SIGKILL");
  run.collect();
  EXPECT_EQ(run.drained, 1);
  EXPECT_EQ(run.started, 50u);
  EXPECT_EQ(run.cut_off, 1u);
  const auto loss = run.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "was lost at the end (no last report by the end of the drain)");
  EXPECT_EQ(loss->cut_off, 1u);
  EXPECT_EQ(loss->dropped, 0u);
}

// A run stopped early (Ctrl-C): an agent that still reports but has not
// ended when the drain is over was ended by the coordinator, not lost; what
// it had in flight is cut off all the same.
TEST(AgentLinkAtTheEnd, AfterAStopAnAgentStillDrainingIsEndedNotLost) {
  EndingRun run(/*closes_later=*/true);
  run.report_until(4);
  run.link->stop_arrivals();
  EXPECT_EQ(run.channel->stops, 1);
  for (std::uint64_t seq = 5; seq <= 8; ++seq) {
    run.at(static_cast<double>(seq));
    run.channel->send(round_frame(seq, 0, 0, 1));
    run.collect();
  }
  EXPECT_EQ(run.notice, "waiting for agent a2 (2 of 2)'s last report, 3 s");
  run.link->cut_off();
  EXPECT_EQ(run.channel->kills, 1);
  run.collect();
  EXPECT_EQ(run.cut_off, 1u);
  EXPECT_EQ(run.dropped, 0u);  // the rest of its share was never due
  run.channel->close("was killed by SIGKILL");
  EXPECT_FALSE(run.link->loss());
}

// The same silence after a stop: the agent is lost.
TEST(AgentLinkAtTheEnd, AfterAStopASilentAgentIsJudgedLost) {
  EndingRun run;
  run.report_until(4);
  run.at(4.5);
  run.link->stop_arrivals();
  run.at(6.5);
  run.collect();
  EXPECT_EQ(run.notice, "waiting for agent a2 (2 of 2)'s last report, 1 s");
  run.at(7.25);
  run.collect();
  EXPECT_EQ(run.drained, 1);
  const auto loss = run.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "was lost at the end (silent after 4.0 s)");
  EXPECT_EQ(run.cut_off, 1u);
}

// A local agent silent for its 5 s is being ended already (and said so):
// the end of the profile does not judge it a second time.
TEST(AgentLinkAtTheEnd, ALocalAgentEndedForItsSilenceKeepsItsStory) {
  EndingRun run(/*closes_later=*/true, /*pipe=*/true);
  run.report_until(5);
  run.at(10.25);
  run.collect();
  EXPECT_EQ(run.channel->kills, 1);
  EXPECT_EQ(run.drained, 0);  // its close is still to come
  run.at(10.5);
  run.collect();
  EXPECT_EQ(run.channel->kills, 1);  // not judged again
  run.channel->close("was killed by SIGKILL");
  run.collect();
  EXPECT_EQ(run.drained, 1);
  const auto loss = run.link->loss();
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss->how, "stopped reporting and was ended");
  EXPECT_EQ(run.started + run.dropped, 50u);
  EXPECT_EQ(run.cut_off, 1u);
}

// Through --coordinator-url the service's run does the waiting: its round
// frames carry its notice, which the caller shows as it is — printable
// characters only, whoever sent it.
TEST(AgentLinkAtTheEnd, TheCoordinatorServicesNoticeIsShown) {
  EndingRun run;
  run.report_until(10);
  run.at(10.1);
  nlohmann::json frame = nlohmann::json::parse(round_frame(11, 0, 1, 0));
  frame["notice"] = "waiting for agent v2 (1 of 2)'s last report, 2 s\033[2J";
  run.channel->send(frame.dump());
  run.at(10.25);
  run.collect();
  EXPECT_EQ(run.notice, "waiting for agent v2 (1 of 2)'s last report, 2 s[2J");
  frame["seq"] = 12;
  frame["notice"] = std::string(1000, 'x');
  run.channel->send(frame.dump());
  run.collect();
  EXPECT_EQ(run.notice.size(), agents::kMaxNotice);
}

// The link set down mid-run (docs/distributed.md#across-real-links): an
// agent silent from 3 s, its reports held while it is cut off, is marked
// lost (--agent-lost-after 2s) and shown so while it lasts; its share is
// not counted as dropped meanwhile. Back at 9.75 s with every report, it
// resumes: its share counts in full, the books are exact, and the run is
// warned, not failed.
TEST(AgentLinkLostAndBack, AnAgentBackWithEveryReportResumesItsShareAndIsAWarning) {
  EndingRun run(false, false, milliseconds(2000));
  run.report_until(3);  // the last leaves one in flight
  run.at(4.25);
  run.collect();
  EXPECT_EQ(run.notice, "");
  run.at(5.25);
  run.collect();  // silent 2.25 s: lost
  EXPECT_EQ(run.notice,
            "agent a2 (2 of 2) lost since 5.2 s into the run (0 s); its share counts if it comes "
            "back");
  run.at(8.5);
  run.collect();
  EXPECT_EQ(run.notice,
            "agent a2 (2 of 2) lost since 5.2 s into the run (3 s); its share counts if it comes "
            "back");
  EXPECT_EQ(run.dropped, 0u);  // nothing counted that its return would take back
  EXPECT_EQ(run.cut_off, 0u);
  ASSERT_EQ(run.link->absences().size(), 1u);
  // Its link is up: the rounds it kept come, and it goes on.
  run.at(9.75);
  run.channel->send(round_frame(4, 5, 6, 0));  // the one in flight ended
  for (std::uint64_t seq = 5; seq <= 9; ++seq) run.channel->send(round_frame(seq, 5, 5, 0));
  run.collect();
  EXPECT_EQ(run.notice, "");
  run.at(10.5);
  run.channel->send(round_frame(10, 5, 5, 0));
  run.channel->send(R"({"type":"end","fatal":"","rounds":10})");
  run.channel->close("exited with code 0");
  run.collect();
  EXPECT_EQ(run.drained, 1);
  // The books: its whole share started, none dropped, none cut off.
  EXPECT_EQ(run.started, 50u);
  EXPECT_EQ(run.dropped, 0u);
  EXPECT_EQ(run.cut_off, 0u);
  EXPECT_FALSE(run.link->loss());
  EXPECT_EQ(run.link->problem(), "");
  const auto absences = run.link->absences();
  ASSERT_EQ(absences.size(), 1u);
  EXPECT_NEAR(absences[0].lost_at_s, 5.25, 1e-9);
  EXPECT_NEAR(absences[0].back_at_s, 9.75, 1e-9);
  EXPECT_EQ(run.link->warning(),
            "agent a2 (2 of 2) was lost 5.2 s into the run, for 4.5 s and came back: every round "
            "report of it arrived and its share is counted in full");
}

// Back, but with a round report that never came: its books cannot be
// exact, so that is a problem (the run fails), not a warning.
TEST(AgentLinkLostAndBack, AnAgentBackWithoutEveryReportIsAProblemNotAWarning) {
  EndingRun run(false, false, milliseconds(2000));
  run.report_until(3);
  run.at(6);
  run.collect();  // lost
  run.at(11);
  for (std::uint64_t seq = 5; seq <= 10; ++seq) run.channel->send(round_frame(seq, 5, 5, 0));
  run.channel->send(R"({"type":"end","fatal":"","rounds":10})");
  run.channel->close("exited with code 0");
  run.collect();
  EXPECT_NE(run.link->problem().find("1 of its 10 round reports never arrived"), std::string::npos)
      << run.link->problem();
  EXPECT_EQ(run.link->warning(), "");
}

// A coordinator's links merge their round frames as they arrive
// (metrics/round_accumulator.h): the round's measurements come from the
// accumulator, not the link's report, each once; the link's own books —
// what a lost agent costs — are unchanged.
TEST(AgentLinkMergedOnArrival, RoundsGoToTheAccumulatorOnceAndTheBooksStayExact) {
  EndingRun run;
  auto merged = std::make_shared<loadpilot::metrics::RoundAccumulator>(1);
  run.link->merge_rounds_into(merged);
  std::uint64_t taken = 0;
  for (std::uint64_t seq = 1; seq <= 8; ++seq) {
    run.at(static_cast<double>(seq));
    run.channel->send(round_frame(seq, 5, seq == 8 ? 4 : 5, seq == 8 ? 1 : 0));
    run.channel->send(round_frame(seq, 5, 5, 0));  // a repeat: ignored
    run.collect();
    taken += merged->take().iterations_started;
  }
  EXPECT_EQ(run.started, 0u);  // not in its reports
  EXPECT_EQ(taken, 40u);
  // Silent from 8 s, judged at the end: its unreported share is dropped
  // and its one in flight cut off, in its report, as without an accumulator.
  run.at(11.25);
  run.collect();
  EXPECT_EQ(run.dropped, 10u);
  EXPECT_EQ(run.cut_off, 1u);
  // Nothing after its books closed is merged.
  run.channel->send(round_frame(9, 5, 5, 0));
  EXPECT_EQ(merged->take().iterations_started, 0u);
  EXPECT_EQ(taken + run.dropped, loadpilot::load::share_of(100, 1, 2));
}
