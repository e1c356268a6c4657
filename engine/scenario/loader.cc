// load_scenarios(): runs loadpilot._describe.describe_file() in the embedded
// interpreter and turns Python failures into ScenarioError messages.
#include "scenario/loader.h"

#include <fmt/format.h>
#include <pybind11/embed.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "scenario/grpc_module.h"
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

// What a non-regular file is, for the message.
const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The description JSON, or a ScenarioError in the user's terms.
std::string describe(const std::string& file, const DataShare& share) {
  py::module_ describer;
  try {
    describer = py::module_::import("loadpilot._describe");
  } catch (const py::error_already_set& e) {
    throw InternalError("cannot import the loadpilot Python package (looked in " +
                        bundled_python_dir() +
                        "; set LOADPILOT_PYTHON_DIR to override): " + short_description(e));
  }
  try {
    // Before the import: what the scenario prints goes to stderr, labelled
    // (stdout is LoadPilot's own: pure JSON with --output ndjson), and
    // os._exit()/os.abort() in its code are refused (they would end this
    // process without results); docs/scenarios.md#printing and
    // #ending-the-process. (A stand-in describer may not have it.)
    if (py::hasattr(describer, "embed")) describer.attr("embed")(file);
    std::string json = describer.attr("describe_file")(file, share.index, share.count, share.seed)
                           .cast<std::string>();
    flush_python_stdio();
    return json;
  } catch (py::error_already_set& e) {
    flush_python_stdio();
    if (e.matches(describer.attr("ScenarioLoadError"))) {
      throw ScenarioError(py::str(e.value()).cast<std::string>());
    }
    throw InternalError(file + ": describing the scenario failed: " + short_description(e));
  }
}

}  // namespace

void check_scenario_path(const std::string& file) {
  // stat() follows symbolic links and, unlike open(), never blocks: a FIFO
  // with no writer would hang the import forever, /dev/zero would never end.
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      throw ScenarioError("scenario file not found: " + file);
    throw ScenarioError(fmt::format("scenario file {}: {}", file, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    throw ScenarioError(
        fmt::format("scenario path {} is {}, not a regular file", file, file_kind(st.st_mode)));
  }
}

std::vector<ScenarioInfo> load_scenarios(const std::string& file, const DataShare& share) {
  check_scenario_path(file);
  link_grpc_module();

  nlohmann::json list;
  try {
    ensure_interpreter();
    py::gil_scoped_acquire gil;
    list = nlohmann::json::parse(describe(file, share));
  } catch (const ScenarioError&) {
    throw;
  } catch (const InternalError&) {
    throw;
  } catch (const std::exception& e) {  // json parse errors, pybind11 cast errors, ...
    throw InternalError(file + ": loading the scenario failed: " + e.what());
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

std::vector<std::string> local_module_files(const std::string& file) {
  try {
    py::gil_scoped_acquire gil;
    py::module_ describer = py::module_::import("loadpilot._describe");
    return nlohmann::json::parse(describer.attr("local_files")(file).cast<std::string>())
        .get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    throw InternalError(file + ": listing the scenario's modules failed: " + e.what());
  }
}

}  // namespace loadpilot::scenario
