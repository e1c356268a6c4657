// The live dashboard's frame and the summary fitted to the terminal: no
// line wider than the width at 60, 80, 100 and 140 columns, the key
// figures kept, and the text-width helpers they are built on.
#include "report/live.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "report/summary.h"
#include "report/text_fit.h"

namespace loadpilot::report {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

LiveHeader header() {
  LiveHeader h;
  h.scenario = "CheckoutWithAVeryLongScenarioName";
  h.target = "https://api.staging.example.internal:8443/some/prefix/that/is/long";
  h.mode = "ramp";
  h.total_s = 300;
  h.workers = 2;
  h.max_connections = 64;
  return h;
}

// Figures as wide as a long busy run makes them.
metrics::Snapshot busy_snapshot(std::size_t tasks) {
  metrics::Snapshot s;
  s.elapsed_s = 123.4;
  s.total_s = 300;
  s.phase = "steady";
  s.target_rps = 12000;
  s.current_rps = 11987.6;
  s.iterations_rps = 5993.8;
  s.requests = 1234567890;
  s.errors = 98765;
  s.error_rate = 0.01;
  s.dropped = 4321;
  s.active = 512;
  s.responses = {7, 1234000000, 0, 567890, 98000};
  s.bytes_sent = 123'456'789;
  s.bytes_received = 9'876'543'210;
  s.window.p50_ms = 12.34;
  s.window.p95_ms = 234.56;
  s.window.p99_ms = 3456.78;
  s.window.max_ms = 29999.99;
  for (std::size_t i = 0; i < tasks; ++i) {
    metrics::TaskSnapshot t;
    t.name = i == 0 ? "/api/products/{id} with a name longer than any column"
                    : "task_" + std::to_string(i);
    t.current_rps = 1234.5;
    t.requests = 123456789;
    t.errors = 12345;
    t.window.p50_ms = 12.34;
    t.window.p99_ms = 3456.78;
    s.tasks.push_back(t);
  }
  return s;
}

TEST(Dashboard, EveryLineFitsTheWidthAndKeepsTheKeyFigures) {
  for (int width : {60, 80, 100, 140}) {
    SCOPED_TRACE(width);
    const std::string frame = render_dashboard(header(), busy_snapshot(4), 130, width);
    const std::vector<std::string> lines = lines_of(frame);
    ASSERT_GE(lines.size(), 11u);
    for (const std::string& line : lines) EXPECT_LE(display_width(line), width) << line;
    EXPECT_NE(frame.find("LoadPilot"), std::string::npos);
    EXPECT_NE(frame.find("02:10 / 05:00"), std::string::npos);    // the clock
    EXPECT_NE(frame.find("11987.6 current"), std::string::npos);  // req/s
    EXPECT_NE(frame.find("1234567890"), std::string::npos);       // requests
    EXPECT_NE(frame.find("errors 98765 (0.01%)"), std::string::npos);
    EXPECT_NE(frame.find("p50 12.34"), std::string::npos);
    EXPECT_NE(frame.find("p99 3456.78"), std::string::npos);
    EXPECT_NE(frame.find("Latency ms"), std::string::npos);  // the unit
    // The status classes that say the target is failing stay at 60 columns.
    EXPECT_NE(frame.find("2xx 1234000000"), std::string::npos);
    EXPECT_NE(frame.find("4xx 567890"), std::string::npos);
    EXPECT_NE(frame.find("5xx 98000"), std::string::npos);
    EXPECT_NE(frame.find("none 7"), std::string::npos);
    // The task table: one row per task with its requests, errors and p99.
    for (int i = 1; i < 4; ++i) {
      const std::string name = "task_" + std::to_string(i);
      auto row = std::find_if(lines.begin(), lines.end(),
                              [&](const std::string& l) { return l.find(name) != l.npos; });
      ASSERT_NE(row, lines.end()) << name;
      EXPECT_NE(row->find("123456789"), std::string::npos) << *row;
      EXPECT_NE(row->find("12345"), std::string::npos) << *row;
      EXPECT_NE(row->find("3456.78"), std::string::npos) << *row;
    }
    // The long task name is cut to its column, not wrapped.
    EXPECT_NE(frame.find("/api/products/"), std::string::npos);
  }
}

TEST(Dashboard, WideTerminalsShowEveryColumnNarrowOnesDropTheLeastNeeded) {
  const std::string wide = render_dashboard(header(), busy_snapshot(2), 130, 140);
  for (const char* part : {"12000.0 target", "5993.8 iterations/s", "dropped 4321", "active 512",
                           "p95 234.56", "max 29999.99", "(last 10s)", "p50 ms", "req/s", "3xx 0",
                           "received 9.88 GB", "sent 123 MB"})
    EXPECT_NE(wide.find(part), std::string::npos) << part;
  EXPECT_NE(wide.find("phase: steady"), std::string::npos);
  EXPECT_NE(wide.find(header().target), std::string::npos);

  const std::string narrow = render_dashboard(header(), busy_snapshot(2), 130, 60);
  EXPECT_EQ(narrow.find("p50 ms"), std::string::npos);  // the table's first column to go
  EXPECT_NE(narrow.find("p99 ms"), std::string::npos);
  EXPECT_NE(narrow.find("steady"), std::string::npos);  // the phase stays
}

TEST(Dashboard, HeightLimitsTheFrameAndCountsTheTasksLeftOut) {
  const std::string frame = render_dashboard(header(), busy_snapshot(40), 130, 80, 24);
  const std::vector<std::string> lines = lines_of(frame);
  EXPECT_EQ(lines.size(), 24u);
  EXPECT_NE(lines.back().find("more tasks"), std::string::npos) << lines.back();
  // Without a height every task has its row.
  EXPECT_EQ(lines_of(render_dashboard(header(), busy_snapshot(40), 130, 80)).size(), 8u + 40u);
}

// A minute of history, for the trend lines.
std::vector<TrendPoint> minute_of_history() {
  std::vector<TrendPoint> trend;
  for (int i = 0; i < 60; ++i) trend.push_back({100.0 * i, 5.0 + (i % 10)});
  return trend;
}

// A big terminal is used: wider name and figure columns (p95, max, error %)
// and trend lines of the rate and p99, and never a line over its width.
TEST(Dashboard, TwoHundredByFiftyUsesTheRoom) {
  const std::string frame =
      render_dashboard(header(), busy_snapshot(6), 130, 200, 50, minute_of_history());
  const std::vector<std::string> lines = lines_of(frame);
  EXPECT_LE(lines.size(), 50u);
  int widest = 0;
  for (const std::string& line : lines) {
    EXPECT_LE(display_width(line), 200) << line;
    widest = std::max(widest, display_width(line));
  }
  EXPECT_GE(widest, 150) << frame;
  for (const char* part : {"p95 ms", "max ms", "error %", "▁", "█"})
    EXPECT_NE(frame.find(part), std::string::npos) << part << "\n" << frame;
  auto starts = [&](const char* prefix) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(starts("Rate trend"), 1) << frame;
  EXPECT_EQ(starts("p99 trend"), 1) << frame;
  // The long task name is shown whole on a wide terminal.
  EXPECT_NE(frame.find("/api/products/{id} with a name longer than any column"), std::string::npos);
}

// At 80 x 24 everything still fits: no line over 80 columns, at most 24
// lines, the key figures and a trend line kept.
TEST(Dashboard, EightyByTwentyFourStillFits) {
  const std::string frame =
      render_dashboard(header(), busy_snapshot(6), 130, 80, 24, minute_of_history());
  const std::vector<std::string> lines = lines_of(frame);
  EXPECT_LE(lines.size(), 24u);
  for (const std::string& line : lines) EXPECT_LE(display_width(line), 80) << line;
  for (const char* part : {"11987.6 current", "p99 3456.78", "Rate trend", "task_5"})
    EXPECT_NE(frame.find(part), std::string::npos) << part << "\n" << frame;
}

TEST(Dashboard, ALinePerScenarioAtEightyMoreAtOneSixty) {
  metrics::Snapshot s = busy_snapshot(2);
  metrics::Snapshot partner, browse;
  partner.scenario = "Partner";
  partner.current_rps = 199.5;
  partner.target_rps = 200;
  partner.requests = 600;
  partner.phase = "steady";
  partner.started = 600;
  browse.scenario = "Browse";
  browse.closed = true;
  browse.active_users = 18;
  browse.target_users = 20;
  browse.requests = 774;
  browse.errors = 3;
  browse.phase = "waiting";
  s.scenarios = {partner, browse};
  for (int width : {80, 160}) {
    const std::vector<std::string> lines = lines_of(render_dashboard(header(), s, 130, width));
    const auto line_of = [&](const std::string& name) {
      for (const std::string& l : lines)
        if (l.starts_with("  " + name)) return l;
      return std::string();
    };
    const std::string p = line_of("Partner"), b = line_of("Browse");
    ASSERT_FALSE(p.empty() || b.empty()) << width;
    EXPECT_LE(display_width(p), width);
    EXPECT_LE(display_width(b), width);
    EXPECT_NE(p.find("rps 199.5/200.0"), std::string::npos) << p;
    EXPECT_NE(p.find("req 600"), std::string::npos) << p;
    EXPECT_NE(b.find("users 18/20"), std::string::npos) << b;
    EXPECT_NE(b.find("err 3"), std::string::npos) << b;
    const bool wide = p.find("started 600 dropped 0") != std::string::npos;
    EXPECT_EQ(wide, width == 160) << p;
  }
}

TEST(Dashboard, NamesFromTheScenarioCannotMoveTheCursor) {
  LiveHeader h = header();
  h.scenario = "evil\033[2J\033[Hname";
  metrics::Snapshot s = busy_snapshot(1);
  s.tasks[0].name = "task\033[31m\r\nnext";
  const std::string frame = render_dashboard(h, s, 1, 100);
  EXPECT_EQ(frame.find("\033[2J"), std::string::npos);
  EXPECT_EQ(frame.find("\033[31m"), std::string::npos);
  EXPECT_EQ(frame.find('\r'), std::string::npos);
  EXPECT_NE(frame.find("evil?[2J?[Hname"), std::string::npos);
}

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  return text;
}

