#include "load/engine.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "load/scripted.h"
#include "load/worker.h"

namespace loadpilot::load {

namespace {

// The plan's http_version (validated: "auto", "1.1" or "2").
http::HttpVersion http_version_of(const plan::Plan& plan) {
  if (plan.http_version == "1.1") return http::HttpVersion::k1_1;
  if (plan.http_version == "2") return http::HttpVersion::k2;
  return http::HttpVersion::kAuto;
}

// The plan's side of a round's snapshot: where the run is on its curve
// and what the curve asks for now.
void describe_round(metrics::Snapshot& snap, const plan::Plan& plan, const Profile& profile,
                    double interval_s, double elapsed_s) {
  snap.elapsed_s = std::min(elapsed_s, profile.total_s());
  snap.total_s = profile.total_s();
  snap.phase = profile.phase_at(elapsed_s);
  // The target over the same second that current_rps covers, so the two
  // line up on a ramp or at a step edge instead of the target leading.
  snap.closed = plan.profile.closed();
  if (plan.profile.closed()) {
    // A closed model has no rate to aim at; its plan is the users curve
    // (user g is wanted while the curve is at least g + 1).
    snap.target_rps = 0;
    snap.target_users =
        elapsed_s < profile.total_s()
            ? static_cast<std::uint64_t>(std::floor(profile.rate_at(elapsed_s) + 1e-9))
            : 0;
  } else if (plan.profile.unlimited) {
    snap.target_rps = 0;
  } else if (interval_s >= 0.5) {
    // Rounded to a millionth so a constant profile reads exactly its rate,
    // not the last bits of the difference of two large integrals.
    const double avg =
        (profile.due_by(elapsed_s) - profile.due_by(elapsed_s - interval_s)) / interval_s;
    snap.target_rps = std::round(avg * 1e6) / 1e6;
  } else {
    snap.target_rps = profile.rate_at(elapsed_s);
  }
}

}  // namespace

std::size_t default_max_connections(const plan::Plan& plan) {
  if (plan.several()) {
    std::size_t n = 0;
    for (const plan::Plan& part : plan.scenarios) n += default_max_connections(part);
    return n;
  }
  if (plan.profile.unlimited) return 64;
  if (plan.profile.closed())
    return static_cast<std::size_t>(std::clamp(plan.profile.users, 8, 10000));
  const double peak = Profile::from_spec(plan.profile).peak_rate();
  return static_cast<std::size_t>(std::clamp(std::ceil(peak * 0.1), 8.0, 1000.0));
}

std::size_t default_max_queue(const plan::Plan& plan) {
  if (plan.several()) {
    std::size_t n = 0;
    for (const plan::Plan& part : plan.scenarios) n += default_max_queue(part);
    return n;
  }
  // A closed model's users each wait for at most one connection: room for
  // all of them, so none is ever dropped for want of a place in the queue.
  if (plan.profile.closed()) return std::max<std::size_t>(1000, 2 * plan.profile.users);
  const double peak = Profile::from_spec(plan.profile).peak_rate();
  return static_cast<std::size_t>(std::clamp(std::ceil(peak), 1000.0, 10000.0));
}

Engine::Engine(const plan::Plan& plan, const http::Target& target, EngineOptions options,
               ScriptedTasks* scripted)
    : plan_(plan),
      target_(target),
      options_(options),
      profile_(Profile::of(plan)),
      collector_([&] {
        std::vector<std::string> names;
        for (const plan::TaskSpec& t : plan.tasks) names.push_back(t.name);
        if (scripted != nullptr) {
          for (std::string& label : scripted->extra_labels()) names.push_back(std::move(label));
        }
        // A run of several: each scenario's runtime rows, after every task.
        for (std::size_t l = 0; l < options.scenario_runtimes.size() && l < plan.scenarios.size();
             ++l) {
          if (options.scenario_runtimes[l] == nullptr) continue;
          for (const std::string& label : options.scenario_runtimes[l]->extra_labels())
            names.push_back(plan.scenarios[l].name + "." + label);
        }
        for (const std::string& label : options.extra_labels) names.push_back(label);
        return names;
      }()),
      scripted_(scripted),
      inbox_(std::make_shared<Inbox>()),
      gate_(std::make_shared<Gate>()) {
  // Sending a Python task's (absent) request natively would be wrong traffic.
  for (std::size_t i = 0; i < plan.tasks.size(); ++i) {
    const plan::TaskSpec& t = plan.tasks[i];
    const std::size_t lane = plan.several() ? plan.task_home(i).first : 0;
    const bool given = plan.several() ? lane < options_.scenario_runtimes.size() &&
                                            options_.scenario_runtimes[lane] != nullptr
                                      : scripted_ != nullptr;
    if (t.runtime == "python" && !given && options_.agents == 0) {
      throw std::invalid_argument("task " + t.name +
                                  " runs in Python, but no Python runtime was given");
    }
  }
  worker_count_ =
      options_.workers ? options_.workers : std::max(1u, std::thread::hardware_concurrency());
  max_connections_ =
      options_.max_connections ? options_.max_connections : default_max_connections(plan);
  // Never more workers than connections: an idle worker with no connection
  // could not send anything. Nor, in a closed model, than this process's
  // users: a worker without one would have nothing to do.
  worker_count_ = std::min(worker_count_, max_connections_);
  if (plan.profile.closed() && options_.agents == 0) {
    const std::size_t users =
        share_of(static_cast<std::size_t>(plan.profile.users), options_.agent_index,
                 std::max<std::size_t>(1, options_.agent_count));
    worker_count_ = std::max<std::size_t>(1, std::min(worker_count_, users));
  }
  const std::size_t max_queue = options_.max_queue ? options_.max_queue : default_max_queue(plan);
  const auto on_drained = [this] {
    std::lock_guard lock(mu_);
    ++drained_;
    cv_.notify_all();
  };
  if (options_.agents > 0) {
    worker_count_ = options_.agents;
    for (std::size_t i = 0; i < options_.agents; ++i)
      workers_.push_back(options_.make_agent(i, on_drained));
    worker_lane_.assign(workers_.size(), metrics::WorkerReport::kNoLane);
    return;
  }
  if (plan.several()) {
    make_lane_workers(max_queue, on_drained);
    return;
  }
  for (std::size_t i = 0; i < worker_count_; ++i) {
    const WorkerOptions w = worker_options(plan_, i, worker_count_, max_connections_, max_queue,
                                           scripted_, options_.seed);
    auto worker = std::make_unique<Worker>(plan_, profile_, target_, w, on_drained, scripted_);
    local_.push_back(worker.get());
    workers_.push_back(std::move(worker));
  }
  worker_lane_.assign(workers_.size(), metrics::WorkerReport::kNoLane);
}

WorkerOptions Engine::worker_options(const plan::Plan& part, std::size_t i, std::size_t workers,
                                     std::size_t conns, std::size_t queue, ScriptedTasks* runtime,
                                     std::uint64_t seed) const {
  const std::size_t agents = std::max<std::size_t>(1, options_.agent_count);
  WorkerOptions w;
  // Agent a of A takes k mod A == a, whatever its worker count; its
  // worker i of W the k with k mod (A * W) == a + A * i.
  w.index = options_.agent_index + agents * i;
  w.count = agents * workers;
  w.local = i;  // as the runtime numbers its workers
  // Split connections and queue so the totals are what the user asked for.
  w.max_connections = share_of(conns, i, workers);
  w.max_queue = std::max<std::size_t>(1, queue / (workers * agents));
  w.client.timeout = options_.timeout;
  w.client.insecure = options_.insecure;
  w.client.http_version = http_version_of(part);
  w.client.max_streams = static_cast<std::uint32_t>(std::max(0, part.max_streams));
  w.seed = seed;
  w.make_sender = options_.make_sender;
  if (runtime != nullptr)
    w.python_capacity = std::max<std::size_t>(1, share_of(runtime->capacity(), i, workers));
  return w;
}

// Each scenario gets its share of the run's workers (at least one) and,
// unless --max-connections was given, the connections and queue its own
// plan would have alone; given, they are split evenly. Its workers split
// its schedule as a run of one splits the plan's (k mod count), so each
// scenario's share per worker and per agent is exact on its own.
void Engine::make_lane_workers(std::size_t max_queue_total,
                               const std::function<void()>& on_drained) {
  const std::size_t n = plan_.scenarios.size();
  const std::size_t agents = std::max<std::size_t>(1, options_.agent_count);
  std::size_t first = 0;
  std::size_t extras_at = plan_.tasks.size();
  for (std::size_t l = 0; l < n; ++l) {
    const plan::Plan& part = plan_.scenarios[l];
    ScriptedTasks* runtime =
        l < options_.scenario_runtimes.size() ? options_.scenario_runtimes[l] : nullptr;
    const std::vector<std::string> extra =
        runtime != nullptr ? runtime->extra_labels() : std::vector<std::string>{};
    lanes_.push_back(std::make_unique<Lane>(part, first, runtime, extra, extras_at));
    first += part.tasks.size();
    extras_at += extra.size();
  }
  const std::size_t cores = worker_count_;
  worker_count_ = 0;
  for (std::size_t l = 0; l < n; ++l) {
    const plan::Plan& part = lanes_[l]->plan;
    const std::size_t conns =
        options_.max_connections
            ? std::max<std::size_t>(1, share_of(options_.max_connections, l, n))
            : default_max_connections(part);
    const std::size_t queue = options_.max_queue
                                  ? std::max<std::size_t>(1, share_of(max_queue_total, l, n))
                                  : default_max_queue(part);
    std::size_t workers = std::min(std::max<std::size_t>(1, share_of(cores, l, n)), conns);
    if (part.profile.closed())
      workers = std::max<std::size_t>(
          1, std::min(workers, share_of(static_cast<std::size_t>(part.profile.users),
                                        options_.agent_index, agents)));
    Lane& lane = *lanes_[l];
    lane.max_connections = conns;
    for (std::size_t i = 0; i < workers; ++i) {
      // Its own seed, so that two scenarios' random choices differ.
      const WorkerOptions w =
          worker_options(part, i, workers, conns, queue, lane.scripted, options_.seed + l);
      auto worker =
          std::make_unique<Worker>(part, lane.profile, target_, w, on_drained, lane.scripted);
      local_.push_back(worker.get());
      lane.workers.push_back(worker.get());
      workers_.push_back(std::move(worker));
      worker_lane_.push_back(l);
    }
    worker_count_ += workers;
  }
}

void Engine::close_gate() {
  std::lock_guard lock(gate_->mu);
  gate_->open = false;
}

std::vector<ScriptedTasks*> Engine::runtimes() const {
  std::vector<ScriptedTasks*> out;
  if (scripted_ != nullptr) out.push_back(scripted_);
  for (const auto& lane : lanes_)
    if (lane->scripted != nullptr) out.push_back(lane->scripted);
  return out;
}

std::vector<std::string> Engine::row_scenarios() const {
  std::vector<std::string> out;
  if (lanes_.empty()) return out;
  out.resize(collector_.task_names().size());
  for (const auto& lane : lanes_) {
    const std::size_t rows = lane->collector.task_names().size();
    for (std::size_t r = 0; r < rows; ++r)
      if (lane->run_row(r) < out.size()) out[lane->run_row(r)] = lane->plan.name;
  }
  return out;
}

Engine::~Engine() {
  close_gate();
  for (ScriptedTasks* s : runtimes()) s->abort();
  for (auto& w : workers_) w->abort();
  for (auto& w : workers_) w->join();
}

void Engine::stop() {
  std::lock_guard lock(mu_);
  ++stop_requests_;
  cv_.notify_all();
}

void Engine::stop(std::chrono::milliseconds max_drain) {
  std::lock_guard lock(mu_);
  stop_drain_ = std::min(max_drain, stop_drain_.value_or(max_drain));
  ++stop_requests_;
  cv_.notify_all();
}

namespace {

// LOADPILOT_ROUND_TIMING=1 (bench/distributed.sh): one stderr line per
// round with how long after the previous one it came and how long
// gathering and merging its reports took; a coordinator of many agents is
// measured by it. Off, it costs one branch a second.
const bool kRoundTiming = std::getenv("LOADPILOT_ROUND_TIMING") != nullptr;

// This thread's CPU time, ms.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void say_round_timing(std::uint64_t round, double interval_s,
                      std::chrono::steady_clock::time_point began,
                      std::chrono::steady_clock::time_point gathered, std::size_t reports,
                      std::uint64_t started, double cpu_began_ms) {
  const auto took = std::chrono::steady_clock::now() - began;
  const auto gathering = gathered - began;
  fmt::print(
      stderr,
      "round-timing: round {} after {:.3f} s: {} reports, {} started, merged in {:.3f} ms "
      "(gathered in {:.3f} ms; {:.3f} ms of CPU)\n",
      round, interval_s, reports, started, std::chrono::duration<double, std::milli>(took).count(),
      std::chrono::duration<double, std::milli>(gathering).count(), thread_cpu_ms() - cpu_began_ms);
  std::fflush(stderr);
}

// A report of measurements alone (no in-flight counts).
metrics::WorkerReport stats_report(metrics::IntervalStats stats) {
  metrics::WorkerReport r;
  r.stats = std::move(stats);
  return r;
}

}  // namespace

