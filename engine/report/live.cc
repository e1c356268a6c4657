#include "report/live.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "report/text_fit.h"
#include "report/wall_clock.h"

namespace loadpilot::report {

namespace {

std::string clock_text(double s) {
  const int t = static_cast<int>(s);
  return fmt::format("{:02}:{:02}", t / 60, t % 60);
}

std::string bar(double fraction, int width) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int full = static_cast<int>(fraction * width);
  std::string b;
  for (int i = 0; i < width; ++i) b += i < full ? "█" : "░";
  return b;
}

struct TerminalSize {
  int columns = 100;
  int rows = 0;  // 0: unknown, no limit
  bool operator==(const TerminalSize&) const = default;
};

TerminalSize terminal_size(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return {ws.ws_col, ws.ws_row};
  return {};
}

// The file descriptor of the dashboard that holds the terminal in its
// alternate screen, or -1: restore_terminal() gives it back from paths that
// end the process without unwinding.
std::atomic<int> g_alternate_screen_fd{-1};

constexpr std::string_view kEnterScreen = "\033[?1049h\033[?25l\033[2J";  // alternate, no cursor
// Leaving, the alternate screen is cleared first: a terminal that grew
// during the run shrinks it back to the normal screen's old size on the way
// out, and some (tmux) push the rows that no longer fit, the top of the
// last frame, into the scrollback above the summary.
constexpr std::string_view kLeaveScreen =
    "\033[H\033[2J\033[?25h\033[?1049l";  // cleared, cursor, normal screen

// The dashboard draws on the terminal's alternate screen, as full-screen
// programs do: each frame is drawn whole from the top-left corner, fitted
// to the size the terminal has at that moment (asked every frame, so a
// resize shows within a quarter second), and nothing of it reaches the
// scrollback. finish() returns to the normal screen, where the summary is
// then printed (docs/output.md).
class TerminalDashboard : public LiveView {
 public:
  TerminalDashboard(std::FILE* out, LiveHeader h) : out_(out), header_(std::move(h)) {}
  ~TerminalDashboard() override { finish(); }

  void start() override {
    started_ = std::chrono::steady_clock::now();
    std::fwrite(kEnterScreen.data(), 1, kEnterScreen.size(), out_);
    std::fflush(out_);
    g_alternate_screen_fd.store(fileno(out_));
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!done_) {
        draw_locked();
        cv_.wait_for(lock, std::chrono::milliseconds(250));
      }
    });
  }

  void on_snapshot(const metrics::Snapshot& s) override {
    std::lock_guard lock(mu_);
    last_ = s;
    have_ = true;
    trend_.push_back({s.current_rps, s.window.p99_ms});
    // More seconds than any terminal is wide: older ones are never shown.
    if (trend_.size() > kTrendSeconds) trend_.erase(trend_.begin());
    draw_locked();
  }

  void finish() override {
    {
      std::lock_guard lock(mu_);
      if (done_) return;
      done_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (g_alternate_screen_fd.exchange(-1) == -1) return;  // never started
    std::fwrite(kLeaveScreen.data(), 1, kLeaveScreen.size(), out_);
    std::fflush(out_);
  }

 private:
  void draw_locked() {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    const TerminalSize size = terminal_size(out_);
    const std::string frame = render_dashboard(header_, last_, have_ ? wall : 0,
                                               std::max(size.columns, 1), size.rows, trend_);
    std::vector<std::string_view> lines;
    for (std::size_t pos = 0; pos < frame.size();) {
      std::size_t nl = frame.find('\n', pos);
      if (nl == std::string::npos) nl = frame.size();
      lines.emplace_back(frame.data() + pos, nl - pos);
      pos = nl + 1;
    }
    // A new size, or fewer lines than the last frame: clear everything
    // first (after a resize the terminal may have moved or cut old text).
    std::string out;
    if (!(size == size_) || lines.size() < lines_) out += "\033[2J";
    out += "\033[H";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      out += "\033[2K";
      out += lines[i];
      // No line feed after the last line: on the bottom row it would scroll.
      if (i + 1 < lines.size()) out += "\r\n";
    }
    size_ = size;
    lines_ = lines.size();
    std::fwrite(out.data(), 1, out.size(), out_);
    std::fflush(out_);
  }

  std::FILE* out_;
  LiveHeader header_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  static constexpr std::size_t kTrendSeconds = 400;
  metrics::Snapshot last_;
  std::vector<TrendPoint> trend_;
  bool have_ = false;
  bool done_ = false;
  TerminalSize size_{-1, -1};
  std::size_t lines_ = 0;
  std::chrono::steady_clock::time_point started_;
};

