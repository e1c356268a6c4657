// The .env parser and loader (cli/dotenv.h, docs/cli.md#environment-and-env).
#include "cli/dotenv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace loadpilot::cli {
namespace {

std::vector<DotenvEntry> parse_ok(std::string_view text) {
  std::vector<DotenvEntry> entries;
  std::string error;
  EXPECT_TRUE(parse_dotenv(text, &entries, &error)) << error;
  return entries;
}

std::string parse_error(std::string_view text) {
  std::vector<DotenvEntry> entries{{"KEEP", "me", 1}};
  std::string error;
  EXPECT_FALSE(parse_dotenv(text, &entries, &error));
  EXPECT_EQ(entries.size(), 1u);  // unchanged on error
  return error;
}

TEST(Dotenv, ReadsKeysValuesCommentsAndExport) {
  const auto e = parse_ok(
      "# settings\n"
      "\n"
      "LOADPILOT_TARGET=http://127.0.0.1:8000\n"
      "  export TOKEN = abc def  # trailing comment\n"
      "HASH=a#b\n"
      "EMPTY=\n"
      "CRLF=yes\r\n"
      "LAST=no newline");
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].key, "LOADPILOT_TARGET");
  EXPECT_EQ(e[0].value, "http://127.0.0.1:8000");
  EXPECT_EQ(e[0].line, 3);
  EXPECT_EQ(e[1].key, "TOKEN");
  EXPECT_EQ(e[1].value, "abc def");
  EXPECT_EQ(e[1].line, 4);
  EXPECT_EQ(e[2].value, "a#b");  // '#' inside a word is not a comment
  EXPECT_EQ(e[3].value, "");
  EXPECT_EQ(e[4].value, "yes");
  EXPECT_EQ(e[5].key, "LAST");
  EXPECT_EQ(e[5].value, "no newline");
}

TEST(Dotenv, QuotedValues) {
  const auto e = parse_ok(
      "A=\"two\\nlines # not a comment\"  # a comment\n"
      "B='single \\n kept'\n"
      "C=\"esc \\\" \\\\ \\t\"\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].value, "two\nlines # not a comment");
  EXPECT_EQ(e[1].value, "single \\n kept");
  EXPECT_EQ(e[2].value, "esc \" \\ \t");
}

TEST(Dotenv, BadLinesAreNamedWithTheirNumberAndText) {
  EXPECT_EQ(parse_error("A=1\njust words\n"), "2: expected KEY=VALUE (got \"just words\")");
  EXPECT_NE(parse_error("1A=x\n").find("1: the name must be"), std::string::npos);
  EXPECT_NE(parse_error("=x\n").find("(got \"\")"), std::string::npos);
  EXPECT_NE(parse_error("A=\"open\n").find("1: the value's double quote is not closed"),
            std::string::npos);
  EXPECT_NE(parse_error("A='x' y\n").find("text after the closing quote"), std::string::npos);
}

TEST(Dotenv, EmptyTextHasNoEntries) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("\n# only a comment\n\n").empty());
}

TEST(Dotenv, LoadSetsOnlyWhatTheEnvironmentLacks) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("loadpilot-dotenv-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / ".env").string();
  std::ofstream(path) << "LP_DOTENV_TEST_NEW=from-file\nLP_DOTENV_TEST_SET=from-file\n";
  ::setenv("LP_DOTENV_TEST_SET", "from-env", 1);
  ::unsetenv("LP_DOTENV_TEST_NEW");
  std::vector<std::string> applied;
  std::string error;
  ASSERT_TRUE(load_dotenv(path, &applied, &error)) << error;
  EXPECT_EQ(applied, std::vector<std::string>{"LP_DOTENV_TEST_NEW"});
  EXPECT_STREQ(std::getenv("LP_DOTENV_TEST_NEW"), "from-file");
  EXPECT_STREQ(std::getenv("LP_DOTENV_TEST_SET"), "from-env");

  // A missing file is no error; a bad one names the path and line.
  EXPECT_TRUE(load_dotenv((dir / "absent").string(), nullptr, &error));
  std::ofstream(path) << "OK=1\nnope\n";
  EXPECT_FALSE(load_dotenv(path, nullptr, &error));
  EXPECT_EQ(error, path + ":2: expected KEY=VALUE (got \"nope\")");
  ::unsetenv("LP_DOTENV_TEST_NEW");
  ::unsetenv("LP_DOTENV_TEST_SET");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loadpilot::cli