struct Engine::Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<metrics::WorkerReport> reports;  // not yet merged
  std::uint64_t round = 0;                     // the round being collected
  std::size_t answered = 0;                    // answers to that round
};

metrics::Snapshot Engine::collect(double interval_s, double elapsed_s) {
  const auto began = std::chrono::steady_clock::now();
  const double cpu_began_ms = kRoundTiming ? thread_cpu_ms() : 0;
  std::shared_ptr<Inbox> inbox = inbox_;
  std::uint64_t round = 0;
  {
    std::lock_guard lock(inbox->mu);
    round = ++inbox->round;
    inbox->answered = 0;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const std::size_t lane = worker_lane_[i];
    workers_[i]->report([inbox, round, lane](metrics::WorkerReport&& r) {
      if (lane != metrics::WorkerReport::kNoLane) r.lane = lane;
      std::lock_guard lock(inbox->mu);
      inbox->reports.push_back(std::move(r));
      if (inbox->round == round) ++inbox->answered;
      inbox->cv.notify_all();
    });
  }
  std::vector<metrics::WorkerReport> reports;
  {
    // A source that is stuck or gone does not answer; do not wait for it
    // forever. What it sends later is merged into a later round.
    std::unique_lock lock(inbox->mu);
    inbox->cv.wait_for(lock, std::chrono::seconds(2),
                       [&] { return inbox->answered >= workers_.size(); });
    reports.swap(inbox->reports);
  }
  if (options_.take_merged) reports.push_back(stats_report(options_.take_merged()));
  const auto gathered = std::chrono::steady_clock::now();
  if (scripted_) {
    metrics::WorkerReport r;
    r.stats = scripted_->take();
    r.connections = scripted_->open_connections();
    reports.push_back(std::move(r));
  }
  // The scenarios' Python threads share one interpreter lock: the run's
  // Python CPU is theirs summed (each scenario's own is its thread's).
  double python_cpu = 0;
  for (std::size_t l = 0; l < lanes_.size(); ++l) {
    if (lanes_[l]->scripted == nullptr) continue;
    metrics::WorkerReport r;
    r.stats = lanes_[l]->scripted->take();
    python_cpu += r.stats.python_cpu;
    r.connections = lanes_[l]->scripted->open_connections();
    r.lane = l;
    reports.push_back(std::move(r));
  }
  if (python_cpu > 0) {
    reports.push_back(stats_report(metrics::IntervalStats()));
    reports.back().stats.python_cpu = std::min(1.0, python_cpu);
  }
  // The process's and machine's share of the generator's health
  // (metrics::IntervalStats): one more report, with no requests.
  const HostUsage::Sample host = host_.sample();
  reports.push_back(stats_report(metrics::IntervalStats()));
  reports.back().stats.cpu = host.cpu;
  reports.back().stats.steal = host.steal;
  std::string notice;
  for (const metrics::WorkerReport& r : reports)
    if (!r.notice.empty()) notice += (notice.empty() ? "" : "; ") + r.notice;
  std::uint64_t started = 0;
  if (kRoundTiming)
    for (const metrics::WorkerReport& r : reports) started += r.stats.iterations_started;
  std::vector<metrics::Snapshot> lanes = collect_lanes(reports, interval_s, elapsed_s);
  metrics::Snapshot snap = collector_.add_round(reports, interval_s);
  snap.scenarios = std::move(lanes);
  if (kRoundTiming)
    say_round_timing(round, interval_s, began, gathered, reports.size(), started, cpu_began_ms);
  snap.notice = std::move(notice);
  if (options_.agents == 0) snap.generator.cores = host_.cores();
  describe_round(snap, plan_, profile_, interval_s, elapsed_s);
  if (!snap.scenarios.empty()) {
    // The run's plan is the sum of its scenarios'.
    snap.target_rps = 0;
    snap.target_users = 0;
    for (const metrics::Snapshot& part : snap.scenarios) {
      snap.target_rps += part.target_rps;
      snap.target_users += part.target_users;
    }
    snap.phase = "running";
  }
  return snap;
}