class PlainProgress : public LiveView {
 public:
  PlainProgress(std::FILE* out, LiveHeader h) : out_(out), header_(std::move(h)) {}
  void start() override {
    const auto count = [](std::size_t n, std::string_view what) {
      return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s");
    };
    const std::string workers =
        header_.external ? count(header_.agents, "external agent")
        : header_.agents > 1
            ? fmt::format(
                  "{}{}, {}", count(header_.agents, "agent"),
                  header_.agents_why.empty() ? std::string() : " (" + header_.agents_why + ")",
                  count(header_.workers, "worker"))
            : count(header_.workers, "worker");
    const std::string model = header_.users ? fmt::format("closed model, {} users, think time {}, ",
                                                          header_.users, header_.wait)
                                            : std::string();
    fmt::print(out_,
               "loadpilot: running {} against {} ({}{} mode, {:.0f}s, {}, up to {} connections)\n",
               header_.scenario, header_.target, model, header_.mode, header_.total_s, workers,
               header_.max_connections);
    std::fflush(out_);
  }
  void on_snapshot(const metrics::Snapshot& s) override {
    // The run's last flush, taken where the last line was (the profile's
    // end), is no second of its own: it prints nothing when it brought
    // nothing new, and otherwise keeps the target of the profile's last
    // second instead of the 0 of a curve that has ended.
    const bool flush = printed_ && s.total_s > 0 && s.elapsed_s >= s.total_s - 1e-6 &&
                       s.elapsed_s - last_.elapsed_s < 0.5;
    if (flush && s.requests == last_.requests && s.errors == last_.errors &&
        s.dropped == last_.dropped && s.iterations == last_.iterations && s.notice.empty())
      return;
    const double target_rps = flush ? last_.target_rps : s.target_rps;
    printed_ = true;
    last_ = {s.elapsed_s, target_rps, s.requests, s.errors, s.dropped, s.iterations};
    // A closed model has no target rate: its users set the pace.
    const std::string target = s.closed ? "-" : fmt::format("{:.1f}", target_rps);
    fmt::print(out_,
               "[{:>5.1f}s/{:.0f}s] {:<10} rps {:>8.1f}/{:<8} req {:>9} err {:>6} ({:.2f}%) "
               "p50 {:.1f}ms p95 {:.1f}ms p99 {:.1f}ms max {:.1f}ms active {}{}{}{}\n",
               s.elapsed_s, s.total_s, s.phase, s.current_rps, target, s.requests, s.errors,
               s.error_rate, s.window.p50_ms, s.window.p95_ms, s.window.p99_ms, s.window.max_ms,
               s.active,
               // Tasks that make several calls: iterations/s is what the target counts.
               s.iterations != s.requests ? fmt::format(" it/s {:.1f}", s.iterations_rps) : "",
               s.closed ? fmt::format(" users {}/{}", s.active_users, s.target_users) : "",
               // What the end of the run waits for, instead of a silent pause.
               s.notice.empty() ? "" : " -- " + printable(s.notice));
    std::fflush(out_);
  }

 private:
  struct Printed {
    double elapsed_s = 0, target_rps = 0;
    std::uint64_t requests = 0, errors = 0, dropped = 0, iterations = 0;
  };
  std::FILE* out_;
  LiveHeader header_;
  bool printed_ = false;
  Printed last_;
};

class NdjsonStream : public LiveView {
 public:
  NdjsonStream(std::FILE* out, LiveHeader h) : out_(out), header_(std::move(h)) {}
  void on_snapshot(const metrics::Snapshot& s) override {
    nlohmann::json j = s.to_json();
    j["scenario"] = header_.scenario;
    j["ts"] = rfc3339_now_ms();
    const std::string line = j.dump() + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  LiveHeader header_;
};

}  // namespace

