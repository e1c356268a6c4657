// Loads real scenario files through the embedded interpreter. The bundled
// package is found through LOADPILOT_PYTHON_DIR (set from ctest's
// LOADPILOT_SOURCE_DIR when present) or build_info.h's kPythonDir.
#include "scenario/loader.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace loadpilot::scenario {
namespace {

namespace fs = std::filesystem;

class LoaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* source = std::getenv("LOADPILOT_SOURCE_DIR");
    if (std::getenv("LOADPILOT_PYTHON_DIR") == nullptr && source != nullptr) {
      setenv("LOADPILOT_PYTHON_DIR", (std::string(source) + "/cli").c_str(), 1);
    }
  }

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "loadpilot-loader-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& source) {
    fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << source;
    return path.string();
  }

  std::string load_error(const std::string& file) {
    try {
      load_scenarios(file);
    } catch (const ScenarioError& e) {
      return e.what();
    }
    return "no error";
  }

  fs::path dir_;
};

constexpr const char* kBrowse = R"(from loadpilot import VUser, scenario, task, LoadClient

@scenario(rps=200, duration="30s", ramp_up="5s", mode="ramp",
          thresholds={"p99_ms": 50, "error_rate": 1.0})
class Browse(VUser):
    """Browse the catalogue."""
    @task(weight=5)
    def products(self, client: LoadClient):
        client.get("/api/products", params={"page": 1}, headers={"Accept": "application/json"})

    @task
    def health(self, client: LoadClient):
        client.get("/health")
)";

Overrides target_only(const std::string& target) {
  Overrides o;
  o.target = target;
  return o;
}

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

bool contains(const std::vector<std::string>& errors, const std::string& wanted) {
  return std::find(errors.begin(), errors.end(), wanted) != errors.end();
}

bool has_prefix(const std::vector<std::string>& errors, const std::string& prefix) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.starts_with(prefix); });
}