std::vector<metrics::Snapshot> Engine::collect_lanes(std::vector<metrics::WorkerReport>& reports,
                                                     double interval_s, double elapsed_s) {
  std::vector<metrics::Snapshot> out;
  if (lanes_.empty()) return out;
  std::vector<std::vector<metrics::WorkerReport>> by_lane(lanes_.size());
  for (metrics::WorkerReport& r : reports) {
    if (r.lane >= lanes_.size()) continue;
    by_lane[r.lane].push_back(r);
    // The run's collector counts it under the run's rows: its tasks at
    // their offset, its runtime's extra rows where the run keeps them.
    const Lane& lane = *lanes_[r.lane];
    std::vector<metrics::TaskStats> rows;
    for (std::size_t i = 0; i < r.stats.tasks.size(); ++i) {
      const std::size_t to = lane.run_row(i);
      if (rows.size() <= to) rows.resize(to + 1);
      rows[to] = std::move(r.stats.tasks[i]);
    }
    r.stats.tasks = std::move(rows);
    for (metrics::NamedStats& n : r.stats.named)
      n.task = static_cast<std::uint32_t>(lane.run_row(n.task));
  }
  for (std::size_t l = 0; l < lanes_.size(); ++l) {
    Lane& lane = *lanes_[l];
    metrics::Snapshot part = lane.collector.add_round(by_lane[l], interval_s);
    describe_round(part, lane.plan, lane.profile, interval_s, elapsed_s);
    part.scenario = lane.plan.name;
    out.push_back(std::move(part));
  }
  return out;
}

