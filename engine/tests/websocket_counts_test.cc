// WebSocketCounts (metrics/websocket_counts.h) and the loadpilot_websocket_*
// series (monitor/websocket_metrics.h): merging, the JSON agents send, the
// bound on close codes, the Prometheus counters.
#include "metrics/websocket_counts.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "metrics/stats.h"
#include "monitor/websocket_metrics.h"

namespace loadpilot::metrics {
namespace {

WebSocketCounts sample() {
  WebSocketCounts c;
  c.opened = 3;
  c.messages_sent = 10;
  c.messages_received = 9;
  c.bytes_sent = 100;
  c.bytes_received = 90;
  c.add_close(1000, 2);
  c.add_close(1006);
  return c;
}

TEST(WebSocketCounts, MergeAddsEveryCount) {
  WebSocketCounts a = sample(), b = sample();
  a.merge(b);
  EXPECT_EQ(a.opened, 6u);
  EXPECT_EQ(a.messages_sent, 20u);
  EXPECT_EQ(a.messages_received, 18u);
  EXPECT_EQ(a.bytes_sent, 200u);
  EXPECT_EQ(a.bytes_received, 180u);
  EXPECT_EQ(a.closes.at(1000), 4u);
  EXPECT_EQ(a.closes.at(1006), 2u);
}

TEST(WebSocketCounts, JsonRoundTripIsExact) {
  const WebSocketCounts c = sample();
  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j["closes"]["1000"], 2);
  const WebSocketCounts back = WebSocketCounts::from_json(j);
  EXPECT_EQ(back.to_json(), j);
}

TEST(WebSocketCounts, CloseCodesAreBounded) {
  WebSocketCounts c;
  for (std::uint16_t code = 4000; code < 4000 + 100; ++code) c.add_close(code);
  EXPECT_LE(c.closes.size(), WebSocketCounts::kMaxCodes + 1);
  std::uint64_t total = 0;
  for (const auto& [code, n] : c.closes) total += n;
  EXPECT_EQ(total, 100u);  // none lost: the overflow counts under "other"
  EXPECT_EQ(c.closes.at(0), 100u - WebSocketCounts::kMaxCodes);
  EXPECT_TRUE(c.to_json()["closes"].contains("other"));
  EXPECT_EQ(WebSocketCounts::from_json(c.to_json()).closes, c.closes);
}

TEST(WebSocketCounts, FromJsonNamesTheBadField) {
  nlohmann::json j = sample().to_json();
  j["closes"]["abc"] = 1u;
  try {
    WebSocketCounts::from_json(j);
    FAIL() << "accepted a bad close code";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"abc\""), std::string::npos) << e.what();
  }
  j = sample().to_json();
  j["messages_sent"] = -1;
  EXPECT_THROW(WebSocketCounts::from_json(j), std::invalid_argument);
  j = sample().to_json();
  j["closes"]["70000"] = 1u;
  EXPECT_THROW(WebSocketCounts::from_json(j), std::invalid_argument);
}

TEST(WebSocketCounts, TravelsWithIntervalStatsOnlyWhenUsed) {
  IntervalStats unused(1);
  EXPECT_FALSE(unused.to_json().contains("websocket"));  // as an older agent sends
  EXPECT_TRUE(IntervalStats::from_json(unused.to_json()).websocket.empty());
  IntervalStats used(1);
  used.websocket = sample();
  IntervalStats back = IntervalStats::from_json(used.to_json());
  EXPECT_EQ(back.websocket.to_json(), sample().to_json());
  back.merge(used);
  EXPECT_EQ(back.websocket.opened, 6u);
}

TEST(WebSocketCounts, DescribeSaysEachWay) {
  EXPECT_EQ(sample().describe(),
            "3 opened; messages sent 10 (100 bytes), received 9 (90 bytes); closes 1000 x2 "
            "1006 x1");
}

TEST(WebSocketMetrics, CountersAddEachRound) {
  prometheus::Registry registry;
  monitor::WebSocketMetrics m(registry);
  m.update(sample());
  m.update(sample());
  std::map<std::string, double> seen;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    for (const prometheus::ClientMetric& c : f.metric) {
      std::string key = f.name;
      for (const prometheus::ClientMetric::Label& l : c.label) key += "|" + l.value;
      seen[key] = c.counter.value;
    }
  }
  EXPECT_EQ(seen["loadpilot_websocket_opened_total"], 6);
  EXPECT_EQ(seen["loadpilot_websocket_messages_total|sent"], 20);
  EXPECT_EQ(seen["loadpilot_websocket_messages_total|received"], 18);
  EXPECT_EQ(seen["loadpilot_websocket_bytes_total|sent"], 200);
  EXPECT_EQ(seen["loadpilot_websocket_bytes_total|received"], 180);
  EXPECT_EQ(seen["loadpilot_websocket_closes_total|1000"], 4);
  EXPECT_EQ(seen["loadpilot_websocket_closes_total|1006"], 2);
}

}  // namespace
}  // namespace loadpilot::metrics
