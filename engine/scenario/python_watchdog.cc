#include "scenario/python_watchdog.h"

// Python.h first of the system headers, as Python asks.
#include <Python.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fstream>

// Python's faulthandler dump of one thread's stack (exported by libpython,
// declared in its internal headers): signal-safe, reads the frames without
// the interpreter lock.
extern "C" void _Py_DumpTraceback(int fd, PyThreadState* tstate);

namespace loadpilot::scenario {

namespace {

constexpr std::size_t kMaxFrames = 100;

std::string utf8(PyObject* s) {
  if (s == nullptr || !PyUnicode_Check(s)) return "?";
  const char* p = PyUnicode_AsUTF8(s);
  if (p == nullptr) {
    PyErr_Clear();
    return "?";
  }
  return p;
}

// The thread's frames, innermost first. The interpreter lock is held, so
// the thread runs no Python code meanwhile.
std::vector<PythonWatchdog::Frame> walk_frames(PyThreadState* state) {
  std::vector<PythonWatchdog::Frame> out;
  PyFrameObject* frame = PyThreadState_GetFrame(state);
  while (frame != nullptr && out.size() < kMaxFrames) {
    PyCodeObject* code = PyFrame_GetCode(frame);
    out.push_back({utf8(code->co_filename), PyFrame_GetLineNumber(frame), utf8(code->co_qualname)});
    Py_DECREF(code);
    PyFrameObject* back = PyFrame_GetBack(frame);
    Py_DECREF(frame);
    frame = back;
  }
  Py_XDECREF(frame);
  return out;
}

// Line `line` (1-based) of `file`, without its indentation; empty if it
// cannot be read.
std::string source_line(const std::string& file, int line) {
  std::ifstream in(file);
  std::string text;
  for (int i = 0; i < line && std::getline(in, text); ++i) {
  }
  if (!in) return "";
  const auto start = text.find_first_not_of(" \t");
  const auto end = text.find_last_not_of(" \t\r");
  return start == std::string::npos ? "" : text.substr(start, end - start + 1);
}

// Threads started here take no signals: those are for the signal watcher.
template <typename F>
std::thread quiet_thread(F&& f) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::forward<F>(f));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace

PythonWatchdog::PythonWatchdog(Options options, std::function<void(const std::string&)> on_blocked)
    : options_(std::move(options)), on_blocked_(std::move(on_blocked)) {
  thread_ = quiet_thread([this] {
    pthread_setname_np(pthread_self(), "lp-watchdog");
    watch();
  });
}

PythonWatchdog::~PythonWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (helper_.joinable()) helper_.join();
  for (std::thread& t : samplers_) t.join();
}

void PythonWatchdog::attach(_ts* state) {
  state_.store(state);
  loop_left();
}

void PythonWatchdog::detach() {
  {
    std::lock_guard dump(dump_mu_);
    state_.store(nullptr);
  }
  away_since_ns_.store(kEnded);
  {
    std::lock_guard lock(mu_);
    ended_ = true;
  }
  cv_.notify_all();
}

std::string PythonWatchdog::message() const {
  std::lock_guard lock(mu_);
  return message_;
}

bool PythonWatchdog::wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return ended_ || blocked_.load(); });
  return ended_;
}

void PythonWatchdog::watch() {
  std::unique_lock lock(mu_);
  std::int64_t last_check = now_ns();
  while (!stopping_) {
    cv_.wait_for(lock, options_.check_every, [&] { return stopping_; });
    const std::int64_t since = away_since_ns_.load(std::memory_order_relaxed);
    const std::int64_t now = now_ns();
    // Time away from the loop since the last check: the thread's held share.
    if (since != kInLoop && since != kEnded)
      held_ns_.fetch_add(now - std::max(since, last_check), std::memory_order_relaxed);
    last_check = now;
    if (stopping_ || ended_ || blocked_.load()) continue;
    if (since == kInLoop || since == kEnded) continue;
    const double away_s = static_cast<double>(now_ns() - since) / 1e9;
    if (since == sampled_since_) {
      current_.seconds = away_s;  // the sampled stretch goes on
      if (!current_.where.empty() && current_.seconds > held_at_.seconds) held_at_ = current_;
    } else if (away_s * 1000 >= kHeldNoteMs && static_cast<int>(samplers_.size()) < kMaxSamples) {
      sampled_since_ = since;
      lock.unlock();
      std::string place = sample_place();
      lock.lock();
      current_ = {std::move(place), away_s};
      if (!current_.where.empty() && current_.seconds > held_at_.seconds) held_at_ = current_;
    }
    if (away_s * 1000 < static_cast<double>(options_.blocked_after.count())) continue;
    lock.unlock();
    bool in_c_call = false;
    const std::vector<Frame> stack = read_stack(&in_c_call);
    const std::string message = describe(stack, away_s, in_c_call);
    lock.lock();
    message_ = message;
    blocked_.store(true);
    cv_.notify_all();
    lock.unlock();
    on_blocked_(message);
    lock.lock();
  }
}

