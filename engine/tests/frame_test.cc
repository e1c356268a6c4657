// The frames agents send their coordinator (cluster/frame.h) and how a
// coordinator's AgentLink books them (cluster/coordinator/agent_link.h): a frame that is
// not exactly what an agent sends is dropped whole and named as a problem,
// and every round is counted once by its number, 1 included.
#include "cluster/frame.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/coordinator/agent_link.h"
#include "fake_channel.h"
#include "load/profile.h"
#include "plan/plan.h"

namespace agents = loadpilot::agents;
using nlohmann::json;

namespace {

json round_frame(std::uint64_t seq, std::uint64_t started) {
  loadpilot::metrics::IntervalStats s;
  s.iterations_started = started;
  return {{"type", "round"}, {"seq", seq}, {"stats", s.to_json()}, {"in_flight", 0}};
}

std::string bad_field(const json& frame) {
  try {
    agents::parse_frame(frame.dump());
  } catch (const agents::FrameError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Frame, ReadsEachTypeAnAgentSends) {
  EXPECT_EQ(agents::parse_frame(R"({"type":"hello","tasks":["a","b"]})").tasks,
            (std::vector<std::string>{"a", "b"}));
  const agents::Frame r = agents::parse_frame(round_frame(3, 7).dump());
  EXPECT_EQ(r.seq, 3u);
  EXPECT_EQ(r.stats.iterations_started, 7u);
  const agents::Frame e =
      agents::parse_frame(R"({"type":"end","fatal":"","blocked":true,"rounds":4})");
  EXPECT_TRUE(e.blocked);
  EXPECT_EQ(e.rounds, 4u);
  EXPECT_EQ(agents::parse_frame(R"({"type":"exit","how":"exited with code 0"})").how,
            "exited with code 0");
}

// The four forged frames that once ended a coordinator with exit 3.
TEST(Frame, EveryFieldIsTypeChecked) {
  EXPECT_EQ(bad_field({{"type", 5}}), "\"type\": must be a string (got 5)");
  json seq = round_frame(1, 1);
  seq["seq"] = "x";
  EXPECT_EQ(bad_field(seq), "\"seq\": must be a whole number from 1 (got \"x\")");
  EXPECT_EQ(bad_field({{"type", "exit"}, {"how", 5}}), "\"how\": must be a string (got 5)");
  EXPECT_EQ(bad_field({{"type", "end"}, {"rounds", "x"}}),
            "\"rounds\": must be a whole number from 0 (got \"x\")");
  EXPECT_NE(bad_field({{"type", "hello"}, {"tasks", {1}}}), "");
  EXPECT_NE(bad_field({{"type", "end"}, {"blocked", "yes"}}), "");
  EXPECT_NE(bad_field({{"type", "round"}, {"seq", 1}}), "");  // no stats
  EXPECT_NE(bad_field({{"type", "nope"}}), "");
  EXPECT_NE(bad_field({{"type", "exit"}, {"run_id", 5}}), "");
  EXPECT_NE(bad_field(json::array()), "");
  EXPECT_THROW(agents::parse_frame("{"), agents::FrameError);
}

TEST(Frame, ARoundWithoutANumberFromOneIsRefused) {
  EXPECT_EQ(bad_field(round_frame(0, 1)), "\"seq\": must be a whole number from 1 (got 0)");
  json none = round_frame(1, 1);
  none.erase("seq");
  EXPECT_EQ(bad_field(none), "\"seq\": missing");
  json negative = round_frame(1, 1);
  negative["seq"] = -1;
  EXPECT_NE(bad_field(negative), "");
}

namespace {

using TestChannel = loadpilot::test_support::FakeChannel;

struct Link {
  TestChannel* channel;
  std::unique_ptr<agents::AgentLink> link;
  Link() {
    loadpilot::plan::ProfileSpec spec;
    spec.mode = loadpilot::plan::Mode::kConstant;
    spec.rps = 10;
    spec.duration_s = 1;
    spec.ramp_up_s = 0;
    auto c = std::make_unique<TestChannel>(false, false, "agent t (1 of 1)");
    channel = c.get();
    link =
        std::make_unique<agents::AgentLink>(0, 1, loadpilot::load::Profile::from_spec(spec), false,
                                            std::move(c), std::chrono::seconds(60), nullptr);
  }
  std::uint64_t started() {
    std::uint64_t n = 0;
    link->report([&](loadpilot::metrics::WorkerReport&& r) { n = r.stats.iterations_started; });
    return n;
  }
};

}  // namespace

TEST(AgentLinkFrames, EveryRoundIsMergedOnceByItsNumber) {
  Link l;
  l.channel->send(R"({"type":"hello","tasks":[]})");
  l.channel->send(round_frame(1, 5).dump());
  l.channel->send(round_frame(1, 5).dump());  // a repeat
  l.channel->send(round_frame(0, 5).dump());  // a replay renumbered 0
  json no_seq = round_frame(1, 5);
  no_seq.erase("seq");
  l.channel->send(no_seq.dump());
  l.channel->send(round_frame(2, 3).dump());
  EXPECT_EQ(l.started(), 8u);
  EXPECT_NE(l.link->problem().find("2 malformed frames dropped"), std::string::npos)
      << l.link->problem();
}

TEST(AgentLinkFrames, AForgedFrameIsDroppedAndNamedNotFatal) {
  Link l;
  l.channel->send(R"({"type":"hello","tasks":[]})");
  for (const char* forged : {R"({"type":5})", R"({"type":"exit","how":5})",
                             R"({"type":"end","rounds":"x"})", R"({"type":"round","seq":"x"})"})
    EXPECT_NO_THROW(l.channel->send(forged));
  l.channel->send(round_frame(1, 4).dump());
  EXPECT_EQ(l.started(), 4u);
  const std::string problem = l.link->problem();
  EXPECT_NE(problem.find("agent t (1 of 1): 4 malformed frames dropped, nothing of them counted; "
                         "the first: \"type\": must be a string (got 5)"),
            std::string::npos)
      << problem;
}