// The run's last flush, taken as the profile ends, is no second of its own:
// text mode prints no second "done" line with the target of a curve that
// has ended (0), and when that flush did bring requests, the line keeps the
// profile's last target.
TEST(PlainProgress, TheLastFlushPrintsNoSecondDoneLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto view = make_plain_progress(f, header());
  metrics::Snapshot s = busy_snapshot(1);
  s.elapsed_s = 300;
  s.phase = "done";
  s.target_rps = 100;
  view->on_snapshot(s);
  s.target_rps = 0;  // the flush: nothing new
  view->on_snapshot(s);
  std::string text = read_all(f);
  EXPECT_EQ(lines_of(text).size(), 1u) << text;
  EXPECT_EQ(text.find("/0.0 "), std::string::npos) << text;
  s.requests += 3;  // a flush that did bring requests
  view->on_snapshot(s);
  text = read_all(f);
  EXPECT_EQ(lines_of(text).size(), 2u) << text;
  EXPECT_EQ(text.find("/0.0 "), std::string::npos) << text;
  std::fclose(f);
}

// A run of agents that waits for an agent's last report says so on every
// line and under the dashboard's progress bar, instead of repeating "done"
// in silence (docs/distributed.md#an-agent-lost-near-the-end).
TEST(PlainProgress, SaysWhoseLastReportTheRunWaitsFor) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto view = make_plain_progress(f, header());
  metrics::Snapshot s = busy_snapshot(1);
  s.elapsed_s = 300;
  s.phase = "done";
  view->on_snapshot(s);
  s.notice = "waiting for agent a2 (2 of 2)'s last report, 2 s\033[2J";
  view->on_snapshot(s);  // nothing new but the wait: printed all the same
  s.notice = "waiting for agent a2 (2 of 2)'s last report, 1 s";
  view->on_snapshot(s);
  const std::vector<std::string> lines = lines_of(read_all(f));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].find("waiting"), std::string::npos);
  EXPECT_NE(lines[1].find("it/s 5993.8 -- waiting for agent a2 (2 of 2)'s last report, 2 s?[2J"),
            std::string::npos)
      << lines[1];
  EXPECT_NE(lines[2].find("-- waiting for agent a2 (2 of 2)'s last report, 1 s"),
            std::string::npos);
  std::fclose(f);
  const std::vector<std::string> frame = lines_of(render_dashboard(header(), s, 300, 100));
  ASSERT_GT(frame.size(), 3u);
  EXPECT_EQ(frame[2], "waiting for agent a2 (2 of 2)'s last report, 1 s");
}