TEST_F(LoaderTest, LoadsAScenarioAndBuildsItsPlan) {
  std::string file = write("browse.py", kBrowse);
  auto scenarios = load_scenarios(file);
  ASSERT_EQ(scenarios.size(), 1u);
  EXPECT_EQ(scenarios[0].name, "Browse");
  EXPECT_EQ(scenarios[0].doc, "Browse the catalogue.");
  EXPECT_EQ(scenarios[0].description["line"], 5);
  EXPECT_EQ(scenarios[0].description["config"]["duration"], "30s");

  Overrides overrides;
  overrides.target = "http://127.0.0.1:8000";
  std::vector<std::string> errors;
  plan::Plan p = build_plan(scenarios[0], file, overrides, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_EQ(p.name, "Browse");
  EXPECT_EQ(p.file, file);
  EXPECT_EQ(p.target, "http://127.0.0.1:8000");
  EXPECT_EQ(p.profile.mode, plan::Mode::kRamp);
  EXPECT_DOUBLE_EQ(p.profile.rps, 200);
  EXPECT_DOUBLE_EQ(p.profile.duration_s, 30);
  EXPECT_DOUBLE_EQ(p.profile.ramp_up_s, 5);
  EXPECT_EQ(p.profile.steps, 5);
  EXPECT_FALSE(p.profile.unlimited);
  EXPECT_EQ(p.max_vusers, 0);
  EXPECT_EQ(p.thresholds, (plan::Thresholds{{"p99_ms", 50}, {"error_rate", 1.0}}));
  ASSERT_EQ(p.tasks.size(), 2u);
  EXPECT_EQ(p.tasks[0].name, "products");
  EXPECT_DOUBLE_EQ(p.tasks[0].weight, 5);
  EXPECT_EQ(p.tasks[0].runtime, "native");
  EXPECT_EQ(p.tasks[0].reason,
            "proven fixed: one client call with literal arguments, no on_start/on_stop/check");
  ASSERT_TRUE(p.tasks[0].request.has_value());
  EXPECT_EQ(p.tasks[0].request->method, "GET");
  EXPECT_EQ(p.tasks[0].request->path, "/api/products?page=1");
  EXPECT_EQ(p.tasks[0].request->headers,
            (std::vector<std::pair<std::string, std::string>>{{"Accept", "application/json"}}));
  EXPECT_EQ(p.tasks[1].name, "health");
  EXPECT_EQ(p.tasks[1].request->path, "/health");
}

TEST_F(LoaderTest, RecordsBodies) {
  std::string file = write("post.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=1, duration="1s", ramp_up=0)
class Post(VUser):
    @task
    def create(self, client):
        client.post("/items", json={"name": "pen"})

    @task
    def login(self, client):
        client.post("/login", data={"user": "ann"})
)");
  std::vector<std::string> errors;
  plan::Plan p = build_plan(load_scenarios(file)[0], file, target_only("http://h"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_EQ(p.tasks[0].request->method, "POST");
  EXPECT_EQ(p.tasks[0].request->body, R"({"name": "pen"})");
  EXPECT_EQ(p.tasks[0].request->headers[0].second, "application/json");
  EXPECT_EQ(p.tasks[1].request->body, "user=ann");
  EXPECT_EQ(p.tasks[1].request->headers[0].second, "application/x-www-form-urlencoded");
}

TEST_F(LoaderTest, MissingFile) {
  std::string file = (dir_ / "nope.py").string();
  EXPECT_EQ(load_error(file), "scenario file not found: " + file);
}

TEST_F(LoaderTest, OnlyARegularFileIsAScenario) {
  // A FIFO would block the import forever: refused before anything opens it.
  const std::string fifo = (dir_ / "pipe.py").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(load_error(fifo),
            "scenario path " + fifo + " is a named pipe (FIFO), not a regular file");
  EXPECT_EQ(load_error(dir_.string()),
            "scenario path " + dir_.string() + " is a directory, not a regular file");
  EXPECT_EQ(load_error("/dev/zero"),
            "scenario path /dev/zero is a character device, not a regular file");

  const std::string sock = (dir_ / "sock.py").string();
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(load_error(sock), "scenario path " + sock + " is a socket, not a regular file");
  close(fd);

  // A symbolic link to a scenario is followed.
  const std::string real = write("real.py", kBrowse);
  const std::string link = (dir_ / "link.py").string();
  fs::create_symlink(real, link);
  EXPECT_EQ(load_scenarios(link).size(), 1u);
}

TEST_F(LoaderTest, SyntaxErrorNamesFileLineAndSource) {
  std::string file =
      write("broken.py", "from loadpilot import VUser\n\nclass S(VUser)\n    pass\n");
  std::string error = load_error(file);
  EXPECT_TRUE(error.starts_with(file + ":3:")) << error;
  EXPECT_NE(error.find("SyntaxError: expected ':'"), std::string::npos) << error;
  EXPECT_NE(error.find("\n    class S(VUser)\n"), std::string::npos) << error;
}

TEST_F(LoaderTest, ExceptionAtImportNamesTheLine) {
  std::string file = write("boom.py", "import os\n\nx = {}\nx['missing']\n");
  EXPECT_EQ(load_error(file), file + ":4: KeyError: 'missing'");

  std::string nested = write("nested.py", R"(def inner():
    raise RuntimeError("deep")

def outer():
    inner()

outer()
)");
  EXPECT_EQ(load_error(nested), nested + ":2: RuntimeError: deep");

  std::string exits = write("exits.py", "import sys\nsys.exit(2)\n");
  EXPECT_EQ(load_error(exits), exits + ":2: SystemExit: 2");
}

TEST_F(LoaderTest, NoScenarioClass) {
  std::string file = write("empty.py", R"(from loadpilot import VUser, task

class NotDecorated(VUser):
    @task
    def t(self, client):
        client.get("/")
)");
  EXPECT_EQ(load_error(file),
            file + ": no @scenario class found (decorate a VUser subclass with @scenario(...))");
}

TEST_F(LoaderTest, TwoScenariosInDefinitionOrderAndHelperModuleImportable) {
  write("helpers_for_order.py", R"(from loadpilot import VUser, scenario, task
BASE = "/v2"
RATE = 7

@scenario
class Imported(VUser):
    @task
    def t(self, client):
        client.get("/imported")
)");
  std::string file = write("two.py", R"(from loadpilot import VUser, scenario, task
from helpers_for_order import BASE, RATE, Imported

@scenario(rps=5)
class Zeta(VUser):
    @task
    def t(self, client):
        client.get(BASE + "/zeta")

@scenario(rps=RATE)
class Alpha(VUser):
    @task
    def t(self, client):
        client.get(BASE + "/alpha")
)");
  auto scenarios = load_scenarios(file);
  ASSERT_EQ(scenarios.size(), 2u);
  EXPECT_EQ(scenarios[0].name, "Zeta");
  EXPECT_EQ(scenarios[1].name, "Alpha");
  // The helper's values arrive (a computed path runs as Python each time).
  EXPECT_EQ(scenarios[1].description["config"]["rps"], 7);
  EXPECT_EQ(scenarios[1].description["tasks"][0]["runtime"], "python");
}

// The share given to load_scenarios() decides which rows loadpilot.data's
// feeders hand out here; the files they read travel in the bundle
// (docs/scenarios.md#test-data-from-csv-files).
TEST_F(LoaderTest, DataFilesAreReadWithTheAgentsShareAndListedForTheBundle) {
  write("data/users.csv", "name\nu1\nu2\nu3\nu4\nu5\n");
  std::string file = write("feed.py", R"(import loadpilot.data
from loadpilot import VUser, scenario, task

users = loadpilot.data.csv("data/users.csv", order="sequential")
# Agent 2 of 2 takes rows 2 and 4; the seed is the run's.
assert [users.next()["name"], users.next()["name"]] == ["u2", "u4"]
assert loadpilot.data._seed == 7

@scenario
class Feed(VUser):
    @task
    def t(self, client):
        client.get("/u", params=users.next())
)");
  EXPECT_EQ(load_scenarios(file, DataShare{1, 2, 7})[0].name, "Feed");
  EXPECT_EQ(local_module_files(file), (std::vector<std::string>{"feed.py", "data/users.csv"}));

  write("data/users.csv", "name\nu1\nu2,extra\n");
  EXPECT_EQ(load_error(file), file + ":4: DataError: " + (dir_ / "data/users.csv").string() +
                                  ":3: 2 fields, but the header (line 1) has 1: name");
}

TEST_F(LoaderTest, SuccessiveFilesInDifferentFolders) {
  std::string first = write("a/one.py", std::string(kBrowse));
  std::string second = write("b/two.py", R"(from loadpilot import VUser, scenario, task
from local_b import PATH, RATE

@scenario(rps=RATE)
class Two(VUser):
    @task
    def t(self, client):
        client.get(PATH)
)");
  write("b/local_b.py", "PATH = '/b'\nRATE = 3\n");
  EXPECT_EQ(load_scenarios(first)[0].name, "Browse");
  auto two = load_scenarios(second);
  EXPECT_EQ(two[0].description["config"]["rps"], 3);
  EXPECT_EQ(load_error(first), "no error");  // loading again works
}

TEST_F(LoaderTest, OverridesWin) {
  std::string file = write("browse.py", kBrowse);
  auto info = load_scenarios(file)[0];
  Overrides o;
  o.target = "https://example.test";
  o.rps = "50";
  o.duration = "2m";
  o.ramp_up = "0";
  o.mode = "constant";
  o.steps = 3;
  o.max_vusers = 10;
  o.thresholds = {{"p95_ms", "20"}, {"p99_ms", "75.5"}};
  std::vector<std::string> errors;
  plan::Plan p = build_plan(info, file, o, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.rps, 50);
  EXPECT_DOUBLE_EQ(p.profile.duration_s, 120);
  EXPECT_DOUBLE_EQ(p.profile.ramp_up_s, 0);
  EXPECT_EQ(p.profile.mode, plan::Mode::kConstant);
  EXPECT_EQ(p.profile.steps, 3);
  EXPECT_EQ(p.max_vusers, 10);
  EXPECT_EQ(p.thresholds,
            (plan::Thresholds{{"p95_ms", 20}, {"p99_ms", 75.5}, {"error_rate", 1.0}}));

  o.rps = "max";
  errors.clear();
  p = build_plan(info, file, o, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_TRUE(p.profile.unlimited);
}

TEST_F(LoaderTest, BadOverridesAreAllReported) {
  std::string file = write("browse.py", kBrowse);
  auto info = load_scenarios(file)[0];
  Overrides o;
  o.rps = "fast";
  o.duration = "10x";
  o.ramp_up = "-5s";
  o.mode = "warp";
  o.steps = 0;
  o.thresholds = {{"p99_ms", "soon"}, {"p98_ms", "5"}};
  std::vector<std::string> errors;
  build_plan(info, file, o, &errors);
  EXPECT_TRUE(
      contains(errors, "rps: must be a number of iterations per second, or \"max\" (got \"fast\")"))
      << joined(errors);
  EXPECT_TRUE(contains(errors,
                       "duration: must be a duration like \"30s\", \"2m\", \"1m30s\", \"250ms\" "
                       "or a number of seconds (got \"10x\")"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, "ramp_up: must be a duration")) << joined(errors);
  EXPECT_TRUE(
      contains(errors, "mode: must be one of ramp, constant, step, spike, find (got \"warp\")"))
      << joined(errors);
  EXPECT_TRUE(contains(errors, "steps: must be >= 1 (got 0)")) << joined(errors);
  EXPECT_TRUE(contains(errors, "thresholds.p99_ms: must be a number (got \"soon\")"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, "thresholds.p98_ms: unknown threshold")) << joined(errors);
  EXPECT_TRUE(contains(errors, "target: required; pass --target http://HOST[:PORT] (got \"\")"))
      << joined(errors);
  EXPECT_EQ(errors.size(), 8u) << joined(errors);
}

TEST_F(LoaderTest, BadDecoratorValuesAndTasks) {
  std::string file = write("bad.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=object(), duration="soon", steps=2.5, thresholds={"p99_ms": "fast"})
class Bad(VUser):
    def on_start(self, client):
        pass

    def check_ok(self, response):
        pass

    @task
    def divides(self, client):
        client.get("/" + str(1 / 0))

    @task
    def twice(self, client):
        client.get("/a")
        client.get("/b")

    @task
    def silent(self, client):
        pass

    @task(weight=0)
    def zero(self, client):
        client.get("/z")
)");
  std::vector<std::string> errors;
  build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_TRUE(has_prefix(errors,
                         "rps: must be a number of iterations per second, or \"max\" "
                         "(got \"<object object at "))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, "duration: must be a duration")) << joined(errors);
  EXPECT_TRUE(contains(errors, "steps: must be a whole number (got 2.5)")) << joined(errors);
  // Led by the decorator's line.
  EXPECT_TRUE(contains(errors, file + ":3: thresholds.p99_ms: must be a number, or a dict such as "
                                      "{\"limit\": 300, \"over\": \"1m\"} (got \"fast\")"))
      << joined(errors);
  // Task bodies that compute, call twice or not at all now run as Python on
  // every iteration (on_start and check_* included), so they are not
  // errors; only the bad values are.
  EXPECT_TRUE(contains(errors, "tasks.zero.weight: must be a number > 0 (got 0)"))
      << joined(errors);
  EXPECT_EQ(errors.size(), 5u) << joined(errors);
}

TEST_F(LoaderTest, AbsurdDecoratorValuesAreRefused) {
  std::string file = write("absurd.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=1e12, duration="1000h", mode="step", steps=5000, max_vusers=0)
class Absurd(VUser):
    @task(weight=1e308)
    def a(self, client):
        client.get("/a")

    @task(weight=1e308)
    def b(self, client):
        client.get("/b")
)");
  std::vector<std::string> errors;
  build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "max_vusers: must be a whole number from 1 to 100000, or None for the "
                        "default (1000) (got 0)",
                        "rps: must be at most 10000000 iterations/s per run (got 1000000000000)",
                        "duration: must be at most 604800s (7 days) (got 3600000s)",
                        "steps: must be at most 1000 (got 5000)",
                        "tasks.a.weight: must be at most 1000000 (got 1e+308)",
                        "tasks.b.weight: must be at most 1000000 (got 1e+308)"}));
}

