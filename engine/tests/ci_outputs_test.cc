// The text the CI output writers produce from odd input: JUnit XML stays
// well-formed whatever a problem message holds, CSV fields with commas are
// quoted, Markdown cells cannot break their table, RFC 3339 stamps.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "report/csv_export.h"
#include "report/junit.h"
#include "report/step_summary.h"
#include "report/summary.h"
#include "report/wall_clock.h"

namespace loadpilot::report {
namespace {

TEST(XmlEscape, EscapesMarkupAndReplacesWhatXmlCannotHold) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("line\nnext\ttab"), "line&#10;next&#9;tab");
  EXPECT_EQ(xml_escape(std::string("nul\0bell\x07", 9)),
            "nul\xEF\xBF\xBD"
            "bell\xEF\xBF\xBD");
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x9C\x93"), "caf\xC3\xA9 \xE2\x9C\x93");  // kept
  EXPECT_EQ(xml_escape("bad \xC3 \xFF end"), "bad \xEF\xBF\xBD \xEF\xBF\xBD end");
  EXPECT_EQ(xml_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

Summary failing_summary() {
  Summary s;
  s.scenario = "Shop";
  s.started_at = "2026-11-25T09:00:00Z";
  s.duration_s = 2;
  s.requests = 10;
  s.errors = 10;
  s.error_rate = 100;
  s.add_problem("agent <2> lost & \"gone\"");
  TaskSummary a;
  a.name = "login, then buy";
  a.requests = 10;
  a.errors = 10;
  a.error_rate = 100;
  TaskSummary idle;
  idle.name = "idle";
  s.tasks = {a, idle};
  return s;
}

TEST(Junit, CasesForRunTasksAndThresholds) {
  Summary s = failing_summary();
  s.thresholds.push_back({"p99_ms", 50, 61.25, false});
  const std::string x = junit_xml(s, "host");
  EXPECT_NE(x.find("timestamp=\"2026-11-25T09:00:00\""), std::string::npos) << x;
  EXPECT_NE(x.find("tests=\"4\" failures=\"3\" errors=\"0\" skipped=\"1\""), std::string::npos)
      << x;
  EXPECT_NE(x.find("message=\"agent &lt;2&gt; lost &amp; &quot;gone&quot;\""), std::string::npos);
  EXPECT_NE(x.find("p99_ms: actual 61.250 ms is above the limit 50 ms"), std::string::npos);
  // Without an error_rate threshold a task fails only when every attempt did.
  EXPECT_NE(x.find("login, then buy: every attempt failed"), std::string::npos);
  EXPECT_NE(x.find("<skipped message=\"no attempts"), std::string::npos);
}

// A task's threshold over a window, the one that stopped the run.
metrics::ThresholdResult windowed_abort() {
  metrics::ThresholdResult r{"checkout.p99_ms", 300, 812.5, false};
  r.task = "checkout";
  r.metric = "p99_ms";
  r.over_s = 60;
  r.window_start_s = 12;
  r.window_end_s = 72;
  r.abort_on_fail = true;
  r.aborted = true;
  r.broken_at_s = 70;
  r.aborted_at_s = 72;
  return r;
}

TEST(Junit, ThresholdCasesNameTheirTaskAndWindow) {
  Summary s = failing_summary();
  s.thresholds.push_back(windowed_abort());
  const std::string x = junit_xml(s, "host");
  EXPECT_NE(x.find("name=\"checkout.p99_ms over 60s\""), std::string::npos) << x;
  EXPECT_NE(x.find("checkout.p99_ms (task checkout) in its worst 60 s window, 12.0-72.0 s: actual "
                   "812.500 ms is above the limit 300 ms; it broke at 70.0 s and stopped the run "
                   "at 72.0 s"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("task=checkout window=60s worst=12.0-72.0s"), std::string::npos) << x;
}

TEST(StepSummary, ThresholdsNameTheirTaskAndWindow) {
  Summary s = failing_summary();
  s.thresholds.push_back({"p99_ms", 50, 10, true});
  s.thresholds.push_back(windowed_abort());
  const std::string md = step_summary_markdown(s);
  EXPECT_NE(md.find("| ✅ | p99_ms | (run) | whole run | 10.00 ms | 50 ms |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| ❌ | checkout.p99_ms | checkout | 60 s, worst 12–72 s; stopped the run at "
                    "72.0 s | 812.50 ms | 300 ms |"),
            std::string::npos)
      << md;
}

TEST(Csv, QuotesNamesAndEndsWithAggregated) {
  Summary s = failing_summary();
  s.tasks[0].methods = "POST";
  plan::Plan plan;
  metrics::IntervalStats cumulative(2);
  // 1..10 ms; above 4.096 ms a bucket is 2 us wide, so the median reads 5.001.
  for (int i = 1; i <= 10; ++i) cumulative.tasks[0].latency.record(i * 1000);
  metrics::Histogram total = cumulative.tasks[0].latency;
  const std::string csv = stats_csv(s, plan, cumulative, total);
  EXPECT_NE(csv.find("\nPOST,\"login, then buy\",10,10,5.001,5.500,1.000,10.000,"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\n,Aggregated,10,10,"), std::string::npos) << csv;
}

// The Type column says the request method, as Locust's does: a Python
// task's are the methods its requests used, merged across workers and
// agents (the stats frames carry them).
TEST(Csv, TypeIsTheMethodOfTheRequests) {
  plan::Plan plan;
  plan::TaskSpec browse;
  browse.name = "browse";
  browse.runtime = "python";
  plan.tasks = {browse};
  metrics::IntervalStats agent(2);
  agent.tasks[0].requests = 2;
  agent.tasks[0].methods = metrics::method_bit("POST");
  agent.tasks[1].requests = 1;
  agent.tasks[1].methods = metrics::method_bit("GET");
  std::vector<metrics::WorkerReport> reports(2);
  reports[0].stats = metrics::IntervalStats(2);
  reports[0].stats.tasks[0].requests = 1;
  reports[0].stats.tasks[0].methods = metrics::method_bit("GET");
  reports[1].stats = metrics::IntervalStats::from_json(agent.to_json());  // over the wire
  metrics::Collector collector({"browse", "on_start"});
  collector.add_round(reports, 1.0);
  const Summary s = build_summary(plan, collector, 1, 1, 1, false);
  const std::string csv = stats_csv(s, plan, collector.cumulative(), collector.total_latency());
  EXPECT_NE(csv.find("\nGET/POST,browse,3,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\nGET,on_start,1,"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("python"), std::string::npos) << csv;
  EXPECT_EQ(metrics::method_names(metrics::method_bit("BREW")), "OTHER");
}

// on_start is a hook each VUser runs once, not a task drawn by weight: the
// rows the runtime adds beyond the plan's tasks say "hook", never weight 0.
TEST(Summary, OnStartIsAHookNotAWeightZeroTask) {
  plan::Plan plan;
  plan.name = "Shop";
  plan::TaskSpec browse;
  browse.name = "browse";
  browse.weight = 3;
  plan.tasks = {browse};
  metrics::Collector collector({"browse", "on_start"});
  std::vector<metrics::WorkerReport> reports(1);
  reports[0].stats = metrics::IntervalStats(2);
  reports[0].stats.tasks[1].requests = 1;
  reports[0].stats.tasks[1].latency.record(1000);
  collector.add_round(reports, 1.0);
  const Summary s = build_summary(plan, collector, 1, 1, 1, false);
  ASSERT_EQ(s.tasks.size(), 2u);
  EXPECT_FALSE(s.tasks[0].hook);
  EXPECT_TRUE(s.tasks[1].hook);
  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j["tasks"][0]["weight"], 3.0);
  EXPECT_EQ(j["tasks"][1]["hook"], true);
  EXPECT_TRUE(j["tasks"][1]["weight"].is_null());
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  print_summary(f, s, false);
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  const std::size_t row = text.find("\n  on_start ");
  ASSERT_NE(row, std::string::npos) << text;
  const std::string line = text.substr(row + 1, text.find('\n', row + 1) - row - 1);
  // The weight column, right after the name, says "hook".
  const std::size_t first = line.find_first_not_of(' ', std::string("  on_start").size());
  EXPECT_EQ(line.substr(first, 4), "hook") << line;
}

TEST(StepSummary, CellsCannotBreakTheTable) {
  EXPECT_EQ(markdown_cell("a|b\nc<d>"), "a\\|b c&lt;d&gt;");
  const std::string md = step_summary_markdown(failing_summary());
  EXPECT_NE(md.find("❌ FAILED"), std::string::npos);
  EXPECT_NE(md.find("- agent &lt;2&gt; lost &amp; \"gone\""), std::string::npos) << md;
}

TEST(CiOutputs, AClosedModelIsNamedWithItsUsers) {
  Summary s = failing_summary();
  s.model = "closed";
  s.mode = "constant";
  s.users = 50;
  s.peak_active_users = 48;
  s.wait = "between(1, 3)";
  s.actual_rps = 12.5;
  const std::string x = junit_xml(s, "host");
  EXPECT_NE(x.find("<property name=\"model\" value=\"closed\"/>"), std::string::npos) << x;
  EXPECT_NE(x.find("<property name=\"users\" value=\"50\"/>"), std::string::npos);
  EXPECT_NE(x.find("<property name=\"wait\" value=\"between(1, 3)\"/>"), std::string::npos);
  const std::string md = step_summary_markdown(s);
  EXPECT_NE(md.find("| profile | constant (closed model),"), std::string::npos) << md;
  EXPECT_NE(md.find("| users | 50 planned, 48 at most active; think time between(1, 3) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| rate | 12.5 req/s (the users set the pace) |"), std::string::npos);
  // An open model has no users row.
  s.model = "open";
  EXPECT_EQ(step_summary_markdown(s).find("| users |"), std::string::npos);
  EXPECT_NE(junit_xml(s, "host").find("<property name=\"model\" value=\"open\"/>"),
            std::string::npos);
}

TEST(CiOutputs, SeveralScenariosGetASuiteAndARowEach) {
  Summary run = failing_summary();
  run.scenario = "nightly";
  Summary partner = failing_summary();
  partner.scenario = "Partner";
  partner.started = 600;
  partner.passed = false;
  Summary browse = failing_summary();
  browse.scenario = "Browse";
  browse.model = "closed";
  browse.passed = true;
  run.scenarios = {partner, browse};
  const std::string x = junit_xml(run, "host");
  EXPECT_NE(x.find("<testsuite name=\"nightly\" "), std::string::npos) << x;
  EXPECT_NE(x.find("<testsuite name=\"nightly.Partner\" "), std::string::npos) << x;
  EXPECT_NE(x.find("<testsuite name=\"nightly.Browse\" "), std::string::npos) << x;
  EXPECT_NE(x.find("classname=\"loadpilot.nightly.Partner\""), std::string::npos) << x;
  const std::string md = step_summary_markdown(run);
  EXPECT_NE(md.find("#### Scenarios"), std::string::npos) << md;
  EXPECT_NE(md.find("| ❌ | Partner | open |"), std::string::npos) << md;
  EXPECT_NE(md.find("| ✅ | Browse | closed |"), std::string::npos) << md;
}

TEST(WallClock, Rfc3339WithMilliseconds) {
  using namespace std::chrono;
  const system_clock::time_point t{milliseconds(1'764'061'200'045LL)};
  EXPECT_EQ(rfc3339_ms(t), "2025-11-25T09:00:00.045Z");
  EXPECT_EQ(rfc3339_ms(system_clock::time_point{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
}

// A run in which no iteration started measured nothing: it cannot pass,
// whatever its thresholds say (a wss:// run whose iterations never began
// read PASSED before).
TEST(Summary, ARunInWhichNothingStartedFails) {
  plan::Plan plan;
  plan::TaskSpec talk;
  talk.name = "talk";
  plan.tasks = {talk};
  metrics::Collector collector({"talk"});
  std::vector<metrics::WorkerReport> reports(1);
  reports[0].stats = metrics::IntervalStats(1);
  collector.add_round(reports, 1.0);
  const Summary s = build_summary(plan, collector, 1, 4, 1, false);
  EXPECT_FALSE(s.passed);
  ASSERT_FALSE(s.problems.empty());
  EXPECT_NE(s.problems[0].find("none of the 4 planned iterations started"), std::string::npos)
      << s.problems[0];
}

}  // namespace
}  // namespace loadpilot::report