std::vector<PythonWatchdog::Frame> PythonWatchdog::read_stack(bool* in_c_call) {
  struct Probe {
    std::mutex mu;
    std::condition_variable cv;
    bool walking = false, done = false, abandoned = false;
    std::vector<Frame> frames;
  };
  auto probe = std::make_shared<Probe>();
  helper_ = quiet_thread([this, probe] {
    pthread_setname_np(pthread_self(), "lp-stack");
    const PyGILState_STATE gil = PyGILState_Ensure();
    bool walk = false;
    {
      std::lock_guard lock(probe->mu);
      walk = !probe->abandoned;
      probe->walking = walk;
    }
    std::vector<Frame> frames;
    // detach() clears the state holding the interpreter lock, so it is
    // valid here while set.
    if (PyThreadState* state = state_.load(); walk && state != nullptr) frames = walk_frames(state);
    PyGILState_Release(gil);
    {
      std::lock_guard lock(probe->mu);
      probe->frames = std::move(frames);
      probe->done = true;
    }
    probe->cv.notify_all();
  });
  std::unique_lock lock(probe->mu);
  probe->cv.wait_for(lock, options_.lock_wait, [&] { return probe->done; });
  if (!probe->done && probe->walking) probe->cv.wait(lock, [&] { return probe->done; });
  if (probe->done) return std::move(probe->frames);
  probe->abandoned = true;
  lock.unlock();
  *in_c_call = true;
  return read_stack_unlocked();
}

std::string PythonWatchdog::sample_place() {
  struct Probe {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false, abandoned = false;
    std::vector<Frame> frames;
  };
  auto probe = std::make_shared<Probe>();
  samplers_.push_back(quiet_thread([this, probe] {
    pthread_setname_np(pthread_self(), "lp-sample");
    const PyGILState_STATE gil = PyGILState_Ensure();
    std::vector<Frame> frames;
    {
      std::lock_guard lock(probe->mu);
      if (PyThreadState* state = state_.load(); !probe->abandoned && state != nullptr)
        frames = walk_frames(state);
    }
    PyGILState_Release(gil);
    std::lock_guard lock(probe->mu);
    probe->frames = std::move(frames);
    probe->done = true;
    probe->cv.notify_all();
  }));
  std::unique_lock lock(probe->mu);
  // A thread that keeps the lock (a loop in C) is the blocked report's
  // business, not a sample's: give up rather than wait.
  if (!probe->cv.wait_for(lock, std::chrono::milliseconds(300), [&] { return probe->done; })) {
    probe->abandoned = true;
    return "";
  }
  std::size_t at = std::string::npos;
  const std::vector<Frame> shown = own_frames(probe->frames, &at);
  if (at == std::string::npos) return "";
  const Frame& where = shown[at];
  const std::string file =
      where.file == options_.scenario_abspath ? options_.scenario_path : where.file;
  return fmt::format("{} ({}:{})", where.function, file, where.line);
}

PythonWatchdog::HeldAt PythonWatchdog::held_at() const {
  std::lock_guard lock(mu_);
  return held_at_;
}

