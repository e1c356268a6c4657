// VUserRuntime and its Hub: the C++ half of the Python VUser runtime. The
// scheduling of VUsers (pool, on_start/on_stop, checks, greenlets and
// coroutines) is Python, in cli/loadpilot/_runtime.py; this file moves
// arrivals and iteration ends between that thread and the workers, and runs
// that thread's own HTTP client and its requests' accounting.
#include "scenario/vuser_runtime.h"

#include <pthread.h>
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "grpc/framing.h"
#include "http/ascii.h"
#include "http/request.h"
#include "load/pacer.h"
#include "scenario/loader.h"
#include "scenario/script_metrics.h"
#include "scenario/websocket_hub.h"

namespace py = pybind11;

namespace loadpilot::scenario {

using Clock = std::chrono::steady_clock;

// Started more than this after it was due: "late", as for native arrivals.
constexpr std::int64_t kLateUs = 1000;
// How long the Python thread gets to end after the run before the process
// gives up on it (at once when the watchdog found it blocked).
constexpr std::chrono::seconds kStopGrace{5};

namespace {

// Response headers as Python text: UTF-8, or, when a server sent bytes that
// are not (a Latin-1 Location, say), Latin-1, which takes any byte. Never
// fails, so one odd header cannot stop the run (docs/scenarios.md#loadclient).
py::str header_text(const std::string& packed) {
  PyObject* text =
      PyUnicode_DecodeUTF8(packed.data(), static_cast<Py_ssize_t>(packed.size()), nullptr);
  if (text == nullptr) {
    PyErr_Clear();
    text = PyUnicode_DecodeLatin1(packed.data(), static_cast<Py_ssize_t>(packed.size()), nullptr);
    if (text == nullptr) throw py::error_already_set();
  }
  return py::reinterpret_steal<py::str>(text);
}

}  // namespace

struct VUserRuntime::Hub {
  enum class Type : std::uint8_t { kArrive, kDone, kFinish, kAbort };
  struct Event {
    explicit Event(Type t) : type(t) {}
    Type type;
    std::uint32_t task = 0;
    std::uint32_t worker = 0;
    std::uint32_t user = load::kNoUser;  // arrival: the closed model's user
    std::int64_t at_us = 0;              // arrival: intended start; finish: deadline
    std::uint64_t id = 0;                // done: request id
    // done: the request's metrics row, the instant its latency counts from
    // (us since t0) and whether the hub records it (else Python does)
    std::uint32_t row = 0;
    std::int64_t named = -1;  // done: the row's sub-row (Recorder::named_row), -1: none
    bool record = false;
    std::int64_t base_us = 0;
    std::uint32_t method = 0;  // done: metrics::method_bit() of the request
    // done: the :path of a gRPC call (grpc::is_call), judged by its
    // grpc-status; empty for any other request
    std::string grpc_path;
    http::Result result;
  };

