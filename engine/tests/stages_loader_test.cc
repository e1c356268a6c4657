// stages= and shape() from real scenario files, through the embedded
// interpreter, into the plan (scenario/table.h, loadpilot._shape).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "scenario/loader.h"

namespace loadpilot::scenario {
namespace {

namespace fs = std::filesystem;

class StagesLoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* source = std::getenv("LOADPILOT_SOURCE_DIR");
    if (std::getenv("LOADPILOT_PYTHON_DIR") == nullptr && source != nullptr)
      setenv("LOADPILOT_PYTHON_DIR", (std::string(source) + "/cli").c_str(), 1);
  }
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "loadpilot-stages-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The plan of FILE's only scenario, with its problems in *errors.
  plan::Plan build(const std::string& name, const std::string& source,
                   std::vector<std::string>* errors, const Overrides& extra = {}) {
    file_ = (dir_ / name).string();
    std::ofstream(file_) << source;
    Overrides o = extra;
    o.target = "http://127.0.0.1:1";
    return build_plan(load_scenarios(file_)[0], file_, o, errors);
  }

  fs::path dir_;
  std::string file_;
};

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

bool has(const std::vector<std::string>& errors, const std::string& wanted) {
  return std::find(errors.begin(), errors.end(), wanted) != errors.end();
}

bool mentions(const std::vector<std::string>& errors, const std::string& part) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(part) != std::string::npos; });
}

constexpr const char* kHead = "from loadpilot import VUser, scenario, task, between\n";
constexpr const char* kTask = R"(
    @task
    def home(self, client):
        client.get("/")
)";

TEST_F(StagesLoaderTest, AnOpenTableBecomesThePlansCurve) {
  std::vector<std::string> errors;
  const plan::Plan p = build("open.py", std::string(kHead) + R"(
@scenario(stages=[("30s", 100), ("5m", 100), ("30s", 800), ("2m", 0)])
class Ramp(VUser):)" + kTask,
                             &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_EQ(p.profile.mode, plan::Mode::kStages);
  ASSERT_EQ(p.profile.stages.size(), 4u);
  EXPECT_DOUBLE_EQ(p.profile.stages[1].duration_s, 300);
  EXPECT_DOUBLE_EQ(p.profile.stages[2].target, 800);
  EXPECT_DOUBLE_EQ(p.profile.start, 0);  // rps= left out
  EXPECT_DOUBLE_EQ(p.profile.rps, 800);
  EXPECT_DOUBLE_EQ(p.profile.total_s(), 480);
  EXPECT_FALSE(p.profile.closed());
}

TEST_F(StagesLoaderTest, RpsIsTheStartAndUsersMakeItClosed) {
  std::vector<std::string> errors;
  plan::Plan p = build("start.py", std::string(kHead) + R"(
@scenario(rps=20, stages=[(1, 50)])
class Start(VUser):)" + kTask,
                       &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.start, 20);

  p = build("closed.py", std::string(kHead) + R"(
@scenario(users=0, wait=between(0.1, 0.2), stages=[("2s", 8), ("1s", 8), ("1s", 0)])
class Closed(VUser):)" + kTask,
            &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_TRUE(p.profile.closed());
  EXPECT_EQ(p.profile.users, 8);
  EXPECT_EQ(p.max_vusers, 8);
  EXPECT_EQ(p.profile.wait.kind, plan::WaitSpec::Kind::kBetween);
  EXPECT_EQ(plan::Plan::from_json(p.to_json()).profile.users, 8);
}

TEST_F(StagesLoaderTest, BadRowsAreNamedAtTheirLines) {
  std::vector<std::string> errors;
  build("bad.py", std::string(kHead) + R"(
@scenario(stages=[
    ("10s", 100),
    ("0s", 100),
    ("-5s", 10),
    ("10s", -5),
    ("10s", "many"),
    ("ten", 5),
    ("10s", 1, 2),
])
class Bad(VUser):)" + kTask,
        &errors);
  const std::string f = file_;
  EXPECT_TRUE(has(errors, f + ":5: stages[1].duration: must be a duration > 0 (got 0s)"))
      << joined(errors);
  EXPECT_TRUE(mentions(errors, f + ":6: stages[2].duration: ")) << joined(errors);
  EXPECT_TRUE(has(errors, f + ":7: stages[3].target: must be a number of iterations/s from 0 "
                              "to 10000000 (got -5)"))
      << joined(errors);
  EXPECT_TRUE(has(errors, f + ":8: stages[4].target: must be a number of iterations/s (got "
                              "\"many\")"))
      << joined(errors);
  EXPECT_TRUE(mentions(errors, f + ":9: stages[5].duration: must be a duration like"))
      << joined(errors);
  EXPECT_TRUE(mentions(errors, f + ":10: stages[6]: must be a (duration, target) pair"))
      << joined(errors);
}