std::vector<PythonWatchdog::Frame> PythonWatchdog::read_stack_unlocked() {
  std::lock_guard dump(dump_mu_);
  PyThreadState* state = state_.load();
  if (state == nullptr) return {};
  const int fd = memfd_create("loadpilot-stack", MFD_CLOEXEC);
  if (fd < 0) return {};
  _Py_DumpTraceback(fd, state);
  std::string text;
  if (lseek(fd, 0, SEEK_SET) == 0) {
    char chunk[8192];
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;)
      text.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  return parse_dump(text);
}

std::vector<PythonWatchdog::Frame> PythonWatchdog::parse_dump(const std::string& dump) {
  std::vector<Frame> out;
  std::size_t start = 0;
  while (start < dump.size()) {
    std::size_t end = dump.find('\n', start);
    if (end == std::string::npos) end = dump.size();
    const std::string_view line(dump.data() + start, end - start);
    start = end + 1;
    constexpr std::string_view kFile = "File \"", kLine = "\", line ", kIn = " in ";
    const auto file = line.find(kFile);
    const auto mid = line.rfind(kLine);
    if (file == std::string_view::npos || mid == std::string_view::npos || mid < file) continue;
    Frame f;
    f.file = std::string(line.substr(file + kFile.size(), mid - file - kFile.size()));
    const std::string_view rest = line.substr(mid + kLine.size());
    const auto in = rest.find(kIn);
    if (in == std::string_view::npos) continue;
    f.line = std::atoi(std::string(rest.substr(0, in)).c_str());
    f.function = std::string(rest.substr(in + kIn.size()));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<PythonWatchdog::Frame> PythonWatchdog::own_frames(const std::vector<Frame>& stack,
                                                              std::size_t* where) const {
  const auto in_scenario = [&](const Frame& f) { return f.file == options_.scenario_abspath; };
  const auto in_runtime = [&](const Frame& f) {
    return !options_.package_dir.empty() && f.file.rfind(options_.package_dir + "/", 0) == 0;
  };
  // The VUser's own code: from the outermost frame in the scenario file
  // inwards; without one, every frame outside the runtime (or all).
  std::vector<Frame> shown;
  std::size_t outer = stack.size();
  for (std::size_t i = 0; i < stack.size(); ++i)
    if (in_scenario(stack[i])) outer = i;
  if (outer < stack.size()) {
    shown.assign(stack.begin(), stack.begin() + static_cast<std::ptrdiff_t>(outer) + 1);
  } else {
    for (const Frame& f : stack)
      if (!in_runtime(f)) shown.push_back(f);
    if (shown.empty()) shown = stack;
  }
  *where = shown.empty() ? std::string::npos : 0;
  for (std::size_t i = 0; i < shown.size(); ++i) {
    if (in_scenario(shown[i])) {
      *where = i;
      break;
    }
  }
  return shown;
}

std::string PythonWatchdog::describe(const std::vector<Frame>& stack, double away_s,
                                     bool in_c_call) const {
  const auto shown_name = [&](const std::string& file) {
    return file == options_.scenario_abspath ? options_.scenario_path : file;
  };
  std::size_t at = std::string::npos;
  const std::vector<Frame> shown = own_frames(stack, &at);
  const Frame* where = at == std::string::npos ? nullptr : &shown[at];

  std::string out = "a VUser blocked the Python thread: ";
  if (where != nullptr) {
    out += fmt::format("{} ({}:{}) ", shown.back().function, shown_name(where->file), where->line);
  } else {
    out += "its code (the Python stack could not be read) ";
  }
  if (in_c_call) {
    out += fmt::format(
        "has been inside a C function that keeps the interpreter lock for {:.1f} s, and no "
        "other VUser runs meanwhile; the run stops",
        away_s);
  } else {
    out += fmt::format(
        "has run for {:.1f} s without returning or waiting for a response, and no other VUser "
        "runs meanwhile (an endless loop? time.sleep()? a blocking call?); the run stops",
        away_s);
  }
  if (shown.empty()) return out;
  out += "\n  Python stack, most recent call last:";
  for (auto it = shown.rbegin(); it != shown.rend(); ++it) {
    out += fmt::format("\n    {}:{} in {}", shown_name(it->file), it->line, it->function);
    if (std::string src = source_line(it->file, it->line); !src.empty()) out += "\n      " + src;
  }
  return out;
}

}  // namespace loadpilot::scenario