  Hub(http::Target t, std::size_t rows) : target(std::move(t)), recorder(rows) {
    origin = target;
    origin.base_path.clear();
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Hub() {
    if (fd >= 0) close(fd);
  }

  std::int64_t us_since_t0(Clock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::microseconds>(t - link.t0).count();
  }

  void push(Event&& e) {
    bool wake = false;
    {
      std::lock_guard lock(mu);
      wake = events.empty();
      events.push_back(std::move(e));
      has_events.store(true);
    }
    if (wake) {
      const std::uint64_t one = 1;
      // EAGAIN only when the counter is saturated, i.e. a wake-up is pending.
      [[maybe_unused]] ssize_t n = write(fd, &one, sizeof one);
    }
  }

  // Python side. Every event since the last poll, as tuples:
  //   (0, task, intended_us, worker, user)    an arrival; user is the closed
  //                                           model's user, or -1
  //   (1, id, status, headers, body, kind, message, sent_us, done_us, set_cookie, dropped)
  //                                           a request finished; kind is an
  //                                           error kind name or None; headers
  //                                           packed in one str, "name\0value\n"
  //                                           each (Python splits them only
  //                                           when read; names are tokens and
  //                                           values one line, so neither
  //                                           separator occurs inside);
  //                                           set_cookie: whether a Set-Cookie
  //                                           header is among them; dropped:
  //                                           None, or (why, limit, size) when
  //                                           the body was too large to keep
  //   (2, deadline_us)                        finish: run on_stop, then finished()
  //   (3,)                                    abort: stop now
  // iteration_done() only queues; flush() hands the ends to the workers.
  py::list poll() {
    if (queue_ready) {
      std::uint64_t counter = 0;
      [[maybe_unused]] ssize_t n = read(fd, &counter, sizeof counter);
      queue_ready = false;
      if (queue_wait) arm(*queue_wait, queue_ready);
    }
    std::vector<Event> taken;
    taken.swap(completed);
    if (has_events.load()) {
      std::lock_guard lock(mu);
      if (taken.empty()) {
        taken.swap(events);
      } else {
        for (Event& e : events) taken.push_back(std::move(e));
        events.clear();
      }
      has_events.store(false);
    }
    py::list out;
    std::string packed;
    std::unique_lock record_lock(record_mu, std::defer_lock);
    for (Event& e : taken) {
      switch (e.type) {
        case Type::kArrive:
          out.append(
              py::make_tuple(0, e.task, e.at_us, e.worker,
                             e.user == load::kNoUser ? std::int64_t{-1} : std::int64_t{e.user}));
          break;
        case Type::kDone: {
          http::Result& r = e.result;
          packed.clear();
          bool set_cookie = false;
          for (const auto& [k, v] : r.headers) {
            packed.append(k).push_back('\0');
            packed.append(v).push_back('\n');
            set_cookie = set_cookie || http::iequals(k, "set-cookie");
          }
          // Trailers follow the headers (gRPC's status is there).
          for (const auto& [k, v] : r.trailers) {
            packed.append(k).push_back('\0');
            packed.append(v).push_back('\n');
          }
          // The HTTP answer is in the status classes as it came; a gRPC
          // call's outcome is then its grpc-status, judged before it is
          // recorded, here or by Python (docs/protocols.md#grpc).
          const metrics::ResponseClass answer = metrics::response_class(r.status, !r.error);
          std::optional<int> grpc_code;
          if (!e.grpc_path.empty()) grpc_code = grpc::judge(r, e.grpc_path);
          py::object kind = py::none();
          if (r.error) kind = py::str(std::string(metrics::name(*r.error)));
          const std::int64_t done =
              r.done_at.time_since_epoch().count() ? us_since_t0(r.done_at) : now_us();
          const std::int64_t sent =
              r.sent_at.time_since_epoch().count() ? us_since_t0(r.sent_at) : -1;
          // Every response is in the status and byte counts as it arrives;
          // the request itself is counted here or, when its iteration's
          // check must judge it first, by the Python side later.
          if (!record_lock.owns_lock()) record_lock.lock();
          if (!closed) {
            recorder.record_response(answer, r.bytes_sent, r.bytes_received, r.http_version == 20);
            recorder.record_method(e.row, e.method);
            if (grpc_code) recorder.record_grpc_status(*grpc_code);
          }
          if (e.record) record_result(e, done, sent);
          py::object dropped = py::none();
          if (r.body_dropped != http::BodyDrop::kNone) {
            dropped = py::make_tuple(r.body_dropped == http::BodyDrop::kOverCap ? "cap" : "total",
                                     r.body_limit, r.body_bytes);
          }
          out.append(py::make_tuple(1, e.id, r.status, header_text(packed),
                                    py::bytes(r.body.data(), r.body.size()), std::move(kind),
                                    std::move(r.error_message), sent, done, set_cookie,
                                    std::move(dropped), r.http_version == 20 ? "2" : "1.1"));
          break;
        }
        case Type::kFinish:
          out.append(py::make_tuple(2, e.at_us));
          break;
        case Type::kAbort:
          out.append(py::make_tuple(3));
          break;
      }
    }
    if (ws) ws->take(out);
    return out;
  }

  // Records a finished request the hub accounts for (record_mu held), by
  // the workers' rule (http::failure_of).
  void record_result(const Event& e, std::int64_t done_us, std::int64_t sent_us) {
    if (closed || e.row >= rows()) return;
    const http::Result& r = e.result;
    const std::int64_t latency = std::max<std::int64_t>(done_us - e.base_us, 0);
    const std::int64_t service =
        sent_us >= 0 ? std::max<std::int64_t>(done_us - sent_us, 0) : latency;
    std::string message;
    const std::optional<metrics::ErrorKind> error = http::failure_of(r, &message);
    recorder.record_request(e.row, static_cast<std::uint64_t>(latency),
                            static_cast<std::uint64_t>(service), error ? &*error : nullptr, message,
                            static_cast<double>(done_us) / 1e6, named_index(e.named));
    if (r.retries) recorder.record_retries(r.retries);
  }

  // Python side, the asyncio selector's wait (loadpilot._runtime): runs
  // the HTTP client's I/O until a request finished, an event was queued,
  // asyncio's own epoll (INNER_FD) is readable or TIMEOUT_S passed
  // (negative: no limit), with the GIL released while it blocks. Returns
  // whether INNER_FD is readable.
  bool run_io(double timeout_s, int inner_fd) {
    // In here the thread waits for the network, not for Python code.
    struct InLoop {
      PythonWatchdog* w;
      explicit InLoop(PythonWatchdog* watchdog) : w(watchdog) {
        if (w) w->loop_entered();
      }
      ~InLoop() {
        if (w) w->loop_left();
      }
    } in_loop(watchdog);
    if (!inner_wait && inner_fd >= 0) {
      inner_wait = std::make_unique<boost::asio::posix::stream_descriptor>(*io, ::dup(inner_fd));
      arm(*inner_wait, inner_ready);
    }
    if (!queue_wait) {
      queue_wait = std::make_unique<boost::asio::posix::stream_descriptor>(*io, ::dup(fd));
      arm(*queue_wait, queue_ready);
    }
    const auto idle = [&] {
      return completed.empty() && !inner_ready && !queue_ready && !has_events.load() &&
             (!ws || ws->empty());
    };
    if (timeout_s == 0 || !idle()) {
      io->poll();
    } else {
      py::gil_scoped_release nogil;
      const Clock::time_point until =
          timeout_s < 0 ? Clock::time_point::max()
                        : Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_s));
      while (idle()) {
        const std::size_t ran = timeout_s < 0 ? io->run_one() : io->run_one_until(until);
        if (ran == 0 && Clock::now() >= until) break;
      }
      io->poll();  // whatever else is ready already
    }
    connections.store(client->open_connections(), std::memory_order_relaxed);
    const bool inner = inner_ready;
    if (inner) {
      inner_ready = false;
      arm(*inner_wait, inner_ready);
    }
    return inner;
  }