TEST_F(LoaderTest, OnlyProvenFixedTasksRunNatively) {
  std::string file = write("mixed.py", R"(import random
from loadpilot import VUser, scenario, task

@scenario(rps=1, duration="1s", ramp_up=0)
class Mixed(VUser):
    @task
    def fixed(self, client):
        """A docstring is fine."""
        client.post("/items", json={"name": "pen", "tags": ["a", "b"]}, name="items")

    @task
    def dynamic(self, client):
        client.get(f"/api/products/{random.randint(1, 9)}")

    @task
    def twice(self, client):
        client.get("/a")
        client.get("/b")

    @task
    def fails_when_run(self, client):
        client.get("/" + str(1 / 0))

    @task
    async def later(self, client):
        await client.get("/x")

    def check_checked(self, status_code, body):
        pass

    @task
    def checked(self, client):
        client.get("/c")
)");
  std::vector<std::string> errors;
  plan::Plan p =
      build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  ASSERT_EQ(p.tasks.size(), 6u);
  EXPECT_EQ(p.tasks[0].runtime, "native");
  ASSERT_TRUE(p.tasks[0].request.has_value());
  EXPECT_EQ(p.tasks[0].request->body, R"({"name": "pen", "tags": ["a", "b"]})");
  const std::vector<std::pair<std::string, std::string>> python = {
      {"dynamic", "runs in Python: its path is computed, not a literal"},
      {"twice", "runs in Python: its body has 2 statements"},
      {"fails_when_run", "runs in Python: its path is computed, not a literal"},
      {"later", "runs in Python: it is an async task"},
      {"checked", "runs in Python: check_checked inspects its response"},
  };
  for (std::size_t i = 0; i < python.size(); ++i) {
    const plan::TaskSpec& t = p.tasks[i + 1];
    EXPECT_EQ(t.name, python[i].first);
    EXPECT_EQ(t.runtime, "python") << t.name;
    EXPECT_EQ(t.reason, python[i].second) << t.name;
    EXPECT_FALSE(t.request.has_value()) << t.name;
  }
}