// "1 external agent", not "1 external agents"; the same for workers.
TEST(PlainProgress, TheFirstLineCountsInTheRightNumber) {
  const auto first_line = [](LiveHeader h) {
    std::FILE* f = std::tmpfile();
    make_plain_progress(f, std::move(h))->start();
    const std::string text = read_all(f);
    std::fclose(f);
    return text.substr(0, text.find('\n'));
  };
  LiveHeader h = header();
  h.external = true;
  h.agents = 1;
  EXPECT_NE(first_line(h).find("1 external agent,"), std::string::npos) << first_line(h);
  h.agents = 2;
  EXPECT_NE(first_line(h).find("2 external agents,"), std::string::npos) << first_line(h);
  h = header();
  h.workers = 1;
  EXPECT_NE(first_line(h).find("1 worker,"), std::string::npos) << first_line(h);
  h.agents = 2;
  h.workers = 2;
  EXPECT_NE(first_line(h).find("2 agents, 2 workers,"), std::string::npos) << first_line(h);
}

// A run that --agents auto spread over processes says so, and how to keep
// one process.
TEST(PlainProgress, TheFirstLineSaysWhyAutoChoseAgents) {
  std::FILE* f = std::tmpfile();
  LiveHeader h = header();
  h.agents = 2;
  h.workers = 2;
  h.agents_why =
      "--agents auto: Python tasks at rps=\"max\" on 2 cores; --agents 1 for one process";
  make_plain_progress(f, std::move(h))->start();
  const std::string text = read_all(f);
  std::fclose(f);
  EXPECT_NE(text.find("300s, 2 agents (--agents auto: Python tasks at rps=\"max\" on 2 cores; "
                      "--agents 1 for one process), 2 workers, up to 64 connections)\n"),
            std::string::npos)
      << text;
}