  // Something for poll(): a finished request or a queued event.
  bool ready() const { return !completed.empty() || has_events.load() || (ws && !ws->empty()); }

  void arm(boost::asio::posix::stream_descriptor& d, bool& flag) {
    d.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 [&flag](const boost::system::error_code& ec) {
                   if (!ec) flag = true;
                 });
  }

  // Ends the client (its requests fail as "shutdown") on the Python thread.
  void close_io() {
    if (client) client->close();
    if (ws) ws->close_all();
    inner_wait.reset();
    queue_wait.reset();
    io->poll();
    completed.clear();
  }

  // Sends a request on the hub's client and returns its id; poll() reports
  // it finished. With RECORD the hub records it then, under metrics row ROW
  // (and its sub-row NAMED from named_row(), -1: none) with its latency
  // counted from BASE_US (us since t0; negative: now); else Python does.
  // MAX_BODY: bytes of body to keep (0: the client's default). FULL_PATH:
  // PATH is the whole path on the target's origin (a redirect's Location,
  // docs/scenarios.md#redirects), not relative to the target's base path.
  std::uint64_t send(const std::string& method, const std::string& path,
                     const http::Headers& headers, const py::bytes& body, std::uint32_t row,
                     std::int64_t named, std::int64_t base_us, bool record, std::uint64_t max_body,
                     bool full_path) {
    const std::uint64_t id = next_id++;
    if (base_us < 0) base_us = now_us();
    std::string_view b(PyBytes_AS_STRING(body.ptr()),
                       static_cast<std::size_t>(PyBytes_GET_SIZE(body.ptr())));
    auto request = std::make_shared<const std::string>(
        http::build_request(full_path ? origin : target, method, path, headers, b));
    std::string grpc_path = grpc::is_call(headers) ? path : std::string();
    // The callback runs inside run_io() or close_io(), on this thread.
    client->send(
        std::move(request), method == "HEAD",
        [this, id, row, named, base_us, record, method = metrics::method_bit(method),
         grpc_path = std::move(grpc_path)](http::Result&& r) mutable {
          Event e(Type::kDone);
          e.method = method;
          e.grpc_path = std::move(grpc_path);
          e.id = id;
          e.row = row;
          e.named = named;
          e.record = record;
          e.base_us = base_us;
          e.result = std::move(r);
          completed.push_back(std::move(e));
        },
        max_body);
    return id;
  }

  // One of WORKER's arrivals ended; USER is its user (-1: none).
  void iteration_done(std::size_t worker, std::int64_t user) {
    const std::size_t w = link.workers ? worker % link.workers : 0;
    if (done_per_worker.size() <= w) {
      done_per_worker.resize(w + 1);
      users_per_worker.resize(w + 1);
    }
    ++done_per_worker[w];
    if (user >= 0) users_per_worker[w].push_back(static_cast<std::uint32_t>(user));
  }

  // Hands the iteration ends since the last flush to their workers, one
  // wake-up per worker.
  void flush() {
    for (std::size_t w = 0; w < done_per_worker.size(); ++w) {
      if (done_per_worker[w] == 0) continue;
      if (link.dispatch) link.dispatch(w, done_per_worker[w], std::move(users_per_worker[w]));
      done_per_worker[w] = 0;
      users_per_worker[w].clear();
    }
  }

  std::int64_t now_us() const { return us_since_t0(Clock::now()); }
  double now_s() const { return static_cast<double>(now_us()) / 1e6; }

  // NAMED: the row's sub-row from named_row(), -1: none.
  void record_request(std::size_t row, std::int64_t named, std::int64_t latency_us,
                      std::int64_t service_us, const std::optional<std::string>& kind,
                      const std::string& message) {
    std::optional<metrics::ErrorKind> k;
    if (kind) k = metrics::error_kind_from_name(*kind);
    std::lock_guard lock(record_mu);
    if (closed || row >= rows()) return;
    recorder.record_request(row, static_cast<std::uint64_t>(std::max<std::int64_t>(latency_us, 0)),
                            static_cast<std::uint64_t>(std::max<std::int64_t>(service_us, 0)),
                            k ? &*k : nullptr, message, now_s(), named_index(named));
  }
  // The sub-row of ROW for a call's literal name= (docs/scenarios.md#metrics),
  // for send() and record_request(); -1 for a row out of range.
  std::int64_t named_row(std::size_t row, const std::string& name) {
    std::lock_guard lock(record_mu);
    if (row >= rows()) return -1;
    return static_cast<std::int64_t>(recorder.named_row(row, name));
  }
  static std::size_t named_index(std::int64_t named) {
    return named < 0 ? metrics::Recorder::kNotNamed : static_cast<std::size_t>(named);
  }
  // The iteration that started at start_us (since t0) ends now. WIRE: it
  // sent at least one request (Python tracks it per iteration).
  void record_iteration(std::size_t row, std::int64_t start_us, bool wire) {
    const std::int64_t duration_us = now_us() - start_us;
    std::lock_guard lock(record_mu);
    ended_locked(row, duration_us, wire);
  }
  // One started iteration ended (record_mu held): the run's books need every
  // started iteration to end here or be cut off by close_books().
  void ended_locked(std::size_t row, std::int64_t duration_us, bool wire) {
    if (closed) return;
    if (active > 0) --active;
    if (row >= rows()) return;
    recorder.record_iteration(
        row, static_cast<std::uint64_t>(std::max<std::int64_t>(duration_us, 0)), wire);
  }
  // The run is over: iterations started and not ended are cut off, and
  // nothing is recorded any more (docs/output.md#iterations).
  void close_books() {
    std::lock_guard lock(record_mu);
    if (closed) return;
    closed = true;
    recorder.record_cut_off(active);
    active = 0;
  }
  // record_iteration() and iteration_done() in one call from Python: the
  // common end of an iteration.
  void end_iteration(std::size_t row, std::int64_t start_us, std::size_t worker, std::int64_t user,
                     bool wire) {
    record_iteration(row, start_us, wire);
    iteration_done(worker, user);
  }
  // The end of an iteration in a closed-loop run whose tasks all run in
  // Python: records it and, while arrivals are open, starts the next one on
  // the same slot (counted started, never late: it is due now) and returns
  // its start (us since t0). Otherwise ends the slot as end_iteration() does
  // and returns -1.
  std::int64_t next_iteration(std::size_t row, std::int64_t start_us, std::size_t worker,
                              std::int64_t user, bool wire) {
    const Clock::time_point now = Clock::now();
    const std::int64_t now_us = us_since_t0(now);
    const bool renew = arrivals_open.load(std::memory_order_relaxed) && now < link.arrivals_end;
    {
      std::lock_guard lock(record_mu);
      ended_locked(row, now_us - start_us, wire);
      if (renew && !closed) {
        recorder.record_started(false);
        recorder.note_start(static_cast<double>(now_us) / 1e6);
        ++active;
      }
    }
    if (renew) return now_us;
    iteration_done(worker, user);
    return -1;
  }
  void record_error(std::size_t row, const std::string& kind, const std::string& message) {
    const auto k = metrics::error_kind_from_name(kind).value_or(metrics::ErrorKind::kException);
    std::lock_guard lock(record_mu);
    if (closed || row >= rows()) return;
    recorder.record_iteration_error(row, k, message, now_s());
  }
  // An arrival due at intended_us got a VUser now.
  void record_started(std::int64_t intended_us) {
    const bool late = now_us() - intended_us > kLateUs;
    std::lock_guard lock(record_mu);
    if (closed) return;
    recorder.record_started(late);
    recorder.note_start(static_cast<double>(now_us()) / 1e6);
    ++active;
  }
  // An arrival found every VUser busy, or came when the run was ending.
  void record_dropped() {
    std::lock_guard lock(record_mu);
    if (closed) return;
    recorder.record_dropped_no_vuser();
  }

  void finished() {
    if (!finished_sent.exchange(true) && link.finished) link.finished();
  }
  void stop_run(const std::string& message) {
    {
      std::lock_guard lock(mu);
      if (fatal.empty()) fatal = message;
    }
    // After abort() the Engine may be gone (the watchdog can still report
    // while the runtime is destroyed).
    std::lock_guard lock(link_mu);
    if (!aborted.load() && link.stop_run) link.stop_run();
  }

  std::size_t rows() const { return row_count; }

  http::Target target;
  http::Target origin;  // the target without its base path
  load::ScriptedLink link;
  std::size_t row_count = 0;
  int fd = -1;
  std::uint64_t next_id = 1;                                 // Python thread only
  std::vector<std::size_t> done_per_worker;                  // Python thread only
  std::vector<std::vector<std::uint32_t>> users_per_worker;  // Python thread only
  std::mutex mu;                                             // events, fatal
  std::vector<Event> events;
  std::string fatal;
  std::mutex record_mu;
  metrics::Recorder recorder;
  std::uint64_t active = 0;  // iterations started and not ended (record_mu)
  bool closed = false;       // close_books() ran (record_mu)
  std::atomic<bool> finished_sent{false};
  std::mutex link_mu;  // orders stop_run's link.stop_run before abort
  std::atomic<bool> aborted{false};
  PythonWatchdog* watchdog = nullptr;  // set by start(); outlives the Python thread
  std::atomic<bool> arrivals_open{true};
  std::atomic<bool> has_events{false};  // events is not empty
  std::atomic<std::size_t> connections{0};
  // The Python thread's own I/O (see run_io): its loop, its client (made by
  // start()), and waits on the event queue's eventfd and asyncio's epoll.
  // (Declared in this order so that the client's last callbacks, from its
  // destructor, still find `completed`, and the waits and the client their
  // io_context.)
  std::vector<Event> completed;  // finished requests, not yet polled
  bool queue_ready = false, inner_ready = false;
  std::unique_ptr<boost::asio::io_context> io = std::make_unique<boost::asio::io_context>(1);
  // Keeps run_one() waiting even when nothing is armed.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_running =
      boost::asio::make_work_guard(*io);
  std::unique_ptr<http::Client> client;
  std::unique_ptr<WebSocketHub> ws;  // the VUsers' WebSocket connections (start())
  std::unique_ptr<boost::asio::posix::stream_descriptor> queue_wait, inner_wait;
};

