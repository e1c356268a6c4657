#include "load/engine.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "load/worker.h"

namespace loadpilot::load {

namespace {
double peak_rate(const Profile& profile) {
  double peak = 0;
  for (const Segment& s : profile.segments()) peak = std::max({peak, s.rate_start, s.rate_end});
  return peak;
}
}  // namespace

std::size_t default_max_connections(const plan::Plan& plan) {
  if (plan.profile.unlimited) return 64;
  const double peak = peak_rate(Profile::from_spec(plan.profile));
  return static_cast<std::size_t>(std::clamp(std::ceil(peak * 0.1), 8.0, 1000.0));
}

std::size_t default_max_queue(const plan::Plan& plan) {
  const double peak = peak_rate(Profile::from_spec(plan.profile));
  return static_cast<std::size_t>(std::max(1000.0, std::ceil(peak * 5)));
}

Engine::Engine(const plan::Plan& plan, const http::Target& target, EngineOptions options)
    : plan_(plan),
      target_(target),
      options_(options),
      profile_(Profile::from_spec(plan.profile)),
      collector_([&] {
        std::vector<std::string> names;
        for (const plan::TaskSpec& t : plan.tasks) names.push_back(t.name);
        return names;
      }()) {
  worker_count_ = options_.workers ? options_.workers
                                   : std::max(1u, std::thread::hardware_concurrency());
  max_connections_ =
      options_.max_connections ? options_.max_connections : default_max_connections(plan);
  // Never more workers than connections: an idle worker with no connection
  // could not send anything.
  worker_count_ = std::min(worker_count_, max_connections_);
  const std::size_t max_queue = options_.max_queue ? options_.max_queue : default_max_queue(plan);
  for (std::size_t i = 0; i < worker_count_; ++i) {
    WorkerOptions w;
    w.index = i;
    w.count = worker_count_;
    // Split connections and queue so the totals are what the user asked for.
    w.max_connections = max_connections_ / worker_count_ + (i < max_connections_ % worker_count_);
    w.max_queue = std::max<std::size_t>(1, max_queue / worker_count_);
    w.client.timeout = options_.timeout;
    w.client.insecure = options_.insecure;
    w.seed = options_.seed;
    workers_.push_back(std::make_unique<Worker>(plan_, profile_, target_, w, [this] {
      std::lock_guard lock(mu_);
      ++drained_;
      cv_.notify_all();
    }));
  }
}

Engine::~Engine() {
  for (auto& w : workers_) w->abort();
  for (auto& w : workers_) w->join();
}

void Engine::stop() {
  std::lock_guard lock(mu_);
  ++stop_requests_;
  cv_.notify_all();
}

metrics::Snapshot Engine::collect(double interval_s, double elapsed_s) {
  std::vector<metrics::WorkerReport> reports;
  reports.reserve(workers_.size());
  std::mutex m;
  std::condition_variable done;
  for (auto& w : workers_) {
    w->report([&](metrics::WorkerReport&& r) {
      std::lock_guard lock(m);
      reports.push_back(std::move(r));
      done.notify_one();
    });
  }
  {
    // A worker that was aborted stops answering; do not wait for it forever.
    std::unique_lock lock(m);
    done.wait_for(lock, std::chrono::seconds(2), [&] { return reports.size() == workers_.size(); });
  }
  std::lock_guard lock(m);
  metrics::Snapshot snap = collector_.add_round(reports, interval_s);
  snap.elapsed_s = std::min(elapsed_s, profile_.total_s());
  snap.total_s = profile_.total_s();
  snap.phase = profile_.phase_at(elapsed_s);
  snap.target_rps = plan_.profile.unlimited ? 0 : profile_.rate_at(elapsed_s);
  return snap;
}

RunOutcome Engine::run(const std::function<void(const metrics::Snapshot&)>& on_snapshot) {
  RunOutcome out;
  const Clock::time_point t0 = Clock::now() + std::chrono::milliseconds(20);
  for (auto& w : workers_) w->start(t0);

  Clock::time_point last_round = t0;
  Clock::time_point next_round = t0 + std::chrono::seconds(1);
  Clock::time_point drain_deadline = Clock::time_point::max();
  int stops_seen = 0;
  bool aborted = false;
  for (;;) {
    bool all_drained = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::min(next_round, drain_deadline), [&] {
        return stop_requests_ != stops_seen || drained_ == workers_.size();
      });
      all_drained = drained_ == workers_.size();
      if (stop_requests_ != stops_seen) {
        stops_seen = stop_requests_;
        out.interrupted = true;
        if (stops_seen == 1) {
          for (auto& w : workers_) w->stop_arrivals();
          drain_deadline = Clock::now() + options_.drain;
        } else {
          drain_deadline = Clock::now();
        }
      }
    }
    const Clock::time_point now = Clock::now();
    const bool finishing = all_drained || now >= drain_deadline;
    if (now >= next_round || finishing) {
      const double interval = std::chrono::duration<double>(now - last_round).count();
      const double elapsed = std::chrono::duration<double>(now - t0).count();
      if (finishing && !all_drained) {
        // Drain time is up: abandon what is still in flight.
        for (auto& w : workers_) w->stop_arrivals();
        aborted = true;
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
  (void)aborted;
  for (auto& w : workers_) w->abort();
  for (auto& w : workers_) w->join();
  return out;
}

}  // namespace loadpilot::load
