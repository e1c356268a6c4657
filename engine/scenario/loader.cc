// load_scenarios(): runs loadpilot._describe.describe_file() in the embedded
// interpreter and turns Python failures into ScenarioError messages.
#include "scenario/loader.h"

#include <pybind11/embed.h>

#include <filesystem>
#include <system_error>

#include "scenario/interpreter.h"

namespace py = pybind11;

namespace loadpilot::scenario {
namespace {

// "ExcType: message" for a Python error that has no better location.
std::string short_description(const py::error_already_set& e) {
  std::string type = "Exception";
  std::string message;
  try {
    type = py::str(e.type().attr("__name__"));
    message = py::str(e.value());
  } catch (const std::exception&) {
    PyErr_Clear();
  }
  return message.empty() ? type : type + ": " + message;
}

// Scenario code may print while it is loaded; make that visible before the
// engine starts writing its own output.
void flush_python_stdio() {
  try {
    py::module_ sys = py::module_::import("sys");
    for (const char* stream : {"stdout", "stderr"}) {
      py::object s = sys.attr(stream);
      if (!s.is_none()) s.attr("flush")();
    }
  } catch (const std::exception&) {
    PyErr_Clear();
  }
}

// The description JSON, or a ScenarioError in the user's terms.
std::string describe(const std::string& file) {
  py::module_ describer;
  try {
    describer = py::module_::import("loadpilot._describe");
  } catch (const py::error_already_set& e) {
    throw ScenarioError("cannot import the loadpilot Python package (looked in " +
                        bundled_python_dir() +
                        "; set LOADPILOT_PYTHON_DIR to override): " + short_description(e));
  }
  try {
    std::string json = describer.attr("describe_file")(file).cast<std::string>();
    flush_python_stdio();
    return json;
  } catch (py::error_already_set& e) {
    flush_python_stdio();
    if (e.matches(describer.attr("ScenarioLoadError"))) {
      throw ScenarioError(py::str(e.value()).cast<std::string>());
    }
    throw ScenarioError(file +
                        ": internal error while describing the scenario: " + short_description(e));
  }
}

}  // namespace

std::vector<ScenarioInfo> load_scenarios(const std::string& file) {
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) throw ScenarioError("scenario file not found: " + file);
  if (std::filesystem::is_directory(status)) {
    throw ScenarioError("scenario path is a directory, not a file: " + file);
  }

  nlohmann::json list;
  try {
    ensure_interpreter();
    py::gil_scoped_acquire gil;
    list = nlohmann::json::parse(describe(file));
  } catch (const ScenarioError&) {
    throw;
  } catch (const std::exception& e) {  // json parse errors, pybind11 cast errors, ...
    throw ScenarioError(file + ": internal error while loading the scenario: " + e.what());
  }

  std::vector<ScenarioInfo> scenarios;
  if (list.is_array()) {
    for (const nlohmann::json& item : list) {
      if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) continue;
      ScenarioInfo info;
      info.name = item["name"].get<std::string>();
      if (auto doc = item.find("doc"); doc != item.end() && doc->is_string()) {
        info.doc = doc->get<std::string>();
      }
      info.description = item;
      scenarios.push_back(std::move(info));
    }
  }
  if (scenarios.empty()) {
    throw ScenarioError(
        file + ": no @scenario class found (decorate a VUser subclass with @scenario(...))");
  }
  return scenarios;
}

}  // namespace loadpilot::scenario
