#include "load/worker.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <boost/asio/post.hpp>

#include "http/request.h"

namespace loadpilot::load {

namespace {
constexpr auto kLateAfter = std::chrono::milliseconds(1);

std::uint64_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us > 0 ? static_cast<std::uint64_t>(us) : 0;
}
}  // namespace

Worker::Worker(const plan::Plan& plan, const Profile& profile, const http::Target& target,
               WorkerOptions options, std::function<void()> on_drained, ScriptedTasks* scripted)
    : profile_(profile),
      options_(options),
      on_drained_(std::move(on_drained)),
      timer_(io_),
      client_(io_, target,
              [&] {
                http::ClientOptions c = options.client;
                c.max_connections = options.max_connections;
                return c;
              }()),
      scripted_(scripted),
      recorder_(plan.tasks.size()),
      rng_(options.seed * 0x9E3779B97F4A7C15ULL + options.index),
      next_k_(options.index),
      unlimited_(plan.profile.unlimited) {
  double acc = 0;
  for (const plan::TaskSpec& t : plan.tasks) {
    python_.push_back(t.runtime == "python" && scripted_ != nullptr);
    const plan::HttpRequestSpec req = t.request.value_or(plan::HttpRequestSpec{});
    requests_.push_back(std::make_shared<const std::string>(
        http::build_request(target, req.method, req.path, req.headers, req.body)));
    head_.push_back(req.method == "HEAD");
    acc += t.weight;
    cumulative_weight_.push_back(acc);
  }
}

Worker::~Worker() {
  if (thread_.joinable()) {
    abort();
    thread_.join();
  }
}

void Worker::start(Clock::time_point t0) {
  t0_ = t0;
  end_ = t0 + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(profile_.total_s()));
  thread_ = std::thread([this] {
    // Named for top -H / perf: "lp-worker-N" (15 characters at most).
    pthread_setname_np(pthread_self(), fmt::format("lp-worker-{}", options_.index % 10000).c_str());
    if (unlimited_) {
      timer_.expires_at(t0_);
      timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || arrivals_done_) return;
        for (std::size_t i = 0; i < options_.max_connections; ++i) closed_loop_next();
      });
    } else {
      schedule_next();
    }
    // Keep running while timers or requests are pending; the work guard is
    // implicit in those outstanding operations.
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void Worker::report(std::function<void(metrics::WorkerReport&&)> sink) {
  boost::asio::post(io_, [this, sink = std::move(sink)] {
    metrics::WorkerReport r;
    r.stats = recorder_.take();
    r.in_flight = in_flight_;
    r.connections = client_.open_connections();
    sink(std::move(r));
  });
}

void Worker::stop_arrivals() {
  boost::asio::post(io_, [this] {
    arrivals_done_ = true;
    timer_.cancel();
    check_drained();
  });
}

void Worker::abort() {
  boost::asio::post(io_, [this] {
    aborted_ = true;
    arrivals_done_ = true;
    timer_.cancel();
    client_.close();
    io_.stop();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::scripted_done(std::size_t iterations_done) {
  boost::asio::post(io_, [this, iterations_done] {
    in_flight_ -= iterations_done;
    if (aborted_) return;
    if (unlimited_) {
      for (std::size_t i = 0; i < iterations_done; ++i) closed_loop_next();
    } else {
      check_drained();
    }
  });
}

double Worker::seconds_since_start(Clock::time_point t) const {
  return std::chrono::duration<double>(t - t0_).count();
}

void Worker::schedule_next() {
  if (arrivals_done_) return;
  const auto due = profile_.time_of(next_k_);
  if (!due) {
    arrivals_done_ = true;
    check_drained();
    return;
  }
  timer_.expires_at(
      t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*due)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_timer();
  });
}

void Worker::on_timer() {
  // Start every iteration that is due by now (more than one when the loop
  // fell behind), each stamped with its own intended time.
  const Clock::time_point now = Clock::now();
  while (!arrivals_done_) {
    const auto due = profile_.time_of(next_k_);
    if (!due) break;
    const Clock::time_point intended =
        t0_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*due));
    if (intended > now) break;
    next_k_ += options_.count;
    start_iteration(intended);
  }
  schedule_next();
}

std::uint32_t Worker::pick_task() {
  if (cumulative_weight_.size() == 1) return 0;
  std::uniform_real_distribution<double> dist(0.0, cumulative_weight_.back());
  const double x = dist(rng_);
  auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), x);
  return static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(
      it - cumulative_weight_.begin(), static_cast<std::ptrdiff_t>(cumulative_weight_.size()) - 1));
}

void Worker::start_iteration(Clock::time_point intended) {
  const std::uint32_t task = pick_task();
  if (python_[task]) {
    // The runtime counts it started (or dropped) when it assigns a VUser.
    ++in_flight_;
    scripted_->arrive(options_.index, task, intended);
    return;
  }
  if (client_.queued() >= options_.max_queue) {
    recorder_.record_dropped();
    return;
  }
  recorder_.record_started(Clock::now() - intended > kLateAfter);
  ++in_flight_;
  client_.send(requests_[task], head_[task], [this, task, intended](http::Result&& r) {
    on_result(task, intended, std::move(r));
  });
}

void Worker::closed_loop_next() {
  const Clock::time_point now = Clock::now();
  if (arrivals_done_ || now >= end_) {
    arrivals_done_ = true;
    check_drained();
    return;
  }
  start_iteration(now);
}

void Worker::on_result(std::uint32_t task, Clock::time_point intended, http::Result&& r) {
  --in_flight_;
  if (aborted_) return;
  const Clock::time_point done = r.done_at.time_since_epoch().count() ? r.done_at : Clock::now();
  const std::uint64_t latency = micros(done - intended);
  const std::uint64_t service =
      r.sent_at.time_since_epoch().count() ? micros(done - r.sent_at) : latency;
  std::string message;
  const std::optional<metrics::ErrorKind> error = http::failure_of(r, &message);
  const double now_s = seconds_since_start(done);
  recorder_.record_request(task, latency, service, error ? &*error : nullptr, message, now_s);
  recorder_.record_iteration(task, latency);
  if (unlimited_) {
    closed_loop_next();
  } else {
    check_drained();
  }
}

void Worker::check_drained() {
  if (arrivals_done_ && in_flight_ == 0 && !drained_sent_) {
    drained_sent_ = true;
    if (on_drained_) on_drained_();
  }
}

}  // namespace loadpilot::load
