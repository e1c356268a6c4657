#pragma once
// Live output while a run goes on. Three forms:
//  * TerminalDashboard — stdout is a terminal: a panel on the terminal's
//    alternate screen, redrawn whole four times a second at the terminal's
//    current size (elapsed time and progress move smoothly; figures change
//    once a second when a new Snapshot arrives); the normal screen gets
//    back what it had, and then the summary.
//  * PlainProgress — stdout is not a terminal (CI logs): one line a second.
//  * NdjsonStream — `--output ndjson`: one JSON object per line per second
//    (docs/output.md lists the fields).
// Thread-safety: on_snapshot and finish are called from the run thread;
// TerminalDashboard redraws from its own thread under a mutex.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "metrics/snapshot.h"

namespace loadpilot::report {

struct LiveHeader {
  std::string scenario;
  std::string target;
  std::string mode;
  double total_s = 0;
  std::size_t workers = 0;  // in all processes together
  std::size_t max_connections = 0;
  std::size_t agents = 1;  // --agents or --external-agents
  bool external = false;   // the agents are remote: their workers are unknown here
  std::size_t users = 0;   // a closed model's users (0: an open model)
  std::string wait;        // a closed model's think time, as written
  // Why there are local agents nobody asked for (--agents auto), or empty.
  std::string agents_why;
};

class LiveView {
 public:
  virtual ~LiveView() = default;
  virtual void start() {}
  virtual void on_snapshot(const metrics::Snapshot& s) = 0;
  // The run is over; leave the screen in a clean state.
  virtual void finish() {}
};

std::unique_ptr<LiveView> make_terminal_dashboard(std::FILE* out, LiveHeader header);
// Leaves the dashboard's alternate screen and shows the cursor, if a
// dashboard holds the terminal; for paths that end the process without
// finish() (a run that does not stop after a signal). One write(2), no
// locks: callable from any thread.
void restore_terminal();
std::unique_ptr<LiveView> make_plain_progress(std::FILE* out, LiveHeader header);
std::unique_ptr<LiveView> make_ndjson_stream(std::FILE* out, LiveHeader header);

// One second of the run for the dashboard's trend lines.
struct TrendPoint {
  double rps = 0;     // requests per second
  double p99_ms = 0;  // windowed p99
};

// Renders one dashboard frame (exposed for tests): lines ending in '\n',
// none wider than WIDTH display columns (report/text_fit.h) — parts and
// table columns that do not fit are left out, from 60 columns up nothing
// essential is — and, when HEIGHT > 0, at most HEIGHT lines (the task
// table is cut with a "… N more tasks" line). `wall_elapsed_s` moves the
// clock and the progress bar between snapshots. `trend` (oldest first):
// the seconds so far, drawn as sparklines of the rate and p99 when there is
// room (their last seconds, as many as fit the width). A wide terminal
// gets wider task names and more task columns (error %, p95, max).
std::string render_dashboard(const LiveHeader& h, const metrics::Snapshot& s, double wall_elapsed_s,
                             int width, int height = 0, const std::vector<TrendPoint>& trend = {});

}  // namespace loadpilot::report