TEST_F(LoaderTest, RedirectSettingsTravelIntoThePlan) {
  std::string file = write("redirects.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=1, duration="1s", ramp_up=0, follow_redirects=True, max_redirects=5)
class Follows(VUser):
    @task
    def by_default(self, client):
        client.get("/a")

    @task
    def not_this_one(self, client):
        client.get("/a", follow_redirects=False)

@scenario(rps=1, duration="1s", ramp_up=0)
class Plain(VUser):
    @task
    def plain(self, client):
        client.get("/a")

    @task
    def this_one(self, client):
        client.get("/a", follow_redirects=True)

@scenario(rps=1, duration="1s", ramp_up=0, follow_redirects="yes", max_redirects=101)
class Bad(VUser):
    @task
    def t(self, client):
        client.get("/a")

@scenario(rps=1, duration="1s", ramp_up=0, follow_redirects=None, max_redirects=True)
class AlsoBad(VUser):
    @task
    def t(self, client):
        client.get("/a")
)");
  const std::vector<ScenarioInfo> infos = load_scenarios(file);
  ASSERT_EQ(infos.size(), 4u);
  std::vector<std::string> errors;
  plan::Plan follows = build_plan(infos[0], file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_TRUE(follows.follow_redirects);
  EXPECT_EQ(follows.max_redirects, 5);
  // Only the Python runtime follows redirects: a task that does runs there.
  EXPECT_EQ(follows.tasks[0].runtime, "python");
  EXPECT_EQ(follows.tasks[0].reason,
            "runs in Python: the scenario follows redirects (@scenario(follow_redirects=True))");
  EXPECT_EQ(follows.tasks[1].runtime, "native");

  plan::Plan plain = build_plan(infos[1], file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_FALSE(plain.follow_redirects);
  EXPECT_EQ(plain.max_redirects, plan::kDefaultRedirects);
  EXPECT_EQ(plain.tasks[0].runtime, "native");
  EXPECT_EQ(plain.tasks[1].runtime, "python");

  build_plan(infos[2], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "follow_redirects: must be True or False (got \"yes\")",
                        "max_redirects: must be a whole number from 0 to 100 (the hops a call may "
                        "follow) (got 101)"}));
  errors.clear();
  // None is the same as leaving it out; True is not a number of hops.
  build_plan(infos[3], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "max_redirects: must be a whole number from 0 to 100 (the hops a call "
                        "may follow) (got true)"}));
}