namespace {

// The main thread's interpreter state while runtimes run: a run of several
// scenarios has one VUserRuntime per Python scenario, each with its own
// Python thread. The first start() hands the main thread's interpreter
// lock over; the last runtime destroyed takes it back, once no Python
// thread of the run is left to need it.
std::mutex g_main_mu;
std::size_t g_started = 0;
PyThreadState* g_main_state = nullptr;

py::object runtime_object(void* p) {
  return py::reinterpret_borrow<py::object>(static_cast<PyObject*>(p));
}

}  // namespace

}  // namespace loadpilot::scenario

PYBIND11_EMBEDDED_MODULE(_loadpilot_hub, m) {
  using Hub = loadpilot::scenario::VUserRuntime::Hub;
  py::class_<Hub, std::shared_ptr<Hub>>(m, "Hub")
      .def("fileno", [](const Hub& h) { return h.fd; })
      .def("poll", &Hub::poll)
      .def("run_io", &Hub::run_io)
      .def("ready", &Hub::ready)
      .def("close_io", &Hub::close_io)
      .def("send", &Hub::send)
      .def("now_us", &Hub::now_us)
      .def("record_request", &Hub::record_request)
      .def("named_row", &Hub::named_row)
      .def("record_iteration", &Hub::record_iteration)
      .def("end_iteration", &Hub::end_iteration)
      .def("next_iteration", &Hub::next_iteration)
      .def("record_error", &Hub::record_error)
      .def("record_started", &Hub::record_started)
      .def("record_dropped", &Hub::record_dropped)
      .def("iteration_done", &Hub::iteration_done)
      .def("flush", &Hub::flush)
      .def("finished", &Hub::finished)
      .def("stop_run", &Hub::stop_run)
      .def_property_readonly(
          "websockets", [](Hub& h) { return h.ws.get(); }, py::return_value_policy::reference)
      .def_property_readonly("workers", [](const Hub& h) { return h.link.workers; });
}

