#include "load/worker.h"

#include <fmt/format.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>

#include "http/http2_session.h"

namespace loadpilot::load {

namespace {
constexpr auto kLateAfter = std::chrono::milliseconds(1);
constexpr auto kOverloadTick = std::chrono::milliseconds(1);

std::uint64_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us > 0 ? static_cast<std::uint64_t>(us) : 0;
}

// CPU time of the calling thread.
std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

Clock::time_point at(Clock::time_point t0, double seconds) {
  return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}
// A closed loop ("max") keeps every slot busy: a connection over HTTP/1.1,
// a stream over HTTP/2 (docs/protocols.md#streams-and-connections). HTTP/2
// is known here only as asked for, before any server answered: an https
// target in auto mode counts as HTTP/2.
std::size_t closed_loop_slots(const WorkerOptions& o, const http::Target& target) {
  const std::size_t conns = std::max<std::size_t>(1, o.max_connections);
  const bool h2 = o.client.http_version == http::HttpVersion::k2 ||
                  (o.client.http_version == http::HttpVersion::kAuto && target.tls());
  if (!h2) return conns;
  return conns *
         (o.client.max_streams ? o.client.max_streams : http::Http2Session::kDefaultMaxStreams);
}
}  // namespace

Worker::Worker(const plan::Plan& plan, const Profile& profile, const http::Target& target,
               WorkerOptions options, std::function<void()> on_drained, ScriptedTasks* scripted)
    : profile_(profile),
      options_(std::move(options)),
      pacer_(make_pacer(plan, profile, options_.index, options_.count,
                        closed_loop_slots(options_, target), options_.seed)),
      on_drained_(std::move(on_drained)),
      timer_(io_),
      probe_(io_),
      scripted_(scripted),
      recorder_(plan.tasks.size()),
      rng_(options_.seed * 0x9E3779B97F4A7C15ULL + options_.index) {
  options_.max_connections = std::max<std::size_t>(1, options_.max_connections);
  if (options_.make_sender) {
    sender_ = options_.make_sender(io_, options_.index);
  } else {
    http::ClientOptions c = options_.client;
    c.max_connections = options_.max_connections;
    sender_ = make_http_sender(io_, plan, target, c);
  }
  double acc = 0;
  for (const plan::TaskSpec& t : plan.tasks) {
    const bool python = t.runtime == "python" && scripted_ != nullptr;
    python_.push_back(python);
    named_.push_back(!python && t.request && !t.request->name.empty()
                         ? recorder_.named_row(named_.size(), t.request->name)
                         : metrics::Recorder::kNotNamed);
    (python ? has_python_ : has_native_) = true;
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
  end_ = at(t0, profile_.total_s());
  pacer_->start(t0);
  thread_ = std::thread([this] {
    // Named for top -H / perf: "lp-worker-N" (15 characters at most).
    pthread_setname_np(pthread_self(), fmt::format("lp-worker-{}", options_.index % 10000).c_str());
    cpu_at_report_ = thread_cpu();
    wall_at_report_ = Clock::now();
    run_queue_.sample(wall_at_report_);
    arm_probe();
    schedule_next();
    // Keep running while timers or requests are pending; the work guard is
    // implicit in those outstanding operations.
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void Worker::report(std::function<void(metrics::WorkerReport&&)> sink) {
  boost::asio::post(io_, [this, sink = std::move(sink)] {
    const auto cpu = thread_cpu();
    const Clock::time_point now = Clock::now();
    const double wall = std::chrono::duration<double>(now - wall_at_report_).count();
    if (wall > 0)
      recorder_.record_busy(std::chrono::duration<double>(cpu - cpu_at_report_).count() / wall);
    cpu_at_report_ = cpu;
    wall_at_report_ = now;
    if (const auto wait = run_queue_.sample(now)) recorder_.record_cpu_wait(*wait);
    metrics::WorkerReport r;
    r.stats = recorder_.take();
    r.in_flight = native_in_flight_ + python_in_flight_ + queue_.size();
    r.active_users = pacer_->active_users(now, r.in_flight);
    r.connections = sender_->open_connections();
    r.connections_busy = std::min(sender_->busy(), sender_->capacity());
    r.send_queue = queue_.size();
    sink(std::move(r));
  });
}

void Worker::arm_probe() {
  const Clock::time_point due = Clock::now() + kProbePeriod;
  probe_.expires_at(due);
  probe_.async_wait([this, due](const boost::system::error_code& ec) {
    if (ec || aborted_) return;
    const Clock::time_point now = Clock::now();
    recorder_.record_lag(std::chrono::duration<double, std::milli>(now - due).count(),
                         std::max(0.0, seconds_since_start(now)));
    arm_probe();
  });
}

void Worker::stop_arrivals() {
  boost::asio::post(io_, [this] {
    end_arrivals(true);
    check_drained();
  });
}

void Worker::cut_off() {
  boost::asio::post(io_, [this] {
    end_arrivals(true);
    if (!cut_) {
      cut_ = true;
      recorder_.record_cut_off(native_in_flight_);
    }
  });
}

void Worker::abort() {
  boost::asio::post(io_, [this] {
    aborted_ = true;
    arrivals_done_ = true;
    timer_.cancel();
    probe_.cancel();
    sender_->close();
    io_.stop();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::scripted_done(std::size_t iterations_done, std::vector<std::uint32_t> users) {
  boost::asio::post(io_, [this, iterations_done, users = std::move(users)] {
    python_in_flight_ -= std::min<std::uint64_t>(python_in_flight_, iterations_done);
    if (aborted_) return;
    if (!users.empty()) {
      const Clock::time_point now = Clock::now();
      for (std::uint32_t user : users) pacer_->ended(user, now);
      if (!arrivals_done_) {
        start_due(now);
        schedule_next();
      }
    }
    check_drained();
  });
}

double Worker::seconds_since_start(Clock::time_point t) const {
  return std::chrono::duration<double>(t - t0_).count();
}

// No new arrival is taken from the pacer. At the profile's natural end the
// arrivals already waiting for a connection may still start during the
// drain (they were due within the profile); on a stop or at the cut-off
// they are dropped (they never went on the wire).
void Worker::end_arrivals(bool drop_queue) {
  arrivals_done_ = true;
  timer_.cancel();
  armed_ = Clock::time_point::max();
  pacer_->stop();
  if (drop_queue && !queue_.empty()) {
    recorder_.record_dropped(queue_.size());
    queue_.clear();
  }
}

// Arms the timer for the pacer's next arrival (or the profile's end), unless
// it is armed for that or sooner already: an ended closed-model iteration
// may bring a user's next start forward, and re-arming on every result
// would cost a timer operation per request.
void Worker::schedule_next() {
  if (arrivals_done_) return;
  const auto due = pacer_->next_due();
  Clock::time_point when = due ? std::min(*due, end_) : end_;
  // Overloaded (nothing can take an arrival): look again in a millisecond
  // rather than at every next arrival, microseconds apart; what comes due
  // meanwhile is dropped in one step then, and connections freed in
  // between take waiting arrivals from the queue.
  if (due && !can_take_any()) when = std::max(when, Clock::now() + kOverloadTick);
  if (when >= armed_) return;
  armed_ = when;
  timer_.expires_at(when);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    armed_ = Clock::time_point::max();
    on_timer();
  });
}

bool Worker::can_take_any() const {
  const bool native =
      has_native_ && (sender_->busy() < sender_->capacity() || queue_.size() < options_.max_queue);
  // A closed model's user waits for its VUser rather than be dropped.
  const bool python =
      has_python_ && (!pacer_->drops_when_busy() || python_in_flight_ < options_.python_capacity);
  return native || python;
}

// Counts every arrival of this worker due by `now` as dropped, in one step,
// and returns how many: the overload path, where nothing could take them.
std::uint64_t Worker::drop_due_by(Clock::time_point now) {
  const std::uint64_t n = pacer_->drop_due_by(now);
  if (n == 0) return 0;
  if (has_python_ && !has_native_) {
    for (std::uint64_t i = 0; i < n; ++i) recorder_.record_dropped_no_vuser();
  } else {
    recorder_.record_dropped(n);
  }
  return n;
}

void Worker::on_timer() {
  const Clock::time_point now = Clock::now();
  if (now >= end_) {
    // The profile is over. Arrivals it had due that the loop reaches only
    // now (a busy machine held it a few ms) start, late, as they would
    // have mid-run; start_due() drops what cannot be taken and starts
    // nothing due after the end.
    start_due(now);
    end_arrivals(false);
    check_drained();
    return;
  }
  start_due(now);
  schedule_next();
}

// Starts every iteration that is due by now (more than one when the loop
// fell behind), each stamped with its own intended time. Only arrivals
// due within the profile: a closed user that comes due after its end
// (its iteration ended just before the end timer ran) does not start.
void Worker::start_due(Clock::time_point now) {
  const Clock::time_point due_by = std::min(now, end_);
  while (!arrivals_done_) {
    if (!can_take_any()) {
      if (drop_due_by(due_by) > 0) continue;
      // A closed model's users wait for room (schedule_next looks again
      // in a millisecond); they are never due faster than they end.
      if (!pacer_->drops_when_busy()) break;
    }
    const std::optional<Arrival> a = pacer_->take(due_by);
    if (!a) break;
    start_iteration(*a, now);
  }
}

std::uint32_t Worker::pick_task() {
  if (cumulative_weight_.size() == 1) return 0;
  std::uniform_real_distribution<double> dist(0.0, cumulative_weight_.back());
  const double x = dist(rng_);
  auto it = std::upper_bound(cumulative_weight_.begin(), cumulative_weight_.end(), x);
  return static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(
      it - cumulative_weight_.begin(), static_cast<std::ptrdiff_t>(cumulative_weight_.size()) - 1));
}

void Worker::start_iteration(const Arrival& a, Clock::time_point now) {
  if (a.pacing_late) recorder_.record_pacing_late();
  const std::uint32_t task = pick_task();
  if (python_[task]) {
    if (pacer_->drops_when_busy() && python_in_flight_ >= options_.python_capacity) {
      recorder_.record_dropped_no_vuser();
      return;
    }
    // The runtime counts it started (or dropped) when it assigns a VUser.
    ++python_in_flight_;
    scripted_->arrive(options_.local, task, a.intended, a.user);
    return;
  }
  const Queued q{task, a.intended, a.user};
  if (queue_.empty() && sender_->busy() < sender_->capacity()) {
    send(q, now);
  } else if (queue_.size() < options_.max_queue) {
    queue_.push_back(q);
  } else {
    recorder_.record_dropped();
    pacer_->ended(a.user, now);
  }
}

void Worker::send(const Queued& q, Clock::time_point now) {
  recorder_.record_started(now - q.intended > kLateAfter);
  recorder_.note_start(seconds_since_start(now));
  ++native_in_flight_;
  sender_->send(q.task, [this, q](http::Result&& r) { on_result(q, std::move(r)); });
}

// Hands waiting arrivals to connections that became free, oldest first.
// An arrival that already waited longer than the request timeout is
// dropped instead: it could only be a timeout by the time it got a
// connection, and a queue of them would hold the run minutes behind.
void Worker::send_queued() {
  if (queue_.empty()) return;
  const Clock::time_point now = Clock::now();
  while (!queue_.empty() && sender_->busy() < sender_->capacity()) {
    const Queued q = queue_.front();
    queue_.pop_front();
    if (now - q.intended > options_.client.timeout) {
      recorder_.record_dropped();
      pacer_->ended(q.user, now);
      continue;
    }
    send(q, now);
  }
}

void Worker::on_result(const Queued& q, http::Result&& r) {
  --native_in_flight_;
  if (aborted_ || cut_) return;
  const Clock::time_point done = r.done_at.time_since_epoch().count() ? r.done_at : Clock::now();
  const std::uint64_t latency = micros(done - q.intended);
  const std::uint64_t service =
      r.sent_at.time_since_epoch().count() ? micros(done - r.sent_at) : latency;
  std::string message;
  const std::optional<metrics::ErrorKind> error = http::failure_of(r, &message);
  const double now_s = seconds_since_start(done);
  recorder_.record_request(q.task, latency, service, error ? &*error : nullptr, message, now_s,
                           named_[q.task]);
  recorder_.record_response(metrics::response_class(r.status, !r.error), r.bytes_sent,
                            r.bytes_received, r.http_version == 20);
  // One request per native iteration: each that ends reached the wire.
  recorder_.record_iteration(q.task, latency, true);
  if (r.retries) recorder_.record_retries(r.retries);
  send_queued();
  if (q.user != kNoUser) {
    // A closed model's user goes on: it thinks from the response's end,
    // or starts again at once.
    pacer_->ended(q.user, done);
    if (!arrivals_done_) {
      start_due(Clock::now());
      schedule_next();
    }
  }
  check_drained();
}

void Worker::check_drained() {
  if (arrivals_done_ && native_in_flight_ == 0 && python_in_flight_ == 0 && queue_.empty() &&
      !drained_sent_) {
    drained_sent_ = true;
    if (on_drained_) on_drained_();
  }
}

}  // namespace loadpilot::load