namespace {

// A part of a dashboard line. Parts that do not fit the width are left out,
// highest `drop` first, so a narrow terminal loses detail, never wraps.
struct Part {
  int drop = 0;  // 0: always kept (cut with "…" if even those do not fit)
  std::string text;
};

std::string join_fitted(std::vector<Part> parts, int width, std::string_view sep = "   ") {
  auto total = [&] {
    int w = 0;
    for (std::size_t i = 0; i < parts.size(); ++i)
      w += display_width(parts[i].text) + (i ? static_cast<int>(sep.size()) : 0);
    return w;
  };
  while (total() > width) {
    auto worst = std::max_element(parts.begin(), parts.end(),
                                  [](const Part& a, const Part& b) { return a.drop < b.drop; });
    if (worst == parts.end() || worst->drop == 0) break;
    // The rightmost of the most droppable parts goes first.
    for (auto it = parts.end(); it != parts.begin();) {
      --it;
      if (it->drop == worst->drop) {
        parts.erase(it);
        break;
      }
    }
  }
  std::string line;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) line += sep;
    line += parts[i].text;
  }
  return fit_width(line, width);
}

// A numeric column of the task table.
struct Column {
  const char* title;
  int width;
  int drop;  // as Part::drop
};

// The last values of VALUES as a one-line sparkline of at most WIDTH
// cells, scaled from 0 to their maximum.
std::string sparkline(const std::vector<double>& values, int width) {
  static constexpr std::string_view kLevels[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const std::size_t n = std::min(values.size(), static_cast<std::size_t>(std::max(width, 0)));
  const auto first = values.end() - static_cast<std::ptrdiff_t>(n);
  const double top = n ? *std::max_element(first, values.end()) : 0;
  std::string out;
  for (auto it = first; it != values.end(); ++it) {
    const int level = top > 0 ? std::clamp(static_cast<int>(std::lround(*it / top * 7)), 0, 7) : 0;
    out += kLevels[level];
  }
  return out;
}

// "LABEL  ▁▂▅█  last X (max Y)", the sparkline taking the room left.
std::string trend_line(std::string_view label, const std::vector<double>& values, int width,
                       const std::string& suffix) {
  const int room = width - display_width(label) - display_width(suffix) - 2;
  if (room < 8) return {};
  return std::string(label) + sparkline(values, room) + "  " + suffix;
}

}  // namespace

