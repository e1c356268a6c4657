#include "report/live.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

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

int terminal_width(std::FILE* out) {
  winsize ws{};
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

class TerminalDashboard : public LiveView {
 public:
  TerminalDashboard(std::FILE* out, LiveHeader h) : out_(out), header_(std::move(h)) {}
  ~TerminalDashboard() override { finish(); }

  void start() override {
    started_ = std::chrono::steady_clock::now();
    fmt::print(out_, "\033[?25l");  // hide the cursor while redrawing
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
    std::lock_guard lock(mu_);
    draw_locked();
    fmt::print(out_, "\033[?25h");
    std::fflush(out_);
  }

 private:
  void draw_locked() {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::string frame = render_dashboard(header_, last_, have_ ? wall : 0, terminal_width(out_));
    // Move up over the previous frame and overwrite it line by line.
    std::string out;
    if (lines_) out += fmt::format("\033[{}F", lines_);
    int lines = 0;
    std::size_t pos = 0;
    while (pos < frame.size()) {
      std::size_t nl = frame.find('\n', pos);
      if (nl == std::string::npos) nl = frame.size();
      out += frame.substr(pos, nl - pos);
      out += "\033[K\n";
      ++lines;
      pos = nl + 1;
    }
    for (int i = lines; i < lines_; ++i) out += "\033[K\n";  // clear leftovers
    lines_ = std::max(lines, lines_);
    std::fwrite(out.data(), 1, out.size(), out_);
    std::fflush(out_);
  }

  std::FILE* out_;
  LiveHeader header_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  metrics::Snapshot last_;
  bool have_ = false;
  bool done_ = false;
  int lines_ = 0;
  std::chrono::steady_clock::time_point started_;
};

class PlainProgress : public LiveView {
 public:
  PlainProgress(std::FILE* out, LiveHeader h) : out_(out), header_(std::move(h)) {}
  void start() override {
    const std::string workers =
        header_.external     ? fmt::format("{} external agents", header_.agents)
        : header_.agents > 1 ? fmt::format("{} agents, {} workers", header_.agents, header_.workers)
                             : fmt::format("{} workers", header_.workers);
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
    // A closed model has no target rate: its users set the pace.
    const std::string target = s.closed ? "-" : fmt::format("{:.1f}", s.target_rps);
    fmt::print(out_,
               "[{:>5.1f}s/{:.0f}s] {:<10} rps {:>8.1f}/{:<8} req {:>9} err {:>6} ({:.2f}%) "
               "p50 {:.1f}ms p95 {:.1f}ms p99 {:.1f}ms max {:.1f}ms active {}{}{}\n",
               s.elapsed_s, s.total_s, s.phase, s.current_rps, target, s.requests, s.errors,
               s.error_rate, s.window.p50_ms, s.window.p95_ms, s.window.p99_ms, s.window.max_ms,
               s.active,
               // Tasks that make several calls: iterations/s is what the target counts.
               s.iterations != s.requests ? fmt::format(" it/s {:.1f}", s.iterations_rps) : "",
               s.closed ? fmt::format(" users {}/{}", s.active_users, s.target_users) : "");
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  LiveHeader header_;
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

std::string render_dashboard(const LiveHeader& h, const metrics::Snapshot& s, double wall_elapsed_s,
                             int width) {
  const double elapsed = std::min(std::max(s.elapsed_s, wall_elapsed_s), h.total_s);
  const int bar_width = std::clamp(width - 30, 10, 60);
  std::string o;
  o += fmt::format("\033[1mLoadPilot\033[0m  {}  →  {}\n", h.scenario, h.target);
  o += fmt::format("{} / {}  {}  {:.0f}%   phase: {}\n", clock_text(elapsed), clock_text(h.total_s),
                   bar(h.total_s > 0 ? elapsed / h.total_s : 1, bar_width),
                   h.total_s > 0 ? 100 * elapsed / h.total_s : 100.0, s.phase);
  o += fmt::format("RPS       {:>9.1f} current   {:>9} target   {:>9.1f} iterations/s\n",
                   s.current_rps, s.closed ? "-" : fmt::format("{:.1f}", s.target_rps),
                   s.iterations_rps);
  o += fmt::format("Requests  {:>9}          errors {:>7} ({:.2f}%)   dropped {}   active {}\n",
                   s.requests, s.errors, s.error_rate, s.dropped, s.active);
  if (s.closed)
    o += fmt::format("Users     {:>9} active    {:>9} target   (closed model{})\n", s.active_users,
                     s.target_users, h.wait.empty() ? "" : ", think time " + h.wait);
  o += fmt::format(
      "Latency   p50 {:>8.2f}  p95 {:>8.2f}  p99 {:>8.2f}  max {:>8.2f} ms  (last "
      "{}s)\n",
      s.window.p50_ms, s.window.p95_ms, s.window.p99_ms, s.window.max_ms,
      metrics::Collector::kWindowSeconds);
  o += fmt::format("\n  {:<22} {:>9} {:>9} {:>7} {:>9} {:>9}\n", "task", "req/s", "requests",
                   "errors", "p50 ms", "p99 ms");
  for (const metrics::TaskSnapshot& t : s.tasks) {
    o += fmt::format("  {:<22} {:>9.1f} {:>9} {:>7} {:>9.2f} {:>9.2f}\n", t.name.substr(0, 22),
                     t.current_rps, t.requests, t.errors, t.window.p50_ms, t.window.p99_ms);
  }
  return o;
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
