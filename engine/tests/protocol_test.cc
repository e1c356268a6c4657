// The agent protocol's parsing (cluster/protocol.h): what an agent accepts
// from the network before it writes a single file.
#include "cluster/protocol.h"

#include <gtest/gtest.h>

namespace proto = loadpilot::agents::protocol;

namespace {

proto::Bundle sample() {
  proto::Bundle b;
  b.main = "checkout.py";
  b.files = {{"checkout.py", "import lib.paths\n"}, {"lib/paths.py", "HEALTH = '/health'\n"}};
  b.sha256 = proto::bundle_hash(b.files);
  return b;
}

}  // namespace

TEST(Bundle, RoundTripsThroughJson) {
  const proto::Bundle b = sample();
  const proto::Bundle back = proto::Bundle::from_json(b.to_json());
  EXPECT_EQ(back.main, b.main);
  EXPECT_EQ(back.files, b.files);
  EXPECT_EQ(back.sha256, b.sha256);
}

TEST(Bundle, HashCoversPathsAndContents) {
  const proto::Bundle b = sample();
  auto moved = b.files;
  // The same bytes split differently between a path and its content.
  moved.erase("lib/paths.py");
  moved["lib/paths.pyH"] = "EALTH = '/health'\n";
  EXPECT_NE(proto::bundle_hash(moved), b.sha256);
  auto j = b.to_json();
  j["files"]["lib/paths.py"] = "HEALTH = '/evil'\n";
  EXPECT_THROW(proto::Bundle::from_json(j), std::invalid_argument);
}

TEST(Bundle, PathsThatLeaveTheFolderAreRefused) {
  for (const std::string bad :
       {"/etc/passwd", "../x.py", "lib/../../x.py", "lib//x.py", "./x.py", "lib/", ""}) {
    proto::Bundle b = sample();
    b.files[bad] = "x";
    b.sha256 = proto::bundle_hash(b.files);
    EXPECT_THROW(proto::Bundle::from_json(b.to_json()), std::invalid_argument) << bad;
  }
}

TEST(Bundle, TheScenarioFileMustBeInIt) {
  proto::Bundle b = sample();
  b.main = "other.py";
  EXPECT_THROW(proto::Bundle::from_json(b.to_json()), std::invalid_argument);
}

TEST(Bundle, OverTheSizeLimitIsRefused) {
  proto::Bundle b = sample();
  b.files["big.py"] = std::string(proto::kMaxBundleBytes, '#');
  b.sha256 = proto::bundle_hash(b.files);
  EXPECT_THROW(proto::Bundle::from_json(b.to_json()), std::invalid_argument);
}

TEST(Assignment, RoundTripsAndChecksItsIndex) {
  proto::Assignment a;
  a.run_id = proto::new_run_id();
  a.index = 2;
  a.count = 3;
  a.plan = {{"name", "S"}};
  a.bundle = sample();
  a.workers = 0;
  a.max_connections = 7;
  a.max_vusers = 11;
  a.seed = 42;
  a.instance = "9f86d081884c7d65";
  const proto::Assignment back = proto::Assignment::from_json(a.to_json());
  EXPECT_EQ(back.run_id, a.run_id);
  EXPECT_EQ(back.instance, a.instance);  // only that agent process takes it
  EXPECT_EQ(back.index, 2u);
  EXPECT_EQ(back.max_connections, 7u);
  EXPECT_EQ(back.max_vusers, 11);
  EXPECT_EQ(back.seed, 42u);
  auto j = a.to_json();
  j["index"] = 3;  // not below count
  EXPECT_THROW(proto::Assignment::from_json(j), std::invalid_argument);
  j = a.to_json();
  j["run_id"] = "a.b";  // would escape its subject namespace
  EXPECT_THROW(proto::Assignment::from_json(j), std::invalid_argument);
}

TEST(AgentId, IsOneSubjectToken) {
  EXPECT_EQ(proto::check_agent_id("host-a_17"), "");
  EXPECT_NE(proto::check_agent_id(""), "");
  EXPECT_NE(proto::check_agent_id("a.b"), "");
  EXPECT_NE(proto::check_agent_id("a*"), "");
  EXPECT_NE(proto::check_agent_id(std::string(65, 'a')), "");
  EXPECT_EQ(proto::check_agent_id(proto::default_agent_id()), "");
  EXPECT_EQ(proto::new_run_id().size(), 16u);
}

TEST(Subjects, AreNamespacedPerRun) {
  EXPECT_EQ(proto::frames_subject("r1", 2), "loadpilot.run.r1.frames.2");
  EXPECT_EQ(proto::control_subject("r1", 0), "loadpilot.run.r1.control.0");
  EXPECT_EQ(proto::agent_subject("a1", "assign"), "loadpilot.agent.a1.assign");
}

TEST(RunRequest, RoundTripsAndNamesTheBadField) {
  proto::RunRequest r;
  r.plan = {{"name", "Shop"}};
  r.bundle = sample();
  r.workers = 4;
  r.max_connections = 40;
  r.timeout = "5s";
  r.seed = 7;
  r.insecure = true;
  const proto::RunRequest back = proto::RunRequest::from_json(r.to_json());
  EXPECT_EQ(back.plan, r.plan);
  EXPECT_EQ(back.bundle.files, r.bundle.files);
  EXPECT_EQ(back.workers, 4u);
  EXPECT_EQ(back.max_connections, 40u);
  EXPECT_EQ(back.timeout, "5s");
  EXPECT_EQ(back.seed, 7u);
  EXPECT_TRUE(back.insecure);

  nlohmann::json j = r.to_json();
  j["options"]["timeout"] = 5;
  try {
    proto::RunRequest::from_json(j);
    FAIL() << "a number for a duration was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("options.timeout"), std::string::npos) << e.what();
  }
  j = r.to_json();
  j.erase("bundle");
  EXPECT_THROW(proto::RunRequest::from_json(j), std::invalid_argument);
  EXPECT_THROW(proto::RunRequest::from_json(nlohmann::json::array()), std::invalid_argument);
  // Options may be left out: the defaults apply.
  j = r.to_json();
  j.erase("options");
  EXPECT_EQ(proto::RunRequest::from_json(j).timeout, "30s");
}