TEST(TextFit, WidthsCountColumnsNotBytes) {
  EXPECT_EQ(display_width("abc"), 3);
  EXPECT_EQ(display_width("→ █░"), 4);
  EXPECT_EQ(display_width("\033[1mbold\033[0m"), 4);
  EXPECT_EQ(display_width("日本"), 4);       // wide characters
  EXPECT_EQ(display_width("e\xcc\x81"), 1);  // e + combining acute
  EXPECT_EQ(display_width("\xff\xfe"), 2);   // invalid UTF-8: a column per byte
}

TEST(TextFit, FitCutsWithAnEllipsisAndResetsColours) {
  EXPECT_EQ(fit_width("abcdef", 6), "abcdef");
  EXPECT_EQ(fit_width("abcdef", 4), "abc…");
  EXPECT_EQ(fit_width("日本語テキスト", 5), "日本…");
  EXPECT_EQ(fit_width("日本語テキスト", 4), "日…");  // never half a wide character
  const std::string cut = fit_width("\033[1mLoadPilot\033[0m and more", 6);
  EXPECT_EQ(display_width(cut), 6);
  EXPECT_EQ(cut.substr(cut.size() - 4), "\033[0m");
  EXPECT_EQ(fit_width("abc", 0), "");
}

TEST(TextFit, WrapKeepsWordsAndIndents) {
  const auto lines = wrap_words("one two three four five six", 15, "  x: ", "     ");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "  x: one two");
  EXPECT_EQ(lines[1], "     three four");
  EXPECT_EQ(lines[2], "     five six");
  // A word longer than a line is cut, not left to overflow.
  for (const auto& l : wrap_words(std::string(50, 'w'), 20, "", ""))
    EXPECT_LE(display_width(l), 20);
}