namespace loadpilot::scenario {

bool needs_vuser_runtime(const plan::Plan& plan) {
  for (const plan::TaskSpec& t : plan.tasks)
    if (t.runtime == "python") return true;
  return false;
}

VUserRuntime::VUserRuntime(const plan::Plan& plan, const http::Target& target) {
  if (plan.max_vusers > 0) max_vusers_ = plan.max_vusers;
  // A closed model's users are its VUsers, one each.
  else if (plan.profile.closed())
    max_vusers_ = plan.profile.users;
  py::gil_scoped_acquire gil;
  try {
    py::module_::import("_loadpilot_hub");
    py::module_::import("_loadpilot_ws");
    py::module_ rt = py::module_::import("loadpilot._runtime");
    py::list tasks;
    for (const plan::TaskSpec& t : plan.tasks)
      tasks.append(py::make_tuple(t.name, t.runtime, t.weight));
    py::object runtime = rt.attr("Runtime")(plan.name, plan.file, plan.target, tasks, max_vusers_,
                                            plan.profile.unlimited, plan.profile.closed(),
                                            py::arg("follow_redirects") = plan.follow_redirects,
                                            py::arg("max_redirects") = plan.max_redirects);
    for (py::handle label : runtime.attr("extra_labels")) labels_.push_back(py::str(label));
    watch_options_.scenario_path = plan.file;
    watch_options_.scenario_abspath = py::str(runtime.attr("abspath"));
    watch_options_.package_dir =
        py::str(py::module_::import("os.path").attr("dirname")(rt.attr("__file__")));
    hub_ = std::make_shared<Hub>(target, plan.tasks.size() + labels_.size());
    hub_->row_count = plan.tasks.size() + labels_.size();
    runtime_ = runtime.release().ptr();
  } catch (py::error_already_set& e) {
    throw ScenarioError(plan.file + ": cannot prepare the Python VUser runtime: " + e.what());
  }
}

VUserRuntime::~VUserRuntime() {
  abort();
  if (thread_.joinable()) {
    // A VUser stuck in code that never yields (a busy loop, a blocking
    // call) keeps the Python thread from seeing the abort. Results are
    // written by now; end the process rather than hang — at once when the
    // watchdog knows the thread is blocked.
    const Clock::time_point deadline = Clock::now() + kStopGrace;
    watchdog_->wait(deadline);
    if (thread_ended_.wait_until(watchdog_->blocked() ? Clock::now() : deadline) !=
        std::future_status::ready) {
      abandon_thread();
    }
    thread_.join();
  }
  // Before the main thread takes the interpreter lock back: the watchdog's
  // helper may be waiting for it.
  watchdog_.reset();
  if (started_) {
    std::lock_guard lock(g_main_mu);
    if (--g_started == 0) {
      PyEval_RestoreThread(g_main_state);
      g_main_state = nullptr;
    }
  }
  if (runtime_ != nullptr) {
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(runtime_));
    // greenlet frees a finished thread's state through a pending call; run
    // it now, while every module is alive, not during interpreter shutdown
    // (where it crashes).
    if (Py_MakePendingCalls() != 0) PyErr_Clear();
  }
}