std::string render_dashboard(const LiveHeader& h, const metrics::Snapshot& s, double wall_elapsed_s,
                             int width, int height, const std::vector<TrendPoint>& trend) {
  width = std::max(width, 1);
  const double elapsed = std::min(std::max(s.elapsed_s, wall_elapsed_s), h.total_s);
  std::vector<std::string> lines;

  // Scenario and target: the target URL is cut first.
  const std::string scenario = printable(h.scenario);
  const std::string head = "\033[1mLoadPilot\033[0m  " + scenario + "  →  ";
  lines.push_back(fit_width(
      head + fit_width(printable(h.target), std::max(width - display_width(head), 8)), width));

  // Clock, progress bar, percent and phase: the bar takes what is left.
  const std::string clock = fmt::format("{} / {}", clock_text(elapsed), clock_text(h.total_s));
  const std::string pct =
      fmt::format("{:3.0f}%", h.total_s > 0 ? 100 * elapsed / h.total_s : 100.0);
  std::string phase = "phase: " + printable(s.phase);
  int rest = width - display_width(clock) - display_width(pct) - display_width(phase) - 7;
  if (rest < 10) {
    phase = printable(s.phase);
    rest = width - display_width(clock) - display_width(pct) - display_width(phase) - 7;
  }
  lines.push_back(
      fit_width(fmt::format("{}  {}  {}   {}", clock,
                            bar(h.total_s > 0 ? elapsed / h.total_s : 1, std::clamp(rest, 5, 60)),
                            pct, phase),
                width));
  if (!s.notice.empty()) lines.push_back(fit_width(printable(s.notice), width));

  // A closed model has no target rate: its users set the pace.
  lines.push_back(join_fitted(
      {{0, fmt::format("RPS      {:>9.1f} current", s.current_rps)},
       {1, s.closed ? std::string("- target") : fmt::format("{:.1f} target", s.target_rps)},
       {2, fmt::format("{:.1f} iterations/s", s.iterations_rps)}},
      width));
  lines.push_back(join_fitted({{0, fmt::format("Requests {:>9}", s.requests)},
                               {0, fmt::format("errors {} ({:.2f}%)", s.errors, s.error_rate)},
                               {1, fmt::format("dropped {}", s.dropped)},
                               {2, fmt::format("active {}", s.active)}},
                              width));
  // Requests by status class and the bytes so far: a target that turns to
  // 5xx or stops answering shows here at once
  // (docs/output.md#status-classes-and-bytes).
  const auto responses = [&s](metrics::ResponseClass c) {
    return s.responses[static_cast<std::size_t>(c)];
  };
  lines.push_back(join_fitted(
      {{0, fmt::format("Status   {:>9}",
                       fmt::format("2xx {}", responses(metrics::ResponseClass::k2xx)))},
       {1, fmt::format("3xx {}", responses(metrics::ResponseClass::k3xx))},
       {0, fmt::format("4xx {}", responses(metrics::ResponseClass::k4xx))},
       {0, fmt::format("5xx {}", responses(metrics::ResponseClass::k5xx))},
       {0, fmt::format("none {}", responses(metrics::ResponseClass::kNone))},
       {2, fmt::format("received {}", format_bytes(static_cast<double>(s.bytes_received)))},
       {2, fmt::format("sent {}", format_bytes(static_cast<double>(s.bytes_sent)))}},
      width));
  if (s.closed)
    lines.push_back(join_fitted({{0, fmt::format("Users    {:>9} active", s.active_users)},
                                 {0, fmt::format("{} target", s.target_users)},
                                 {1, h.wait.empty() ? std::string("(closed model)")
                                                    : "(closed model, think time " + h.wait + ")"}},
                                width));
  lines.push_back(join_fitted({{0, "Latency ms"},
                               {0, fmt::format("p50 {:.2f}", s.window.p50_ms)},
                               {1, fmt::format("p95 {:.2f}", s.window.p95_ms)},
                               {0, fmt::format("p99 {:.2f}", s.window.p99_ms)},
                               {1, fmt::format("max {:.2f}", s.window.max_ms)},
                               {2, fmt::format("(last {}s)", metrics::Collector::kWindowSeconds)}},
                              width, "  "));
  // A run of several scenarios: a line each, its key figures first; a wide
  // terminal also gets its phase, p50 and books.
  for (const metrics::Snapshot& part : s.scenarios) {
    const std::string load =
        part.closed ? fmt::format("users {}/{}", part.active_users, part.target_users)
                    : fmt::format("rps {:.1f}/{:.1f}", part.current_rps, part.target_rps);
    lines.push_back(fit_width(
        join_fitted({{0, fmt::format("  {:<12}", printable(part.scenario))},
                     {0, load},
                     {0, fmt::format("req {}", part.requests)},
                     {0, fmt::format("err {} ({:.2f}%)", part.errors, part.error_rate)},
                     {0, fmt::format("p99 {:.2f}", part.window.p99_ms)},
                     {1, printable(part.phase)},
                     {2, fmt::format("p50 {:.2f}", part.window.p50_ms)},
                     {2, fmt::format("started {} dropped {}", part.started, part.dropped)}},
                    width, "  "),
        width));
  }
  // Trend lines when the terminal has the rows for them (or no known
  // height): the rate and p99 of the last seconds, as many as fit.
  if (!trend.empty() && (height == 0 || height >= 20)) {
    std::vector<double> rps, p99;
    for (const TrendPoint& t : trend) {
      rps.push_back(t.rps);
      p99.push_back(t.p99_ms);
    }
    const auto top = [](const std::vector<double>& v) {
      return *std::max_element(v.begin(), v.end());
    };
    for (std::string line :
         {trend_line("Rate trend ", rps, width,
                     fmt::format("{:.1f} req/s (max {:.1f})", rps.back(), top(rps))),
          trend_line("p99 trend  ", p99, width,
                     fmt::format("{:.2f} ms (max {:.2f})", p99.back(), top(p99)))})
      if (!line.empty()) lines.push_back(fit_width(line, width));
  }
  lines.push_back("");

  // The task table: numeric columns drop out (p50 first) until the name
  // keeps at least 12 columns; the name column takes the rest, up to 40.
  // The extra columns of a wide terminal (error %, p95, max) stay only
  // while the name keeps 30; on a wide one the name takes up to 80.
  std::vector<Column> columns = {{"req/s", 9, 1},   {"requests", 9, 0}, {"errors", 7, 0},
                                 {"error %", 8, 3}, {"p50 ms", 9, 2},   {"p95 ms", 9, 3},
                                 {"p99 ms", 9, 0},  {"max ms", 10, 4}};
  auto numeric_width = [&] {
    int w = 0;
    for (const Column& c : columns) w += c.width + 1;
    return w;
  };
  for (;;) {
    auto worst = std::max_element(columns.begin(), columns.end(),
                                  [](const Column& a, const Column& b) { return a.drop < b.drop; });
    if (worst == columns.end() || worst->drop == 0) break;
    if (width - 2 - numeric_width() >= (worst->drop >= 3 ? 30 : 12)) break;
    columns.erase(worst);
  }
  const int name_width = std::clamp(width - 2 - numeric_width(), 4, 80);
  auto row = [&](std::string name, const std::vector<std::string>& cells) {
    std::string line = "  " + pad(fit_width(name, name_width), name_width);
    for (std::size_t i = 0; i < columns.size(); ++i)
      line += " " + pad(cells[i], columns[i].width, false);
    return fit_width(line, width);
  };
  std::vector<std::string> titles;
  for (const Column& c : columns) titles.push_back(c.title);
  lines.push_back(row("task", titles));
  // Each task, then its named requests indented under it
  // (docs/scenarios.md#metrics).
  std::vector<std::string> task_lines;
  std::vector<bool> is_task_line;
  auto cells_of = [&](double rps, std::uint64_t requests, std::uint64_t errors,
                      const metrics::LatencySummary& window) {
    std::vector<std::string> cells;
    for (const Column& c : columns) {
      const std::string_view title = c.title;
      if (title == "req/s") cells.push_back(fmt::format("{:.1f}", rps));
      if (title == "requests") cells.push_back(fmt::format("{}", requests));
      if (title == "errors") cells.push_back(fmt::format("{}", errors));
      if (title == "error %")
        cells.push_back(fmt::format("{:.2f}", metrics::percent(errors, requests)));
      if (title == "p50 ms") cells.push_back(fmt::format("{:.2f}", window.p50_ms));
      if (title == "p95 ms") cells.push_back(fmt::format("{:.2f}", window.p95_ms));
      if (title == "p99 ms") cells.push_back(fmt::format("{:.2f}", window.p99_ms));
      if (title == "max ms") cells.push_back(fmt::format("{:.2f}", window.max_ms));
    }
    return cells;
  };
  for (const metrics::TaskSnapshot& t : s.tasks) {
    task_lines.push_back(
        row(printable(t.name), cells_of(t.current_rps, t.requests, t.errors, t.window)));
    is_task_line.push_back(true);
    for (const metrics::NamedSnapshot& n : t.named) {
      task_lines.push_back(
          row("  " + printable(n.name), cells_of(n.current_rps, n.requests, n.errors, n.window)));
      is_task_line.push_back(false);
    }
  }
  // A terminal too short for every row: the first ones and a count.
  const std::size_t room =
      height > 0 ? static_cast<std::size_t>(std::max(height - static_cast<int>(lines.size()), 1))
                 : task_lines.size();
  if (task_lines.size() > room) {
    const std::size_t shown = room - 1;
    const auto hidden_tasks = static_cast<std::size_t>(std::count(
        is_task_line.begin() + static_cast<std::ptrdiff_t>(shown), is_task_line.end(), true));
    const std::size_t hidden = task_lines.size() - shown;
    task_lines.resize(shown);
    task_lines.push_back(fit_width(hidden_tasks ? fmt::format("  … {} more tasks", hidden_tasks)
                                                : fmt::format("  … {} more named requests", hidden),
                                   width));
  }
  lines.insert(lines.end(), task_lines.begin(), task_lines.end());
  if (height > 0 && lines.size() > static_cast<std::size_t>(height)) lines.resize(height);

  std::string o;
  for (const std::string& line : lines) o += line + "\n";
  return o;
}

void restore_terminal() {
  const int fd = g_alternate_screen_fd.exchange(-1);
  if (fd < 0) return;
  // write(2) only: this runs on paths that may not use stdio.
  [[maybe_unused]] const ssize_t n = ::write(fd, kLeaveScreen.data(), kLeaveScreen.size());
}

std::unique_ptr<LiveView> make_terminal_dashboard(std::FILE* out, LiveHeader header) {
  return std::make_unique<TerminalDashboard>(out, std::move(header));
}
std::unique_ptr<LiveView> make_plain_progress(std::FILE* out, LiveHeader header) {
  return std::make_unique<PlainProgress>(out, std::move(header));
}
std::unique_ptr<LiveView> make_ndjson_stream(std::FILE* out, LiveHeader header) {
  return std::make_unique<NdjsonStream>(out, std::move(header));
}

}  // namespace loadpilot::report
