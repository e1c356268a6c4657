// The report's building blocks: time series columns, the results object,
// HTML rendering and escaping, results checking and comparison verdicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "report/compare.h"
#include "report/html_report.h"
#include "report/report_assets.h"
#include "report/timeseries.h"

namespace loadpilot::report {
namespace {

metrics::Snapshot snapshot(double t, std::uint64_t requests, std::uint64_t errors) {
  metrics::Snapshot s;
  s.elapsed_s = t;
  s.target_rps = 100;
  s.current_rps = 99.123456;
  s.requests = requests;
  s.attempts = requests;  // no iteration failed outside a request
  s.errors = errors;
  s.window.p50_ms = 1.23456789;
  s.window.p99_ms = 9.87654321;
  s.tasks.resize(2);
  s.tasks[0].name = "a";
  s.tasks[0].requests = requests;
  s.tasks[0].attempts = requests;
  s.tasks[0].errors = errors;
  s.tasks[1].name = "b";
  return s;
}

TEST(TimeSeries, ColumnsWithIntervalErrorRates) {
  TimeSeries ts({"a", "b"});
  ts.add(snapshot(1.001, 100, 0));
  ts.add(snapshot(2.002, 300, 50));  // 50 of the 200 in this interval
  ts.add(snapshot(3.003, 300, 50));  // nothing new: 0 %, not a division by zero
  const nlohmann::json j = ts.to_json();
  EXPECT_EQ(j["t"], nlohmann::json({1.001, 2.002, 3.003}));
  EXPECT_EQ(j["requests"], nlohmann::json({100, 300, 300}));
  EXPECT_EQ(j["error_rate"], nlohmann::json({0.0, 25.0, 0.0}));
  EXPECT_EQ(j["p50_ms"][0].get<double>(), 1.235);  // rounded to 1 us
  EXPECT_EQ(j["p99_ms"][0].dump(), "9.877");       // and printed short
  EXPECT_EQ(j["current_rps"][0].dump(), "99.12");
  ASSERT_EQ(j["tasks"].size(), 2u);
  EXPECT_EQ(j["tasks"][0]["name"], "a");
  EXPECT_EQ(j["tasks"][0]["error_rate"], nlohmann::json({0.0, 25.0, 0.0}));
  EXPECT_EQ(j["tasks"][1]["error_rate"], nlohmann::json({0.0, 0.0, 0.0}));
  EXPECT_EQ(j["interval_s"].get<double>(), 1.0);
}

TEST(TimeSeries, ServiceTimeOverTheWindowAndLateDroppedArrivals) {
  TimeSeries ts({"a", "b"});
  metrics::IntervalStats round(2);
  round.tasks[0].service.record(2000, 99);  // 2 ms
  round.tasks[1].service.record(50000);     // 50 ms, the slowest 1 %
  metrics::Snapshot s = snapshot(1.001, 100, 0);
  s.late = 3;
  s.dropped = 1;
  ts.add(s, round, 0);
  // An empty round: the window still holds the first one.
  ts.add(snapshot(2.002, 100, 0), metrics::IntervalStats(2), 0);
  const nlohmann::json j = ts.to_json();
  EXPECT_EQ(j["late"], nlohmann::json({3, 0}));
  EXPECT_EQ(j["dropped"], nlohmann::json({1, 0}));
  ASSERT_EQ(j["service_p50_ms"].size(), 2u);
  EXPECT_NEAR(j["service_p50_ms"][0].get<double>(), 2.0, 0.02);
  EXPECT_NEAR(j["service_p99_ms"][1].get<double>(), 2.0, 0.02);
  EXPECT_NEAR(j["service_p50_ms"][1].get<double>(), 2.0, 0.02);
  // Without round statistics there are no service columns.
  TimeSeries plain({"a"});
  plain.add(snapshot(1.001, 1, 0));
  EXPECT_FALSE(plain.to_json().contains("service_p50_ms"));
}

// The run's last collection round, taken as the profile ends, can be a few
// milliseconds long: its target (the curve after its end) is 0 and nothing
// finished in it. It is folded into the point before, so the charts and
// their legends end on the profile's last second, not on a drop to 0.
TEST(TimeSeries, AShortRoundAtTheProfilesEndFoldsIntoThePointBefore) {
  TimeSeries ts({"a", "b"});
  metrics::Snapshot s = snapshot(1.0, 100, 4);  // 4 % errors
  s.total_s = 2.0;
  ts.add(s, 0);
  s = snapshot(2.0, 200, 8);
  s.total_s = 2.0;
  ts.add(s, 0);
  s = snapshot(2.0, 201, 8);  // the drain: one more request, no error
  s.total_s = 2.0;
  s.target_rps = 0;
  s.current_rps = 99.5;
  ts.add(s, 0);
  const nlohmann::json j = ts.to_json();
  EXPECT_EQ(j["t"], nlohmann::json({1.0, 2.0}));
  EXPECT_EQ(j["target_rps"], nlohmann::json({100.0, 100.0}));
  EXPECT_EQ(j["requests"], nlohmann::json({100, 201}));  // the totals stay exact
  EXPECT_EQ(j["errors"], nlohmann::json({4, 8}));
  // 4 errors of the 101 requests since the first point.
  EXPECT_NEAR(j["error_rate"][1].get<double>(), 3.96, 0.01);
  EXPECT_NEAR(j["tasks"][0]["error_rate"][1].get<double>(), 3.96, 0.01);
  ASSERT_EQ(ts.points().size(), 2u);
}

// A closed model's curve wants 0 users once it has ended: the point taken at
// the end keeps the users wanted during its last second.
TEST(TimeSeries, AClosedModelsLastPointKeepsItsTargetUsers) {
  TimeSeries ts({"a", "b"}, /*closed=*/true);
  metrics::Snapshot s = snapshot(1.0, 100, 0);
  s.total_s = 2.0;
  s.closed = true;
  s.target_users = 5;
  ts.add(s, 0);
  s = snapshot(2.0, 200, 0);
  s.total_s = 2.0;
  s.closed = true;
  s.target_users = 0;
  ts.add(s, 0);
  EXPECT_EQ(ts.to_json()["target_users"], nlohmann::json({5, 5}));
}

TEST(TimeSeries, LongRunsAreThinnedButKeepTheLastPoint) {
  TimeSeries ts({"a"});
  const std::size_t n = TimeSeries::kMaxPoints * 2 + 7;
  for (std::size_t i = 1; i <= n; ++i) ts.add(snapshot(static_cast<double>(i), i, 0));
  const nlohmann::json j = ts.to_json();
  EXPECT_LE(j["t"].size(), TimeSeries::kMaxPoints + 1);
  EXPECT_EQ(j["t"].back().get<double>(), static_cast<double>(n));
  EXPECT_EQ(j["requests"].back().get<std::uint64_t>(), n);
  EXPECT_EQ(j["interval_s"].get<double>(), 3.0);
}

TEST(JsonForScript, NothingCanCloseTheScriptElement) {
  const nlohmann::json j = {{"name", "</script><script>alert(1)</script>"},
                            {"amp", "a & b"},
                            {"line_sep", "x\u2028y"},
                            {"comment", "<!-- -->"}};
  const std::string s = json_for_script(j);
  EXPECT_EQ(s.find('<'), std::string::npos);
  EXPECT_EQ(s.find('>'), std::string::npos);
  EXPECT_EQ(s.find('&'), std::string::npos);
  EXPECT_EQ(s.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(s), j);  // still the same data
}

TEST(JsonForScript, InvalidUtf8FromATargetDoesNotThrow) {
  const nlohmann::json j = {{"message", std::string("bad \xFF byte")}};
  EXPECT_NO_THROW(json_for_script(j));
}

TEST(EscapeHtml, AllFiveCharacters) {
  EXPECT_EQ(escape_html(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

nlohmann::json minimal_results(const std::string& scenario) {
  return {{"scenario", scenario},
          {"target", "http://127.0.0.1:1"},
          {"mode", "constant"},
          {"requests", 10},
          {"errors", 0},
          {"error_rate", 0.0},
          {"duration_s", 1.0},
          {"passed", true},
          {"tasks", nlohmann::json::array()},
          {"rps", {{"actual", 10.0}, {"target", 10.0}}},
          {"latency", {{"p50_ms", 1.0}, {"p95_ms", 2.0}, {"p99_ms", 3.0}, {"max_ms", 4.0}}}};
}

TEST(HtmlReport, SelfContainedAndDeterministic) {
  ASSERT_GT(assets::kUplotJs.size(), 10'000u);
  ASSERT_GT(assets::kUplotCss.size(), 500u);
  EXPECT_EQ(assets::kUplotJs.find("</script"), std::string::npos);
  EXPECT_EQ(assets::kReportJs.find("</script"), std::string::npos);
  const nlohmann::json r = minimal_results("Browse");
  const std::string a = render_html_report(r, "2026-01-01T00:00:00Z");
  EXPECT_EQ(a, render_html_report(r, "2026-01-01T00:00:00Z"));
  EXPECT_EQ(a.find("{{"), std::string::npos) << "a placeholder was left in the page";
  EXPECT_NE(a.find("<title>LoadPilot report — Browse</title>"), std::string::npos);
  EXPECT_NE(a.find("2026-01-01T00:00:00Z"), std::string::npos);
  EXPECT_NE(a.find(std::string(assets::kUplotJs.substr(0, 200))), std::string::npos);
  // No reference to any host: everything is inline.
  EXPECT_EQ(a.find("<script src"), std::string::npos);
  EXPECT_EQ(a.find("<link"), std::string::npos);
  EXPECT_NE(a.find("default-src 'none'"), std::string::npos);
}

TEST(HtmlReport, HostileStringsStayData) {
  const std::string evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
  nlohmann::json r = minimal_results(evil + "{{DATA}}");
  r["tasks"] = {{{"name", evil}}};
  r["top_errors"] = {{{"kind", "protocol"}, {"message", evil}, {"count", 1}}};
  const std::string html = render_html_report(r, "{{UPLOT_JS}}<b>");
  // The markup appears nowhere unescaped, and placeholders in data are not
  // expanded.
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;/script&gt;&lt;script&gt;alert(1)"), std::string::npos);  // title
  EXPECT_NE(html.find("{{DATA}}"), std::string::npos);
  // Exactly the template's three <script> elements.
  std::size_t count = 0;
  for (std::size_t p = html.find("<script"); p != std::string::npos;
       p = html.find("<script", p + 1))
    ++count;
  EXPECT_EQ(count, 3u);
}

TEST(CheckResults, NamesTheBadField) {
  EXPECT_TRUE(check_results(minimal_results("x")).empty());
  nlohmann::json r = minimal_results("x");
  r["rps"]["actual"] = "fast";
  r.erase("latency");
  const auto problems = check_results(r);
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0], "rps.actual: expected a number (got \"fast\")");
  EXPECT_EQ(problems[1], "latency.p50_ms: missing");
  EXPECT_EQ(check_results(nlohmann::json::array()).size(), 1u);
}

// Found while fuzzing the results reader: `loadpilot report` and `compare`
// crashed (stack overflow in the recursive JSON dump) on a small file that
// nests arrays 100000 deep where a string belongs.
TEST(CheckResults, RejectsDeepNestingWithoutRecursing) {
  const std::size_t depth = 100000;
  const std::string text =
      R"({"scenario": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const auto deep = nlohmann::json::parse(text);
  const auto problems = check_results(deep);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "the top level: nested over 64 levels deep (a results file nests 6)");

  nlohmann::json r = minimal_results("x");
  nlohmann::json nested = 1;
  for (int i = 0; i < 62; ++i) nested = nlohmann::json::array({nested});
  r["extra"] = nested;  // 64 levels with the top level: still accepted
  EXPECT_TRUE(check_results(r).empty());
  r["extra"] = nlohmann::json::array({nested});
  EXPECT_EQ(check_results(r).size(), 1u);
}

nlohmann::json with(double rps, double p50, double p95, double p99, double err) {
  nlohmann::json r = minimal_results("x");
  r["rps"]["actual"] = rps;
  r["latency"] = {{"p50_ms", p50}, {"p95_ms", p95}, {"p99_ms", p99}, {"max_ms", p99 * 2}};
  r["error_rate"] = err;
  return r;
}

TEST(Compare, EqualRunsDoNotRegress) {
  const auto r = with(100, 1, 2, 3, 0.5);
  const Comparison c = compare_results(r, r, 10);
  EXPECT_FALSE(c.regressed());
  for (const auto& m : c.metrics) {
    EXPECT_EQ(m.diff_pct.value_or(-1), 0) << m.name;
    EXPECT_FALSE(m.improved);
  }
}

TEST(Compare, SeveralScenariosAreMatchedByScenarioThenTask) {
  const auto part = [](double p99, double task_p99) {
    nlohmann::json s = with(100, 1, 2, p99, 0);
    s["tasks"] = nlohmann::json::array(
        {{{"name", "home"}, {"latency", {{"p99_ms", task_p99}}}, {"error_rate", 0}}});
    return s;
  };
  nlohmann::json base = with(200, 1, 2, 3, 0);
  nlohmann::json cur = base;
  base["scenarios"] = {{"Browse", part(3, 3)}, {"Batch", part(3, 3)}};
  cur["scenarios"] = {{"Browse", part(3, 30)}, {"Partner", part(3, 3)}};
  const Comparison c = compare_results(base, cur, 10);
  EXPECT_TRUE(c.regressed());
  const auto row = [&](const std::string& name) {
    for (const auto& m : c.metrics)
      if (m.name == name) return m;
    ADD_FAILURE() << name;
    return MetricComparison{};
  };
  EXPECT_TRUE(row("Browse.home p99").regressed);
  EXPECT_FALSE(row("Browse p99").regressed);
  EXPECT_FALSE(row("p99").regressed);
  const auto noted = [&](const std::string& n) {
    return std::find(c.notes.begin(), c.notes.end(), n) != c.notes.end();
  };
  EXPECT_TRUE(noted("scenario Batch is in the baseline only"));
  EXPECT_TRUE(noted("scenario Partner is in the current run only"));
}

TEST(Compare, DirectionMattersPerMetric) {
  const auto base = with(100, 10, 20, 30, 0);
  // Faster and more throughput: improvements, not regressions.
  const Comparison better = compare_results(base, with(150, 5, 10, 15, 0), 10);
  EXPECT_FALSE(better.regressed());
  EXPECT_TRUE(better.metrics[0].improved);  // RPS up
  EXPECT_TRUE(better.metrics[3].improved);  // p99 down
  // RPS down 11% is a regression; p99 up 9% is not.
  const Comparison worse = compare_results(base, with(89, 10, 20, 32.7, 0), 10);
  EXPECT_TRUE(worse.regressed());
  EXPECT_TRUE(worse.metrics[0].regressed);
  EXPECT_FALSE(worse.metrics[3].regressed);
  EXPECT_NEAR(*worse.metrics[0].diff_pct, -11, 1e-9);
  // The threshold is a parameter.
  EXPECT_FALSE(compare_results(base, with(89, 10, 20, 30, 0), 12).regressed());
}

TEST(Compare, ErrorRateFromAZeroBaseline) {
  const auto base = with(100, 1, 2, 3, 0);
  EXPECT_FALSE(compare_results(base, with(100, 1, 2, 3, 0.05), 10).regressed());
  const Comparison c = compare_results(base, with(100, 1, 2, 3, 0.5), 10);
  EXPECT_TRUE(c.regressed());
  EXPECT_FALSE(c.metrics[5].diff_pct.has_value());
  // Tiny rates: +100% relative but only 0.001 points is noise.
  EXPECT_FALSE(
      compare_results(with(100, 1, 2, 3, 0.001), with(100, 1, 2, 3, 0.002), 10).regressed());
  EXPECT_TRUE(compare_results(with(100, 1, 2, 3, 1), with(100, 1, 2, 3, 2), 10).regressed());
}

TEST(Compare, LatencyNoiseBelowTheFloorNeverRegresses) {
  // Two identical back-to-back runs: p50 0.23 -> 0.27 ms is +17%, noise.
  const Comparison c =
      compare_results(with(100, 0.23, 0.5, 0.9, 0), with(100, 0.27, 0.6, 1.1, 0), 10);
  EXPECT_FALSE(c.regressed());
  EXPECT_TRUE(c.metrics[1].within_noise);
  EXPECT_FALSE(c.metrics[1].regressed);
  // Past the floor it counts again; the floor is a parameter.
  EXPECT_TRUE(compare_results(with(100, 2, 3, 4, 0), with(100, 3.5, 3, 4, 0), 10).regressed());
  EXPECT_TRUE(compare_results(with(100, 0.23, 0.5, 0.9, 0), with(100, 0.27, 0.5, 0.9, 0), 10, 0)
                  .regressed());
}

TEST(Compare, HasAMaxRow) {
  const Comparison c = compare_results(with(100, 1, 2, 3, 0), with(100, 1, 2, 30, 0), 10);
  ASSERT_EQ(c.metrics[4].name, "max");
  EXPECT_TRUE(c.metrics[4].regressed);  // 6 -> 60 ms
}

TEST(Compare, NotesDifferentScenarios) {
  auto a = with(100, 1, 2, 3, 0), b = a;
  b["target"] = "http://127.0.0.1:2";
  const Comparison c = compare_results(a, b, 10);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_NE(c.notes[0].find("target differs"), std::string::npos);
}

}  // namespace
}  // namespace loadpilot::report
