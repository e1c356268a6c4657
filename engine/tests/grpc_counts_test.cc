// GrpcCounts (metrics/grpc_counts.h): merging, the summary's line, the JSON
// agents send and the results carry, and the bound on distinct codes.
#include "metrics/grpc_counts.h"

#include <gtest/gtest.h>

#include "metrics/stats.h"

namespace loadpilot::metrics {
namespace {

TEST(GrpcCounts, MergeAddsByCodeAndTheLineNamesThem) {
  GrpcCounts a, b;
  a.add(0, 95);
  a.add(5, 3);
  b.add(5, 2);
  b.add(14);
  a.merge(b);
  EXPECT_EQ(a.statuses, (std::map<int, std::uint64_t>{{0, 95}, {5, 5}, {14, 1}}));
  EXPECT_EQ(a.describe(), "OK x95, NOT_FOUND (5) x5, UNAVAILABLE (14) x1");
  EXPECT_EQ(a.to_json().dump(), R"({"0":95,"14":1,"5":5})");
}

TEST(GrpcCounts, RoundTripsThroughJsonAndRefusesWhatIsNoCount) {
  GrpcCounts a;
  a.add(0, 7);
  a.add(16, 1);
  a.add(99, 2);
  EXPECT_EQ(GrpcCounts::from_json(a.to_json()).statuses, a.statuses);
  EXPECT_EQ(a.describe(), "OK x7, UNAUTHENTICATED (16) x1, code 99 x2");
  EXPECT_THROW(GrpcCounts::from_json(nlohmann::json::array()), std::invalid_argument);
  EXPECT_THROW(GrpcCounts::from_json({{"x", 1}}), std::invalid_argument);
  EXPECT_THROW(GrpcCounts::from_json({{"0", -1}}), std::invalid_argument);
  EXPECT_THROW(GrpcCounts::from_json({{"-3", 1}}), std::invalid_argument);
}

TEST(GrpcCounts, PastTheBoundFurtherCodesCountAsOther) {
  GrpcCounts a;
  for (int code = 0; code < 40; ++code) a.add(code);
  EXPECT_EQ(a.statuses.size(), GrpcCounts::kMaxCodes + 1);
  EXPECT_EQ(a.statuses.at(-1), 40u - GrpcCounts::kMaxCodes);
  EXPECT_EQ(a.to_json()["other"], 40u - GrpcCounts::kMaxCodes);
  EXPECT_EQ(GrpcCounts::from_json(a.to_json()).statuses, a.statuses);
}

TEST(GrpcCounts, TravelsWithIntervalStatsOnlyWhenUsed) {
  IntervalStats s;
  EXPECT_FALSE(s.to_json().contains("grpc_status"));
  s.grpc_status.add(5, 2);
  const IntervalStats back = IntervalStats::from_json(s.to_json());
  EXPECT_EQ(back.grpc_status.statuses, s.grpc_status.statuses);
  IntervalStats sum;
  sum.merge(back);
  sum.merge(back);
  EXPECT_EQ(sum.grpc_status.statuses.at(5), 4u);
}

}  // namespace
}  // namespace loadpilot::metrics