TEST_F(LoaderTest, DefaultRampUpIsCappedAtTheDuration) {
  std::string file = write("short.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="1s")
class Short(VUser):
    @task
    def health(self, client):
        client.get("/health")
)");
  auto info = load_scenarios(file)[0];
  std::vector<std::string> errors;
  plan::Plan p = build_plan(info, file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.ramp_up_s, 1);

  Overrides o = target_only("http://127.0.0.1:1");
  o.duration = "1m";
  p = build_plan(info, file, o, &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.ramp_up_s, 10);

  o.ramp_up = "2m";  // written by the user: kept, and run before the minute at the rate
  p = build_plan(info, file, o, &errors);
  EXPECT_TRUE(errors.empty()) << joined(errors);
  EXPECT_DOUBLE_EQ(p.profile.ramp_up_s, 120);
  EXPECT_DOUBLE_EQ(p.profile.total_s(), 180);
}

TEST_F(LoaderTest, EveryValidationErrorAtOnce) {
  std::string file = write("bad.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=-5, duration="0s", ramp_up="10s", mode="zigzag", steps=0,
          thresholds={"p98_ms": 10})
class Bad(VUser):
    @task(weight=0)
    def health(self, client):
        client.request("FETCH", "/health")
)");
  std::vector<std::string> errors;
  build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_EQ(errors, (std::vector<std::string>{
                        "mode: must be one of ramp, constant, step, spike, find (got \"zigzag\")",
                        "rps: must be a number > 0 (got -5)",
                        "duration: must be > 0 (got 0s)",
                        "steps: must be >= 1 (got 0)",
                        "tasks.health.weight: must be a number > 0 (got 0)",
                        "tasks.health.request.method: must be one of GET, POST, PUT, PATCH, "
                        "DELETE, HEAD, OPTIONS (got \"FETCH\")",
                        file + ":3: thresholds.p98_ms: unknown threshold; did you mean "
                               "p95_ms?; use one of p50_ms, p95_ms, p99_ms, max_ms, error_rate, "
                               "alone or after a task's name (TASK.p99_ms) (got 10)",
                    }));
}