void VUserRuntime::abandon_thread() const {
  int code = 1;
  if (watchdog_->blocked()) {
    if (!blocked_told_.load()) std::fprintf(stderr, "error: %s\n", watchdog_->message().c_str());
    code = kBlockedExitCode;
  } else if (watchdog_->in_loop()) {
    // Not the VUsers' code: the thread waits for network I/O.
    std::fprintf(stderr,
                 "error: the Python thread did not end within %lld s after the run while it "
                 "waited for network I/O; exiting\n",
                 static_cast<long long>(kStopGrace.count()));
  } else {
    std::fprintf(stderr,
                 "error: a VUser's Python code did not return within %lld s after the run; "
                 "exiting\n",
                 static_cast<long long>(kStopGrace.count()));
    code = kBlockedExitCode;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}

std::vector<std::string> VUserRuntime::extra_labels() const { return labels_; }

void VUserRuntime::start(load::ScriptedLink link) {
  hub_->link = std::move(link);
  hub_->client = std::make_unique<http::Client>(*hub_->io, hub_->target, hub_->link.client);
  hub_->ws = std::make_unique<WebSocketHub>(
      *hub_->io, hub_->target, hub_->link.client.insecure, hub_->link.client.timeout,
      [hub = hub_.get()](const metrics::WebSocketCounts& c) {
        std::lock_guard lock(hub->record_mu);
        if (!hub->closed) hub->recorder.websocket().merge(c);
      },
      hub_->link.t0);
  std::shared_ptr<Hub> hub = hub_;
  // The scenario's custom metrics are kept from now; a declaration it
  // cannot be given (too many names) ends the run, saying why.
  if (takes_custom_metrics_)
    ScriptMetrics::instance().open(hub_->link.t0,
                                   [hub](const std::string& message) { hub->stop_run(message); });
  void* runtime = runtime_;
  watchdog_ = std::make_unique<PythonWatchdog>(
      watch_options_, [hub](const std::string& message) { hub->stop_run(message); });
  hub_->watchdog = watchdog_.get();
  PythonWatchdog* watchdog = watchdog_.get();
  // The Python thread's CPU and held time count from its start, not from
  // the first take(): a VUser that blocks it from the first arrival is
  // seen in the run's first second too.
  busy_cpu_ = std::chrono::nanoseconds{0};
  busy_wall_ = held_wall_ = Clock::now();
  // The main thread keeps the GIL from interpreter start-up; hand it over
  // for the run (the first runtime to start does, for all of them).
  {
    std::lock_guard lock(g_main_mu);
    if (g_started++ == 0) g_main_state = PyEval_SaveThread();
    started_ = true;
  }
  std::promise<void> ended;
  thread_ended_ = ended.get_future();
  auto tid = python_tid_;
  thread_ = std::thread([hub, runtime, watchdog, tid, ended = std::move(ended)]() mutable {
    pthread_setname_np(pthread_self(), "lp-python");
    tid->store(static_cast<pid_t>(::gettid()), std::memory_order_release);
    // Before any VUser runs: what its VUsers add is this runtime's.
    ScriptMetrics::instance().keep_thread_apart(std::this_thread::get_id());
    {
      py::gil_scoped_acquire gil;
      watchdog->attach(PyThreadState_Get());
      try {
        runtime_object(runtime).attr("run")(hub);
      } catch (py::error_already_set& e) {
        hub->stop_run(std::string("internal error in the Python VUser runtime: ") + e.what());
      }
      try {
        py::module_ sys = py::module_::import("sys");
        for (const char* stream : {"stdout", "stderr"}) {
          py::object s = sys.attr(stream);
          if (!s.is_none()) s.attr("flush")();
        }
      } catch (py::error_already_set&) {
      }
      watchdog->detach();  // before the thread state goes
    }
    hub->finished();
    ended.set_value();
  });
}

void VUserRuntime::arrive(std::size_t worker, std::uint32_t task, Clock::time_point intended,
                          std::uint32_t user) {
  Hub::Event e(Hub::Type::kArrive);
  e.task = task;
  e.user = user;
  e.worker = static_cast<std::uint32_t>(worker);
  e.at_us = hub_->us_since_t0(intended);
  hub_->push(std::move(e));
}

void VUserRuntime::stop_arrivals() { hub_->arrivals_open = false; }

void VUserRuntime::finish(Clock::time_point deadline) {
  Hub::Event e(Hub::Type::kFinish);
  e.at_us = hub_->us_since_t0(deadline);
  hub_->push(std::move(e));
}

std::size_t VUserRuntime::open_connections() const {
  return hub_->connections.load(std::memory_order_relaxed);
}

metrics::IntervalStats VUserRuntime::take() {
  // The Python thread's CPU use since the last take(): near 1, it is what
  // holds the run back (report/summary.h's verdict).
  double busy = -1;
  clockid_t cid;
  timespec ts{};
  if (thread_.joinable() && pthread_getcpuclockid(thread_.native_handle(), &cid) == 0 &&
      clock_gettime(cid, &ts) == 0) {
    const auto cpu = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    const Clock::time_point now = Clock::now();
    if (busy_wall_.time_since_epoch().count() != 0) {
      const double wall = std::chrono::duration<double>(now - busy_wall_).count();
      if (wall > 0) busy = std::chrono::duration<double>(cpu - busy_cpu_).count() / wall;
    }
    busy_cpu_ = cpu;
    busy_wall_ = now;
  }
  // The share of the interval the Python thread was away from its loop:
  // near 1 with little CPU, VUser code blocks it (time.sleep, blocking I/O).
  double held = 0;
  if (watchdog_) {
    const double away_s = static_cast<double>(watchdog_->take_held_ns()) / 1e9;
    const Clock::time_point now = Clock::now();
    if (held_wall_.time_since_epoch().count() != 0) {
      const double wall = std::chrono::duration<double>(now - held_wall_).count();
      if (wall > 0) held = std::min(1.0, away_s / wall);
    }
    held_wall_ = now;
  }
  // Its run-queue wait: read by thread id, as the thread itself may be
  // held in VUser code.
  std::optional<double> wait;
  if (const pid_t id = python_tid_->load(std::memory_order_acquire); id > 0) {
    if (!python_wait_) python_wait_.emplace(load::schedstat_path(id));
    wait = python_wait_->sample();
  }
  std::lock_guard lock(hub_->record_mu);
  if (wait) hub_->recorder.record_cpu_wait(*wait);
  if (busy >= 0) {
    hub_->recorder.record_busy(busy);
    hub_->recorder.record_python(busy, held);
  }
  metrics::IntervalStats out = hub_->recorder.take();
  // Its VUsers' custom metrics (its thread's); and, by one runtime of the
  // run, what other threads added.
  metrics::CustomMetrics mine = ScriptMetrics::instance().take_thread(thread_.get_id());
  if (takes_custom_metrics_) {
    out.custom = ScriptMetrics::instance().take();
    out.custom.merge(mine);
  } else {
    out.custom = std::move(mine);
  }
  return out;
}

std::size_t VUserRuntime::capacity() const { return static_cast<std::size_t>(max_vusers_); }

void VUserRuntime::abort() {
  if (!hub_) return;
  hub_->close_books();
  if (takes_custom_metrics_) ScriptMetrics::instance().close();
  {
    std::lock_guard lock(hub_->link_mu);
    if (hub_->aborted.exchange(true)) return;
  }
  hub_->push(Hub::Event(Hub::Type::kAbort));
}

std::string VUserRuntime::fatal_error() const {
  std::string fatal;
  {
    std::lock_guard lock(hub_->mu);
    fatal = hub_->fatal;
  }
  if (watchdog_ && watchdog_->blocked() && fatal == watchdog_->message()) blocked_told_ = true;
  return fatal;
}

bool VUserRuntime::python_blocked() const { return watchdog_ && watchdog_->blocked(); }

}  // namespace loadpilot::scenario
