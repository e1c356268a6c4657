#include "scenario/script_metrics.h"

#include <Python.h>
#include <fmt/format.h>
#include <pybind11/embed.h>

#include <stdexcept>

namespace py = pybind11;

namespace loadpilot::scenario {

ScriptMetrics& ScriptMetrics::instance() {
  static ScriptMetrics* metrics = new ScriptMetrics();  // never destroyed: used until exit
  return *metrics;
}

std::size_t ScriptMetrics::declare(const std::string& name, metrics::CustomKind kind,
                                   const std::string& where) {
  std::lock_guard lock(mu_);
  if (const metrics::CustomStat* found = current_.find(name); found == nullptr) {
    if (current_.size() >= plan::kMaxCustomMetrics)
      throw std::invalid_argument(
          fmt::format("{}: metric {} is past the {} metric names a run may have", where, name,
                      plan::kMaxCustomMetrics));
  }
  const std::size_t slot = current_.slot(name, kind);
  if (slot == metrics::CustomMetrics::npos)
    throw std::invalid_argument(
        fmt::format("{}: metric {} is already declared as another kind", where, name));
  if (slot == where_.size()) where_.push_back(where);
  return slot;
}

std::vector<plan::CustomMetricSpec> ScriptMetrics::declared() const {
  std::lock_guard lock(mu_);
  std::vector<plan::CustomMetricSpec> out;
  for (std::size_t i = 0; i < current_.size(); ++i)
    out.push_back(
        {current_.name_of(i), std::string(metrics::name(current_.at(i).kind)), where_[i]});
  return out;
}

std::string ScriptMetrics::add(std::size_t slot, double value) {
  std::lock_guard lock(mu_);
  if (slot >= current_.size()) return fmt::format("no metric has slot {}", slot);
  std::string why = metrics::CustomMetrics::refusal(current_.at(slot).kind, value);
  if (!why.empty()) return why;
  if (state_ == State::kImporting)
    return "values can be added only while a run is on (in a task, a check or a hook), not "
           "while the file is imported";
  if (state_ == State::kClosed) return {};
  const double at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  metrics::CustomMetrics* into = &current_;
  const std::thread::id self = std::this_thread::get_id();
  for (auto& [thread, values] : threads_)
    if (thread == self) into = &values;
  // A metric declared after the thread was kept apart: its slot there too.
  for (std::size_t i = into->size(); i <= slot; ++i)
    into->slot(current_.name_of(i), current_.at(i).kind);
  into->add(slot, value, at_s);
  return {};
}

void ScriptMetrics::keep_thread_apart(std::thread::id thread) {
  std::lock_guard lock(mu_);
  for (auto& [id, values] : threads_) {
    if (id == thread) {  // an id of an ended thread, used again
      values = current_.fresh();
      return;
    }
  }
  threads_.emplace_back(thread, current_.fresh());
}

metrics::CustomMetrics ScriptMetrics::take_thread(std::thread::id thread) {
  std::lock_guard lock(mu_);
  for (auto& [id, values] : threads_) {
    if (id != thread) continue;
    metrics::CustomMetrics out = values.fresh();
    std::swap(out, values);
    return out;
  }
  return {};
}

std::string ScriptMetrics::name_of(std::size_t slot) const {
  std::lock_guard lock(mu_);
  return slot < current_.size() ? current_.name_of(slot) : std::string("?");
}

void ScriptMetrics::open(std::chrono::steady_clock::time_point t0,
                         std::function<void(const std::string&)> stop_run) {
  std::lock_guard lock(mu_);
  current_ = current_.fresh();  // nothing of an earlier run in this process
  for (auto& [id, values] : threads_) values = values.fresh();
  t0_ = t0;
  stop_run_ = std::move(stop_run);
  state_ = State::kOpen;
}

void ScriptMetrics::close() {
  std::lock_guard lock(mu_);
  state_ = State::kClosed;
  stop_run_ = nullptr;
}

metrics::CustomMetrics ScriptMetrics::take() {
  std::lock_guard lock(mu_);
  metrics::CustomMetrics out = current_.fresh();
  std::swap(out, current_);
  return out;
}

void ScriptMetrics::refuse(const std::string& message) {
  std::function<void(const std::string&)> stop;
  {
    std::lock_guard lock(mu_);
    stop = stop_run_;
  }
  if (stop) stop(message);
}

ScriptMetrics::State ScriptMetrics::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

namespace {

// loadpilot.metrics.MetricError, once the package registered it; else
// ValueError.
PyObject* error_type = nullptr;

[[noreturn]] void raise(const std::string& message) {
  PyErr_SetString(error_type != nullptr ? error_type : PyExc_ValueError, message.c_str());
  throw py::error_already_set();
}

// The hot path of `metric.add(value)`: a float or int (bool included)
// without a detour through pybind11's overload resolution.
void add_value(std::size_t slot, py::handle value) {
  double v = 0;
  PyObject* o = value.ptr();
  if (PyFloat_CheckExact(o)) {
    v = PyFloat_AS_DOUBLE(o);
  } else if (PyLong_Check(o) || PyFloat_Check(o)) {
    v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      raise(fmt::format("{}.add(): the number is too large for a metric",
                        ScriptMetrics::instance().name_of(slot)));
    }
  } else {
    raise(fmt::format("{}.add(): takes a number, got {} {}",
                      ScriptMetrics::instance().name_of(slot), Py_TYPE(o)->tp_name,
                      py::repr(value).cast<std::string>()));
  }
  const std::string why = ScriptMetrics::instance().add(slot, v);
  if (!why.empty())
    raise(fmt::format("{}.add({}): {}", ScriptMetrics::instance().name_of(slot),
                      py::repr(value).cast<std::string>(), why));
}

// `add` as a plain CPython fast call: the hot path of every metric.add(),
// without pybind11's argument matching.
PyObject* fast_add(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "add() takes a slot and a value");
    return nullptr;
  }
  const std::size_t slot = PyLong_AsSize_t(args[0]);
  if (slot == static_cast<std::size_t>(-1) && PyErr_Occurred()) return nullptr;
  try {
    add_value(slot, py::handle(args[1]));
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyMethodDef fast_add_def = {
    "add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_add)), METH_FASTCALL,
    "add(slot, value): adds VALUE to the custom metric of SLOT"};

}  // namespace

}  // namespace loadpilot::scenario

PYBIND11_EMBEDDED_MODULE(_loadpilot_metrics, m) {
  using loadpilot::scenario::ScriptMetrics;
  m.def("declare", [](const std::string& name, const std::string& kind, const std::string& where) {
    const auto k = loadpilot::metrics::custom_kind_from_name(kind);
    if (!k) throw py::value_error("unknown metric kind " + kind);
    try {
      return ScriptMetrics::instance().declare(name, *k, where);
    } catch (const std::invalid_argument& e) {
      loadpilot::scenario::raise(e.what());
    }
  });
  m.add_object("add", py::reinterpret_steal<py::object>(
                          PyCFunction_NewEx(&loadpilot::scenario::fast_add_def, nullptr, nullptr)));
  m.def("refuse", [](const std::string& message) { ScriptMetrics::instance().refuse(message); });
  m.def("set_error_type", [](py::handle type) {
    Py_XINCREF(type.ptr());
    loadpilot::scenario::error_type = type.ptr();
  });
}