TEST_F(LoaderTest, UnlimitedFromTheDecorator) {
  std::string file = write("max.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps="max", duration=3, ramp_up=0, mode="constant")
class Flat(VUser):
    @task
    def t(self, client):
        client.get("/")
)");
  std::vector<std::string> errors;
  plan::Plan p = build_plan(load_scenarios(file)[0], file, target_only("http://[::1]:9"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  EXPECT_TRUE(p.profile.unlimited);
  EXPECT_DOUBLE_EQ(p.profile.duration_s, 3);
}

}  // namespace
}  // namespace loadpilot::scenario

namespace loadpilot::scenario {
namespace {

class ThresholdLoaderTest : public LoaderTest {};

TEST_F(ThresholdLoaderTest, TaskAndWindowedThresholdsReachThePlan) {
  std::string file = write("shop.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="5s",
          thresholds={"p99_ms": 500,
                      "search.error_rate": {"limit": 0.1, "over": "1m",
                                            "abort_on_fail": True, "abort_after": "30s"}})
class Shop(VUser):
    @task(thresholds={"p99_ms": 300})
    def checkout(self, client):
        client.get("/checkout")

    @task(3)
    def search(self, client):
        client.get("/search")
)");
  std::vector<std::string> errors;
  const plan::Plan p =
      build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_TRUE(errors.empty()) << joined(errors);
  plan::Threshold search(0.1);
  search.over_s = 60;
  search.abort_on_fail = true;
  search.abort_after_s = 30;
  EXPECT_EQ(
      p.thresholds,
      (plan::Thresholds{{"p99_ms", 500}, {"checkout.p99_ms", 300}, {"search.error_rate", search}}));
  EXPECT_EQ(p.thresholds.at("checkout.p99_ms").origin, file + ":8");
  EXPECT_EQ(p.thresholds.at("p99_ms").origin, file + ":3");
}

TEST_F(ThresholdLoaderTest, BadKeysNameTheDecoratorsLineAndTheKeyMeant) {
  std::string file = write("shop.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="5s", thresholds={"checkout.p99": 300, "chekout.p99_ms": 300})
class Shop(VUser):
    @task
    def checkout(self, client):
        client.get("/checkout")

    @task(thresholds={"p99": 1, "search.p99_ms": 2, "max_ms": {"limit": 1, "ovr": "1m"}})
    def search(self, client):
        client.get("/search")
)");
  std::vector<std::string> errors;
  build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  EXPECT_TRUE(has_prefix(errors, file + ":3: thresholds.checkout.p99: unknown metric p99; did "
                                        "you mean checkout.p99_ms?"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, file + ":3: thresholds.chekout.p99_ms: no task chekout in "
                                        "scenario Shop; did you mean checkout.p99_ms?"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, file + ":9: thresholds.search.p99: unknown metric p99; did you "
                                        "mean search.p99_ms?"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, file + ":9: thresholds.search.search.p99_ms: a task's "
                                        "thresholds= take metrics alone"))
      << joined(errors);
  EXPECT_TRUE(has_prefix(errors, file + ":9: thresholds.search.max_ms: unknown field ovr; did "
                                        "you mean over?"))
      << joined(errors);
  EXPECT_EQ(errors.size(), 5u) << joined(errors);
}

TEST_F(ThresholdLoaderTest, AKeyGivenTwiceIsRefused) {
  std::string file = write("shop.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="5s", thresholds={"checkout.p99_ms": 300})
class Shop(VUser):
    @task(thresholds={"p99_ms": 200})
    def checkout(self, client):
        client.get("/checkout")
)");
  std::vector<std::string> errors;
  build_plan(load_scenarios(file)[0], file, target_only("http://127.0.0.1:1"), &errors);
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_TRUE(errors[0].starts_with(file +
                                    ":5: thresholds.checkout.p99_ms: is given twice: "
                                    "also at " +
                                    file + ":3"))
      << errors[0];
}

TEST_F(ThresholdLoaderTest, TheCommandLineReplacesTheLimitAndNamesItsFlag) {
  std::string file = write("shop.py", R"(from loadpilot import VUser, scenario, task

@scenario(rps=10, duration="5s",
          thresholds={"checkout.p99_ms": {"limit": 300, "over": "10s"}})
class Shop(VUser):
    @task
    def checkout(self, client):
        client.get("/checkout")
)");
  Overrides o = target_only("http://127.0.0.1:1");
  o.thresholds = {{"checkout.p99_ms", "250"}, {"chekout.p95_ms", "1"}};
  o.threshold_flags = {{"checkout.p99_ms", "--threshold checkout.p99_ms=250"},
                       {"chekout.p95_ms", "--threshold chekout.p95_ms=1"}};
  std::vector<std::string> errors;
  const plan::Plan p = build_plan(load_scenarios(file)[0], file, o, &errors);
  ASSERT_EQ(errors.size(), 1u) << joined(errors);
  EXPECT_TRUE(
      errors[0].starts_with("--threshold chekout.p95_ms=1: no task chekout in scenario "
                            "Shop; did you mean checkout.p95_ms?"))
      << errors[0];
  EXPECT_EQ(p.thresholds.at("checkout.p99_ms").limit, 250);
  EXPECT_EQ(p.thresholds.at("checkout.p99_ms").over_s, 10);
}

}  // namespace
}  // namespace loadpilot::scenario