Summary busy_summary() {
  Summary s;
  s.scenario = "Checkout";
  s.target = "http://127.0.0.1:8000";
  s.mode = "ramp";
  s.duration_s = 300.01;
  s.planned_s = 300;
  s.target_rps = 12000;
  s.planned_iterations = 3000000;
  s.actual_rps = 11987.6;
  s.iterations_rps = 5993.8;
  s.requests = 1234567890;
  s.errors = 98765;
  s.attempts = 1234599999;
  s.started = 2999999;
  s.iterations = 2999990;
  s.cut_off = 9;
  s.late = 123456;
  s.dropped = 1;
  s.error_rate = 0.01;
  s.overload =
      "could not keep up with the asked rate: 1 of 3000000 planned arrivals dropped, 123456 "
      "started late; the target could not keep up: all 64 connections were busy (service time "
      "p50 12.00 ms, p99 3000.00 ms); raise --max-connections only if the target has headroom";
  s.latency = {100, 0.07, 123.45, 12.34, 1234.56, 2345.67, 3456.78, 12345.67, 29999.99};
  s.service = s.latency;
  s.errors_by_kind[0] = 98765;
  s.top_errors.push_back({"connect", std::string(200, 'm') + " refused", 98765, 1.5});
  for (const char* name : {"products", "/api/products/{id} named for the whole route", "order"}) {
    TaskSummary t;
    t.name = name;
    t.weight = 5;
    t.requests = 123456789;
    t.errors = 98765;
    t.rps = 12345.6;
    t.latency = s.latency;
    if (t.name == "products") {
      for (const char* sub : {"GET /api/products", "a sub-row named for the whole long route"}) {
        NamedSummary n;
        n.name = sub;
        n.requests = 123456780;
        n.errors = 98760;
        n.rps = 12345.5;
        n.latency = s.latency;
        t.named.push_back(n);
      }
    }
    s.tasks.push_back(t);
  }
  s.thresholds.push_back({"p99_ms", 250, 3456.78, false});
  s.add_problem(
      "the asked load was not delivered: a long sentence that goes on well past the "
      "eighty columns of a terminal window");
  return s;
}