void Engine::start_scripted(Clock::time_point t0) {
  if (scripted_) start_runtime(scripted_, plan_, profile_, local_, max_connections_, t0);
  for (const auto& lane : lanes_)
    if (lane->scripted)
      start_runtime(lane->scripted, lane->plan, lane->profile, lane->workers, lane->max_connections,
                    t0);
}

void Engine::start_runtime(ScriptedTasks* runtime, const plan::Plan& plan, const Profile& profile,
                           std::vector<Worker*> workers, std::size_t max_connections,
                           Clock::time_point t0) {
  ScriptedLink link;
  link.t0 = t0;
  link.arrivals_end = t0 + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(profile.total_s()));
  link.workers = workers.size();
  link.client.max_connections = max_connections;
  link.client.timeout = options_.timeout;
  link.client.insecure = options_.insecure;
  link.client.http_version = http_version_of(plan);
  link.client.max_streams = static_cast<std::uint32_t>(std::max(0, plan.max_streams));
  link.client.keep_response = true;
  // The runtime's thread may call these after run() returned, or after
  // this Engine is gone (its last flush races with the end): the gate,
  // shared with them, turns them into no-ops once close_gate() ran.
  std::shared_ptr<Gate> gate = gate_;
  link.dispatch = [gate, workers = std::move(workers)](std::size_t w, std::size_t iterations_done,
                                                       std::vector<std::uint32_t> users) {
    std::lock_guard lock(gate->mu);
    if (gate->open) workers[w % workers.size()]->scripted_done(iterations_done, std::move(users));
  };
  link.finished = [this, gate] {
    std::lock_guard g(gate->mu);
    if (!gate->open) return;
    std::lock_guard lock(mu_);
    ++scripted_finished_;
    cv_.notify_all();
  };
  link.stop_run = [this, gate] {
    std::lock_guard g(gate->mu);
    if (gate->open) stop();
  };
  runtime->start(std::move(link));
}

