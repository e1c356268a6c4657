// The templates compiled into the binary are byte-for-byte the files in
// cli/loadpilot/templates, and land where `loadpilot init` promises.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "cli/init_command.h"

namespace loadpilot::cli {
namespace {

namespace fs = std::filesystem;

TEST(ScaffoldPath, OnlyAFileNamedGitignoreGetsItsDot) {
  EXPECT_EQ(scaffold_path("gitignore"), ".gitignore");
  EXPECT_EQ(scaffold_path("sub/gitignore"), "sub/.gitignore");
  EXPECT_EQ(scaffold_path("monitoring/prometheus.yml"), "monitoring/prometheus.yml");
  EXPECT_EQ(scaffold_path("my_gitignore"), "my_gitignore");
  EXPECT_EQ(scaffold_path("gitignore.txt"), "gitignore.txt");
}

TEST(EmbeddedTemplates, MatchTheSourceTreeExactly) {
  const char* src = std::getenv("LOADPILOT_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "ctest sets LOADPILOT_SOURCE_DIR";
  const fs::path root = fs::path(src) / "cli/loadpilot/templates";
  std::set<std::string> on_disk;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (e.is_regular_file() && rel.find("__pycache__") == std::string::npos) on_disk.insert(rel);
  }
  std::set<std::string> embedded;
  for (const EmbeddedFile& f : embedded_templates()) {
    embedded.insert(f.path);
    std::ifstream in(root / f.path, std::ios::binary);
    const std::string content{std::istreambuf_iterator<char>(in), {}};
    EXPECT_EQ(f.content, content) << f.path;
  }
  EXPECT_EQ(embedded, on_disk);
  for (const char* expected :
       {"gitignore", "scenarios/example.py", "monitoring/docker-compose.yml",
        "monitoring/prometheus.yml", "monitoring/grafana/dashboards/loadpilot.json"})
    EXPECT_TRUE(embedded.count(expected)) << expected;
}

}  // namespace
}  // namespace loadpilot::cli
