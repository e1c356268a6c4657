#include "cli/arguments.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "run/run_config.h"

namespace loadpilot::cli {
namespace {

// Parses `loadpilot run ARGS` against a small command with the checks the
// real one uses; returns "" or the message of the refusal.
struct Parsed {
  std::size_t workers = 0;
  std::uint64_t seed = 1;
  double rate = 0;
  std::string host;
  std::vector<std::string> thresholds;
  std::string file;
};

std::string parse(std::vector<std::string> args, Parsed* out) {
  CLI::App app{"test", "loadpilot"};
  app.require_subcommand(1);
  auto* run = app.add_subcommand("run", "run");
  run->add_option("file", out->file)->required();
  run->add_option("--workers", out->workers)->transform(whole_number(1, 1024));
  run->add_option("--seed", out->seed)->transform(unsigned_number());
  run->add_option("--rate", out->rate)->transform(real_number(0, 100, "percent"));
  run->add_option("--host", out->host)->transform(listen_host(/*ipv6=*/true));
  run->add_option("--threshold", out->thresholds)->allow_extra_args(false);
  app.add_subcommand("report", "report");
  args.insert(args.begin(), "loadpilot");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return explain_parse_error(app, e, std::vector<std::string>(args.begin() + 1, args.end()));
  }
  return "";
}

TEST(WholeNumber, RefusesWhatCli11WouldWrapOrReadAsOctal) {
  Parsed p;
  EXPECT_EQ(parse({"run", "f.py", "--workers", "-1"}, &p),
            "--workers: must be a whole number from 1 to 1024 (got \"-1\")");
  EXPECT_EQ(parse({"run", "f.py", "--workers", "0"}, &p),
            "--workers: must be a whole number from 1 to 1024 (got \"0\")");
  for (const char* bad : {"0x10", "1e3", "+5", " 5", "5 ", "4.0", "99999999999999999999"}) {
    EXPECT_NE(parse({"run", "f.py", "--workers", bad}, &p).find("must be a whole number"),
              std::string::npos)
        << bad;
  }
  EXPECT_EQ(parse({"run", "f.py", "--workers", "010"}, &p), "");
  EXPECT_EQ(p.workers, 10u);  // decimal, not octal 8
  EXPECT_EQ(parse({"run", "f.py", "--workers", "1024"}, &p), "");
  EXPECT_EQ(p.workers, 1024u);
}

TEST(UnsignedNumber, TakesTheWholeRangeButNoSign) {
  Parsed p;
  EXPECT_EQ(parse({"run", "f.py", "--seed", "18446744073709551615"}, &p), "");
  EXPECT_EQ(p.seed, 18446744073709551615ull);
  EXPECT_EQ(parse({"run", "f.py", "--seed", "-1"}, &p),
            "--seed: must be a whole number from 0 to 18446744073709551615 (got \"-1\")");
  EXPECT_NE(parse({"run", "f.py", "--seed", "18446744073709551616"}, &p).find("must be"),
            std::string::npos);
}

TEST(RealNumber, FiniteAndInRange) {
  Parsed p;
  EXPECT_EQ(parse({"run", "f.py", "--rate", "12.5"}, &p), "");
  EXPECT_EQ(p.rate, 12.5);
  for (const char* bad : {"-0.5", "101", "nan", "inf", "1e400", "ten"}) {
    EXPECT_EQ(parse({"run", "f.py", "--rate", bad}, &p),
              std::string("--rate: must be a number from 0 to 100 percent (got \"") + bad + "\")");
  }
}

TEST(ListenHost, ReplacesTheValueByTheNumericAddress) {
  Parsed p;
  EXPECT_EQ(parse({"run", "f.py", "--host", "[::1]"}, &p), "");
  EXPECT_EQ(p.host, "::1");
  EXPECT_EQ(parse({"run", "f.py", "--host", "999.1.1.1"}, &p),
            "--host: not an IPv4 address: it needs four decimal parts, each from 0 to 255 "
            "(got \"999.1.1.1\")");
}

TEST(MultiValueOption, OneValuePerOccurrence) {
  Parsed p;
  EXPECT_EQ(parse({"run", "--threshold", "p99_ms=50", "f.py", "--threshold", "error_rate=1"}, &p),
            "");
  EXPECT_EQ(p.file, "f.py");
  EXPECT_EQ(p.thresholds, (std::vector<std::string>{"p99_ms=50", "error_rate=1"}));
}

TEST(Nearest, TyposPrefixesAndStrangers) {
  const std::vector<std::string> commands = {"run", "demo-api", "report", "compare", "init"};
  EXPECT_EQ(nearest("rnu", commands), "run");
  EXPECT_EQ(nearest("reprot", commands), "report");
  EXPECT_EQ(nearest("comapre", commands), "compare");
  EXPECT_EQ(nearest("demo", commands), "demo-api");  // unique prefix
  EXPECT_EQ(nearest("frobnicate", commands), "");
  EXPECT_EQ(nearest("xyz", commands), "");
  const std::vector<std::string> options = {"--duration", "--ramp-up", "--rps", "-t", "--target"};
  EXPECT_EQ(nearest("--durtion", options), "--duration");
  EXPECT_EQ(nearest("--dur", options), "--duration");
  EXPECT_EQ(nearest("--tagret", options), "--target");
  EXPECT_EQ(nearest("--rsp", options), "--rps");
}

TEST(ExplainParseError, NamesTheMistakeInTheUsersWords) {
  Parsed p;
  EXPECT_EQ(parse({"rnu", "f.py"}, &p), "unknown command 'rnu'; did you mean 'run'?");
  EXPECT_EQ(parse({"zzz"}, &p), "unknown command 'zzz'; the commands are run, report");
  EXPECT_EQ(parse({}, &p),
            "no command given; use one of: run, report ('loadpilot help COMMAND' shows its "
            "options)");
  EXPECT_EQ(parse({"run", "f.py", "--wrokers", "3"}, &p),
            "unknown option '--wrokers' for 'run'; did you mean '--workers'?");
  EXPECT_EQ(parse({"run", "--wrokers=3", "f.py"}, &p),
            "unknown option '--wrokers' for 'run'; did you mean '--workers'?");
  EXPECT_EQ(parse({"run", "f.py", "g.py"}, &p),
            "unexpected argument 'g.py' for 'run' ('loadpilot help run' shows its arguments)");
  EXPECT_EQ(parse({"--wat", "run"}, &p), "unknown option '--wat'");
}

TEST(ThresholdOption, NamesTheCommandLineAndSuggestsTheKey) {
  std::string error;
  EXPECT_FALSE(parse_threshold_option("p99=50", &error));
  EXPECT_EQ(error,
            "--threshold p99=50: unknown key p99; did you mean p99_ms? (keys: p50_ms, p95_ms, "
            "p99_ms, max_ms, error_rate; or k6's p(95)<200)");
  EXPECT_FALSE(parse_threshold_option("latency=50", &error));
  EXPECT_EQ(error,
            "--threshold latency=50: unknown key latency (keys: p50_ms, p95_ms, p99_ms, max_ms, "
            "error_rate; or k6's p(95)<200)");
  EXPECT_FALSE(parse_threshold_option("p99_ms=fast", &error));
  EXPECT_EQ(error, "--threshold p99_ms=fast: the limit must be a number >= 0 (got \"fast\")");
  EXPECT_FALSE(parse_threshold_option("p99_ms=-1", &error));
  EXPECT_EQ(error, "--threshold p99_ms=-1: the limit must be a number >= 0 (got \"-1\")");
  EXPECT_FALSE(parse_threshold_option("p99_ms", &error));
  EXPECT_EQ(error,
            "--threshold p99_ms: expected KEY=VALUE such as p99_ms=500, or k6's p(95)<200 (keys: "
            "p50_ms, p95_ms, p99_ms, max_ms, error_rate)");
  EXPECT_FALSE(parse_threshold_option("p(90)<200", &error));
  EXPECT_EQ(error,
            "--threshold p(90)<200: p(90) has no threshold here; k6's p(50), p(95), p(99), med, "
            "max and http_req_failed map onto ours");
}

TEST(ThresholdOption, TakesOurKeysAndK6Expressions) {
  std::string error;
  auto t = parse_threshold_option("p99_ms=50", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->first, "p99_ms");
  EXPECT_EQ(t->second, 50);
  t = parse_threshold_option("p(95)<200", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->first, "p95_ms");
  EXPECT_EQ(t->second, 200);
  t = parse_threshold_option("http_req_failed<0.01", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->first, "error_rate");
  EXPECT_DOUBLE_EQ(t->second, 1);
  // A custom metric's NAME.STAT: judged once the file has declared its
  // metrics (plan::validate), not refused as a task's unknown metric.
  t = parse_threshold_option("cart_items.p95=10", &error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->first, "cart_items.p95");
  EXPECT_EQ(t->second, 10);
  EXPECT_TRUE(parse_threshold_option("cache_hit.rate=0.9", &error)) << error;
  // Not a statistic of any kind: refused at once, as before.
  EXPECT_FALSE(parse_threshold_option("checkout.p98=5", &error));
}

}  // namespace
}  // namespace loadpilot::cli