std::string summary_text(const Summary& s, bool color) {
  std::FILE* f = std::tmpfile();
  print_summary(f, s, color);
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

TEST(Summary, FitsEightyColumnsWithEveryFigure) {
  for (bool color : {false, true}) {
    const std::string text = summary_text(busy_summary(), color);
    for (const std::string& line : lines_of(text)) EXPECT_LE(display_width(line), 80) << line;
    for (const char* part : {"p99.9 12345.67", "max 29999.99", "raise --max-connections",
                             "123456789", "named for the whole route", "eighty columns", "FAILED"})
      EXPECT_NE(text.find(part), std::string::npos) << part;
  }
}

// A step run's knee point is part of what the verdict sums up: it is
// printed before PASSED / FAILED, not after it.
TEST(Summary, TheKneePointComesBeforeTheVerdict) {
  Summary s = busy_summary();
  s.knee = "step 2/3 at 100 req/s (99.8 achieved): the last step within the limits";
  const std::string text = summary_text(s, false);
  const std::size_t knee = text.find("\nKnee point\n  step 2/3 at 100 req/s");
  ASSERT_NE(knee, std::string::npos) << text;
  EXPECT_LT(knee, text.find("\nFAILED")) << text;
  EXPECT_EQ(summary_text(busy_summary(), false).find("Knee point"), std::string::npos);
}

TEST(Summary, SubRowsAreIndentedUnderTheirTask) {
  const std::vector<std::string> lines = lines_of(summary_text(busy_summary(), false));
  auto products = std::find_if(lines.begin(), lines.end(),
                               [](const std::string& l) { return l.rfind("  products ", 0) == 0; });
  ASSERT_NE(products, lines.end());
  ASSERT_NE(products + 1, lines.end());
  // The next line: the sub-row, two columns further in, its own figures.
  EXPECT_EQ((products + 1)->rfind("    GET /api/products ", 0), 0u) << *(products + 1);
  EXPECT_NE((products + 1)->find("123456780"), std::string::npos) << *(products + 1);
  // A long sub-row name gets a line of its own, figures below it.
  auto long_sub = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("a sub-row named for the whole long route") != std::string::npos;
  });
  ASSERT_NE(long_sub, lines.end());
  EXPECT_EQ(long_sub->rfind("    a sub-row", 0), 0u) << *long_sub;
  EXPECT_NE((long_sub + 1)->find("123456780"), std::string::npos) << *(long_sub + 1);
}

TEST(Summary, TaskRowsKeepTheirFiguresUnderALongName) {
  const std::vector<std::string> lines = lines_of(summary_text(busy_summary(), false));
  auto it = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.find("named for the whole route") != std::string::npos;
  });
  ASSERT_NE(it, lines.end());
  ASSERT_NE(it + 1, lines.end());
  EXPECT_NE((it + 1)->find("123456789"), std::string::npos) << *(it + 1);  // the next line
  // Short names share the line with their figures.
  auto products = std::find_if(lines.begin(), lines.end(),
                               [](const std::string& l) { return l.rfind("  products ", 0) == 0; });
  ASSERT_NE(products, lines.end());
  EXPECT_NE(products->find("123456789"), std::string::npos);
}

}  // namespace
}  // namespace loadpilot::report

namespace loadpilot::report {
namespace {

TEST(Summary, ThresholdsNameTheirTaskAndWindowWithinEightyColumns) {
  Summary s = busy_summary();
  metrics::ThresholdResult w{"a_task_with_a_rather_long_name.p99_ms", 300, 812.5, false};
  w.task = "a_task_with_a_rather_long_name";
  w.metric = "p99_ms";
  w.over_s = 60;
  w.window_start_s = 12;
  w.window_end_s = 72;
  w.aborted = true;
  w.broken_at_s = 70;
  w.aborted_at_s = 72;
  s.thresholds.push_back(w);
  s.aborted_key = w.key;
  for (bool color : {false, true}) {
    const std::string text = summary_text(s, color);
    for (const std::string& line : lines_of(text)) EXPECT_LE(display_width(line), 80) << line;
    for (const char* part :
         {"Checkout (stopped by a threshold)", "a_task_with_a_rather_long_name.p99_ms over 60s",
          "actual 812.50 ms", "worst 60 s window: 12–72 s of the run",
          "broke at 70.0 s; stopped the run at 72.0 s"})
      EXPECT_NE(text.find(part), std::string::npos) << part << "\n" << text;
  }
  // A key that fits the title is named there.
  s.aborted_key = "p99_ms";
  EXPECT_NE(summary_text(s, false).find("Checkout (stopped by threshold p99_ms)\n"),
            std::string::npos);
  // The whole run's keys keep their column.
  EXPECT_NE(summary_text(busy_summary(), false).find("  ✗ p99_ms      actual 3456.78 ms"),
            std::string::npos);
}

}  // namespace
}  // namespace loadpilot::report