std::chrono::steady_clock::time_point Engine::on_stop_request(int stops_seen,
                                                              Clock::time_point drain_deadline) {
  if (stops_seen > 1) return Clock::now();  // a second signal also skips on_stop
  for (ScriptedTasks* s : runtimes()) s->stop_arrivals();
  for (auto& w : workers_) w->stop_arrivals();
  return std::min(drain_deadline,
                  Clock::now() + std::min(options_.drain, stop_drain_.value_or(options_.drain)));
}

std::chrono::steady_clock::time_point Engine::start_finish(bool workers_drained,
                                                           Clock::time_point drain_deadline,
                                                           Clock::time_point now) {
  // on_stop gets what is left of the drain time (at least a second).
  const Clock::time_point deadline = std::max(drain_deadline, now + std::chrono::seconds(1));
  if (!workers_drained) {
    // Iterations still running are cut off now; on_stop runs anyway.
    for (ScriptedTasks* s : runtimes()) s->stop_arrivals();
    for (auto& w : workers_) w->cut_off();
  }
  for (ScriptedTasks* s : runtimes()) s->finish(deadline);
  return deadline + std::chrono::milliseconds(200);
}

RunOutcome Engine::run(const std::function<void(const metrics::Snapshot&)>& on_snapshot) {
  RunOutcome out;
  const Clock::time_point t0 =
      options_.start_at.value_or(Clock::now() + std::chrono::milliseconds(20));
  const std::vector<ScriptedTasks*> scripted = runtimes();
  start_scripted(t0);
  for (auto& w : workers_) w->start(t0);

  Clock::time_point last_round = t0;
  // A coordinator's rounds come a quarter second after its agents' (which
  // share t0), so each round holds each agent's latest frame.
  Clock::time_point next_round =
      t0 + std::chrono::seconds(1) +
      (options_.agents ? std::chrono::milliseconds(250) : std::chrono::milliseconds(0));
  // The run ends by the drain deadline whatever the target does: the
  // profile's end plus one drain, or the first stop() plus one drain
  // (docs/engine.md#the-end-of-a-run). Then what is in flight is cut off.
  const Clock::time_point profile_end = t0 + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(profile_.total_s()));
  Clock::time_point drain_deadline = profile_end + options_.drain;
  int stops_seen = 0;
  // With a scripted runtime the run ends after its finish() (on_stop), which
  // starts once the workers drained or the drain time ran out.
  bool finish_sent = scripted.empty();
  const auto scripted_done = [&] { return scripted_finished_ >= scripted.size(); };
  for (;;) {
    bool all_drained = false;
    bool workers_drained = false;
    {
      std::unique_lock lock(mu_);
      const Clock::time_point wake = std::min(next_round, drain_deadline);
      cv_.wait_until(lock, wake, [&] {
        const bool drained = drained_ == workers_.size();
        return stop_requests_ != stops_seen || (drained && !finish_sent) ||
               (drained && scripted_done());
      });
      workers_drained = drained_ == workers_.size();
      all_drained = workers_drained && scripted_done();
      if (stop_requests_ != stops_seen) {
        stops_seen = stop_requests_;
        out.interrupted = true;
        drain_deadline = on_stop_request(stops_seen, drain_deadline);
      }
    }
    Clock::time_point now = Clock::now();
    if (!finish_sent && (workers_drained || now >= drain_deadline) && stops_seen < 2) {
      finish_sent = true;
      drain_deadline = start_finish(workers_drained, drain_deadline, now);
      continue;
    }
    const bool finishing = all_drained || now >= drain_deadline;
    if (now >= next_round || finishing) {
      const double interval = std::chrono::duration<double>(now - last_round).count();
      const double elapsed = std::chrono::duration<double>(now - t0).count();
      if (finishing) {
        // What is still in flight is counted as cut off; the final round
        // below collects those counts.
        for (auto& w : workers_) w->cut_off();
        for (ScriptedTasks* s : scripted) s->abort();
      }
      metrics::Snapshot snap = collect(interval, elapsed);
      last_round = now;
      next_round += std::chrono::seconds(1);
      if (next_round < now) next_round = now + std::chrono::seconds(1);
      if (finishing) {
        out.duration_s = std::max(0.0, elapsed);
        out.final_snapshot = snap;
        on_snapshot(snap);
        break;
      }
      on_snapshot(snap);
    }
  }
  close_gate();
  for (auto& w : workers_) w->abort();
  for (auto& w : workers_) w->join();
  return out;
}

}  // namespace loadpilot::load