TEST_F(StagesLoaderTest, EmptyWrongTypeAndConflicts) {
  std::vector<std::string> errors;
  build("empty.py", std::string(kHead) + R"(
@scenario(stages=[])
class Empty(VUser):)" + kTask,
        &errors);
  EXPECT_TRUE(has(errors, file_ + ":3: stages: at least one (duration, target) stage is "
                                  "required (got [])"))
      << joined(errors);

  errors.clear();
  build("string.py", std::string(kHead) + R"(
@scenario(stages="30s")
class Text(VUser):)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, file_ + ":3: stages: must be a list of (duration, target) pairs"))
      << joined(errors);

  errors.clear();
  build("mixed.py", std::string(kHead) + R"(
@scenario(duration="1m", stages=[("10s", 5)])
class Mixed(VUser):)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, "duration: does not go with stages=")) << joined(errors);

  errors.clear();
  Overrides o;
  o.duration = "5s";
  build("flag.py", std::string(kHead) + R"(
@scenario(stages=[("10s", 5)])
class Flag(VUser):)" + kTask,
        &errors, o);
  EXPECT_TRUE(mentions(errors, "--duration does not apply")) << joined(errors);

  errors.clear();
  build("closedbad.py", std::string(kHead) + R"(
@scenario(users=0, stages=[("10s", 2.5)])
class Half(VUser):)" + kTask,
        &errors);
  EXPECT_TRUE(has(errors, file_ + ":3: stages[0].target: must be a whole number of users from 0 "
                                  "to 100000 (got 2.5)"))
      << joined(errors);
}

TEST_F(StagesLoaderTest, RpsAndUsersFlagsSetTheStart) {
  std::vector<std::string> errors;
  Overrides o;
  o.rps = "30";
  plan::Plan p = build("flagrps.py", std::string(kHead) + R"(
@scenario(stages=[(1, 50)])
class Open(VUser):)" + kTask,
                       &errors, o);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.start, 30);

  Overrides u;
  u.users = 3;
  p = build("flagusers.py", std::string(kHead) + R"(
@scenario(users=0, stages=[(1, 5)])
class Closed(VUser):)" + kTask,
            &errors, u);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.start, 3);
  EXPECT_EQ(p.profile.users, 5);
}

TEST_F(StagesLoaderTest, AClosedShapeSetsTheUsers) {
  std::vector<std::string> errors;
  const plan::Plan p = build("users.py", std::string(kHead) + R"(
@scenario(users=0, wait=between(1, 2))
class Crowd(VUser):
    def shape(self, t):
        return None if t >= 2 else (4 if t < 1 else 9)
)" + kTask,
                             &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_EQ(p.profile.mode, plan::Mode::kShape);
  EXPECT_TRUE(p.profile.closed());
  EXPECT_EQ(p.profile.users, 9);
  EXPECT_EQ(p.max_vusers, 9);

  errors.clear();
  build("some.py", std::string(kHead) + R"(
@scenario(users=5)
class Some(VUser):
    def shape(self, t):
        return None if t >= 1 else 2
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, "users: shape() sets the users; write users=0")) << joined(errors);
}

constexpr const char* kShape = R"(
@scenario
class Wave(VUser):
    def shape(self, t):
        if t >= 1.0:
            return None
        return 10 if t < 0.5 else 30
)";

TEST_F(StagesLoaderTest, AShapeIsEvaluatedIntoHeldSteps) {
  std::vector<std::string> errors;
  const plan::Plan p = build("wave.py", std::string(kHead) + kShape + kTask, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_EQ(p.profile.mode, plan::Mode::kShape);
  ASSERT_EQ(p.profile.stages.size(), 2u);
  EXPECT_DOUBLE_EQ(p.profile.stages[0].duration_s, 0.5);
  EXPECT_DOUBLE_EQ(p.profile.stages[0].target, 10);
  EXPECT_DOUBLE_EQ(p.profile.stages[1].target, 30);
  EXPECT_DOUBLE_EQ(p.profile.total_s(), 1.0);
  EXPECT_DOUBLE_EQ(p.profile.rps, 30);
}

TEST_F(StagesLoaderTest, ABadShapeIsNamedAtItsLine) {
  std::vector<std::string> errors;
  build("raises.py", std::string(kHead) + R"(
@scenario
class Raises(VUser):
    def shape(self, t):
        if t > 0.25:
            raise ValueError("no more")
        return 5
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, file_ + ":7: ValueError: no more (in shape() at t=0.3s)"))
      << joined(errors);

  errors.clear();
  build("forever.py", std::string(kHead) + R"(
@scenario
class Forever(VUser):
    def shape(self, t):
        return 1
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, file_ + ":5: shape() did not return None within 86400s"))
      << joined(errors);

  errors.clear();
  build("negative.py", std::string(kHead) + R"(
@scenario
class Negative(VUser):
    def shape(self, t):
        return -1 if t > 0.1 else 3
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, file_ + ":5: shape() returned -1 at t=0.2s")) << joined(errors);

  errors.clear();
  build("none.py", std::string(kHead) + R"(
@scenario
class Nothing(VUser):
    def shape(self, t):
        return None
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, file_ + ":5: shape() returned None at t=0s")) << joined(errors);

  errors.clear();
  build("both.py", std::string(kHead) + R"(
@scenario(rps=5, stages=[(1, 1)])
class Both(VUser):
    def shape(self, t):
        return None if t >= 1 else 1
)" + kTask,
        &errors);
  EXPECT_TRUE(mentions(errors, "stages: does not go with a shape() method")) << joined(errors);
  EXPECT_TRUE(mentions(errors, "rps: shape() sets the rate")) << joined(errors);
}

}  // namespace
}  // namespace loadpilot::scenario
