// The watchdog's reading of a stack dump and its report. Its watching is
// tested end to end (tests/e2e/test_watchdog.py), with a real interpreter.
#include "scenario/python_watchdog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace loadpilot::scenario {
namespace {

using Frame = PythonWatchdog::Frame;

TEST(PythonWatchdog, ParsesPythonsDumpFormat) {
  const std::string dump =
      "Stack (most recent call first):\n"
      "  File \"/usr/lib/python3.11/re/__init__.py\", line 166 in match\n"
      "  File \"/tmp/s/scenario.py\", line 6 in backtrack\n"
      "  File \"/tmp/a\", line 3.py\", line 15 in work\n"
      "  ...\n";
  const std::vector<Frame> frames = PythonWatchdog::parse_dump(dump);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].file, "/usr/lib/python3.11/re/__init__.py");
  EXPECT_EQ(frames[0].line, 166);
  EXPECT_EQ(frames[0].function, "match");
  EXPECT_EQ(frames[1].file, "/tmp/s/scenario.py");
  EXPECT_EQ(frames[1].line, 6);
  // A file name that looks like the separator: the last one wins.
  EXPECT_EQ(frames[2].file, "/tmp/a\", line 3.py");
  EXPECT_EQ(frames[2].line, 15);
  EXPECT_EQ(frames[2].function, "work");
  EXPECT_TRUE(PythonWatchdog::parse_dump("").empty());
  EXPECT_TRUE(PythonWatchdog::parse_dump("garbage\n  File \"x\"\n").empty());
}

class PythonWatchdogReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lp-watchdog-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
    std::filesystem::create_directories(dir_);
    scenario_ = (dir_ / "scenario.py").string();
    std::ofstream(scenario_) << "import time\n"
                                "class Shop:\n"
                                "    def browse(self, client):\n"
                                "        helper()\n"
                                "def helper():\n"
                                "        time.sleep(30)  \n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  PythonWatchdog::Options options() const {
    PythonWatchdog::Options o;
    o.scenario_path = "scenarios/scenario.py";
    o.scenario_abspath = scenario_;
    o.package_dir = "/opt/lp/loadpilot";
    return o;
  }

  std::filesystem::path dir_;
  std::string scenario_;
};

TEST_F(PythonWatchdogReport, NamesTheTaskTheLineAndTheUsersFramesOnly) {
  PythonWatchdog w(options(), [](const std::string&) {});
  const std::vector<Frame> stack = {
      {scenario_, 6, "helper"},
      {scenario_, 4, "Shop.browse"},
      {"/opt/lp/loadpilot/_runtime.py", 400, "Runtime._task"},
      {"/opt/lp/loadpilot/_runtime.py", 300, "Runtime._iteration"},
  };
  const std::string m = w.describe(stack, 3.04, false);
  EXPECT_EQ(m.rfind("a VUser blocked the Python thread: Shop.browse (scenarios/scenario.py:6) "
                    "has run for 3.0 s without returning or waiting for a response",
                    0),
            0u)
      << m;
  EXPECT_NE(m.find("  Python stack, most recent call last:\n"
                   "    scenarios/scenario.py:4 in Shop.browse\n"
                   "      helper()\n"
                   "    scenarios/scenario.py:6 in helper\n"
                   "      time.sleep(30)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("_runtime.py"), std::string::npos) << m;
}

TEST_F(PythonWatchdogReport, SaysWhenTheThreadIsInsideACFunction) {
  PythonWatchdog w(options(), [](const std::string&) {});
  const std::string m = w.describe(
      {{"/usr/lib/python3.11/re/__init__.py", 166, "match"}, {scenario_, 4, "browse"}}, 3.2, true);
  EXPECT_NE(m.find("browse (scenarios/scenario.py:4) has been inside a C function that keeps "
                   "the interpreter lock for 3.2 s"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("/usr/lib/python3.11/re/__init__.py:166 in match"), std::string::npos) << m;
}

TEST_F(PythonWatchdogReport, WithoutScenarioFramesShowsAllButTheRuntime) {
  PythonWatchdog w(options(), [](const std::string&) {});
  std::string m = w.describe(
      {{"/srv/lib/util.py", 9, "spin"}, {"/opt/lp/loadpilot/_runtime.py", 400, "Runtime._task"}},
      3.0, false);
  EXPECT_NE(m.find(": spin (/srv/lib/util.py:9) has run"), std::string::npos) << m;
  EXPECT_EQ(m.find("_runtime.py"), std::string::npos) << m;
  m = w.describe({}, 3.0, true);
  EXPECT_NE(m.find("the Python stack could not be read"), std::string::npos) << m;
}

TEST(PythonWatchdog, NeverAttachedIsNeitherBlockedNorEnded) {
  PythonWatchdog::Options o;
  o.check_every = std::chrono::milliseconds(5);
  o.blocked_after = std::chrono::milliseconds(10);
  bool called = false;
  PythonWatchdog w(o, [&](const std::string&) { called = true; });
  EXPECT_FALSE(w.wait(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  EXPECT_FALSE(w.blocked());
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace loadpilot::scenario
