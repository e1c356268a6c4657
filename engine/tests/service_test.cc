// The coordinator service's small pure parts (cluster/service/api_server.h,
// cluster/transport/http_channel.h, cluster/bundle_files.h): who counts as loopback,
// the token comparison, the URLs `run --coordinator-url` accepts, and
// writing a run's bundle. Its HTTP server is tested in api_server_test.cc,
// its decisions and a run's lifetime in service_role_test.cc, the service
// itself end to end (engine/tests/e2e/test_coordinator_service*.py).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/bundle_files.h"
#include "cluster/service/api_server.h"
#include "cluster/transport/http_channel.h"

namespace loadpilot::agents {
namespace {

TEST(Service, LoopbackHostsAreOnlyThisMachine) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", ""})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(Service, SecretsCompareWhole) {
  EXPECT_TRUE(same_secret("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(same_secret("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(same_secret("s3cret", "s3cret-token"));
  EXPECT_FALSE(same_secret("", "x"));
}

TEST(Service, CoordinatorUrls) {
  std::string why;
  auto u = parse_service_url("http://localhost:8080/", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->text, "http://localhost:8080");
  u = parse_service_url("http://[::1]:9000", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  u = parse_service_url("http://coordinator", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->port, 80);
  for (const char* bad : {"https://h:8080", "h:8080", "http://h:8080/api", "http://u@h:1",
                          "http://h:0", "http://h:99999", "http://:8080", "http://[::1"}) {
    EXPECT_FALSE(parse_service_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

namespace fs = std::filesystem;

// A bundle entry name over the protocol's 1024-byte limit. Built
// once here: g++ 12 warns falsely (-Warray-bounds) about the temporary
// std::string(5000, 'd') + ".py" inside a braced list.
const std::string kTooLongName = std::string(5000, 'd') + ".py";

protocol::Bundle bundle_of(std::map<std::string, std::string> files) {
  protocol::Bundle b;
  b.main = files.begin()->first;
  b.files = std::move(files);
  b.sha256 = protocol::bundle_hash(b.files);
  return b;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += s + "\n";
  return out;
}

// $TMPDIR pointed at a fresh folder for one test.
struct TempDirEnv {
  TempDirEnv() {
    std::string pattern = (fs::temp_directory_path() / "loadpilot-test-XXXXXX").string();
    dir = mkdtemp(pattern.data());
    const char* old_value = std::getenv("TMPDIR");
    if (old_value) old = old_value;
    setenv("TMPDIR", dir.c_str(), 1);
  }
  ~TempDirEnv() {
    if (old.empty()) {
      unsetenv("TMPDIR");
    } else {
      setenv("TMPDIR", old.c_str(), 1);
    }
    fs::remove_all(dir);
  }
  bool empty() const { return fs::is_empty(dir); }
  fs::path dir;
  std::string old;
};

TEST(Service, BundleLayoutProblemsNameTheEntry) {
  EXPECT_TRUE(
      protocol::bundle_layout_problems(bundle_of({{"s.py", "x"}, {"lib/a.py", "y"}})).empty());
  auto p = protocol::bundle_layout_problems(bundle_of({{"a", "x"}, {"a/b.py", "y"}}));
  ASSERT_EQ(p.size(), 1u) << joined(p);
  EXPECT_EQ(p[0], "bundle: file \"a/b.py\": \"a\" is a file in the bundle, not a folder");
  p = protocol::bundle_layout_problems(bundle_of({{kTooLongName, "x"}}));
  ASSERT_EQ(p.size(), 1u) << joined(p);
  EXPECT_NE(p[0].find("over 1024 bytes"), std::string::npos) << p[0];
  EXPECT_NE(p[0].find("(5003 bytes)"), std::string::npos) << p[0];
  EXPECT_LT(p[0].size(), 200u);
  p = protocol::bundle_layout_problems(bundle_of({{"x/" + std::string(300, 'n') + ".py", "x"}}));
  ASSERT_EQ(p.size(), 1u) << joined(p);
  EXPECT_NE(p[0].find("is over 255 bytes"), std::string::npos) << p[0];
  p = protocol::bundle_layout_problems(bundle_of({{"s.py", "x"}, {".results.json", "{}"}}));
  ASSERT_EQ(p.size(), 1u) << joined(p);
  EXPECT_NE(p[0].find("the run's own"), std::string::npos) << p[0];
  // A bundle folder may not take the name either: the plan is written there.
  p = protocol::bundle_layout_problems(bundle_of({{"s.py", "x"}, {".plan.json/a.py", "y"}}));
  ASSERT_EQ(p.size(), 1u) << joined(p);
  EXPECT_EQ(
      p[0],
      "bundle: file \".plan.json/a.py\": the name \".plan.json\" is the run's own; rename it");
  // A forged bundle with thousands of problems gets a bounded answer.
  std::map<std::string, std::string> many;
  for (int i = 0; i < 1000; ++i) {
    many["f" + std::to_string(i)] = "";
    many["f" + std::to_string(i) + "/x.py"] = "";
  }
  p = protocol::bundle_layout_problems(bundle_of(many));
  ASSERT_EQ(p.size(), 11u);
  EXPECT_EQ(p.back(), "bundle: and 990 more problems");
}

TEST(Service, UnpackedBundlesHoldTheirFilesOrNothing) {
  TempDirEnv tmp;
  const protocol::Bundle good = bundle_of({{"s.py", "x = 1\n"}, {"lib/deep/a.py", "y"}});
  const fs::path dir = protocol::unpack_bundle(good, "loadpilot-test-", "{}");
  EXPECT_EQ(dir.parent_path(), tmp.dir);
  for (const auto& [rel, content] : good.files) {
    std::ifstream in(dir / rel, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), content) << rel;
  }
  EXPECT_TRUE(fs::exists(dir / protocol::kPlanFile));
  fs::remove_all(dir);
  // Unwritable (checked by bundle_layout_problems first in the service):
  // an error naming the entry, and no folder left behind.
  for (const auto& files : std::vector<std::map<std::string, std::string>>{
           {{"a", "x"}, {"a/b.py", "y"}}, {{kTooLongName, "x"}}}) {
    try {
      protocol::unpack_bundle(bundle_of(files), "loadpilot-test-", "{}");
      ADD_FAILURE() << "unpacked " << files.rbegin()->first.substr(0, 20);
    } catch (const protocol::BundleWriteError& e) {
      EXPECT_NE(std::string(e.what()).find("bundle: cannot write \"" +
                                           protocol::shown_path(files.rbegin()->first)),
                std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(tmp.empty());
  }
}

}  // namespace
}  // namespace loadpilot::agents
