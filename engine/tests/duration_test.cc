#include "plan/duration.h"

#include <gtest/gtest.h>

namespace loadpilot::plan {
namespace {

TEST(ParseDuration, AcceptsEveryDocumentedForm) {
  struct Case {
    const char* text;
    double seconds;
  };
  const Case cases[] = {
      {"30s", 30},     {"2m", 120},       {"1m30s", 90},      {"1h", 3600}, {"1h2m3s", 3723},
      {"250ms", 0.25}, {"1.5s", 1.5},     {"45", 45},         {"2.5", 2.5}, {"0", 0},
      {"0s", 0},       {"1h30m", 5400},   {"2m500ms", 120.5}, {".5s", 0.5}, {" 10s ", 10},
      {"1.5m", 90},    {"1s250ms", 1.25},
  };
  for (const Case& c : cases) {
    auto got = parse_duration(c.text);
    ASSERT_TRUE(got.has_value()) << c.text;
    EXPECT_DOUBLE_EQ(*got, c.seconds) << c.text;
  }
}

TEST(ParseDuration, RejectsJunk) {
  for (const char* text :
       {"",    " ",   "s",    "10x", "-5s", "1m-3s", "1.2.3s", "ms",   "1m30",  "30s1m", "1s1s",
        "+5s", "5 s", "1e3s", "inf", "nan", "abc",   "1..2s",  "5sec", "1h 2m", "."}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace loadpilot::plan
