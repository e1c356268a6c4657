// The coordinator service's run options (POST /run "options") are refused
// with the value as it was sent: a negative count must not read back as
// 2^64-1 (docs/distributed.md#the-coordinator-service).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "cluster/protocol.h"

namespace proto = loadpilot::agents::protocol;

namespace {

nlohmann::json request_with(const char* option, nlohmann::json value) {
  proto::RunRequest r;
  r.plan = {{"name", "Shop"}};
  r.bundle.main = "shop.py";
  r.bundle.files = {{"shop.py", "x = 1\n"}};
  r.bundle.sha256 = proto::bundle_hash(r.bundle.files);
  nlohmann::json j = r.to_json();
  j["options"][option] = std::move(value);
  return j;
}

std::string refusal(const nlohmann::json& j) {
  try {
    proto::RunRequest::from_json(j);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(RunRequestOptions, NegativeCountsAreRefusedAsSent) {
  for (const char* option : {"workers", "max_connections", "seed"}) {
    const std::string why = refusal(request_with(option, -1));
    EXPECT_EQ(why, std::string("options.") + option + ": must be a whole number >= 0 (got -1)");
    EXPECT_EQ(why.find("18446744073709551615"), std::string::npos) << why;
  }
  EXPECT_EQ(refusal(request_with("workers", 1.5)),
            "options.workers: must be a whole number >= 0 (got 1.5)");
  EXPECT_EQ(refusal(request_with("workers", 4)), "");
  EXPECT_EQ(proto::RunRequest::from_json(request_with("workers", 4)).workers, 4u);
}

}  // namespace
