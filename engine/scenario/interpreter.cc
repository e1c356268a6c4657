#include "scenario/interpreter.h"

#include <pybind11/embed.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "build_info.h"
#include "scenario/loader.h"

namespace py = pybind11;

namespace loadpilot::scenario {
namespace {

// The CPython the engine links against. Naming it keeps Python from
// resolving "python3" through PATH, which may find a pyenv or virtualenv
// interpreter whose standard library does not match the linked libpython.
constexpr const char* kPythonExecutable = "/usr/bin/python3";

// Runs once after start-up; package_dir is passed in as a global.
constexpr const char* kConfigureSysPath = R"(
import os, site, sys

venv = os.environ.get("VIRTUAL_ENV")
if venv:
    packages = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    if os.path.isdir(packages):
        before = list(sys.path)
        site.addsitedir(packages)  # also processes its .pth files
        added = [p for p in sys.path if p not in before]
        # The venv's packages shadow the system ones, as under the venv's python.
        at = next((i for i, p in enumerate(before)
                   if p.endswith(("site-packages", "dist-packages"))), len(before))
        sys.path[:] = before[:at] + added + before[at:]

if package_dir not in sys.path:
    sys.path.append(package_dir)
)";

void start() {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, kPythonExecutable);
  if (PyStatus_Exception(status)) {
    PyConfig_Clear(&config);
    throw InternalError("cannot configure the embedded Python interpreter");
  }
  // Finalized by the static's destructor at exit, which also flushes
  // Python's buffered stdout/stderr.
  static py::scoped_interpreter interpreter(&config, 0, nullptr, false);
}

}  // namespace

std::string bundled_python_dir() {
  if (const char* env = std::getenv("LOADPILOT_PYTHON_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path() / kInstalledPythonDir;
    if (std::filesystem::is_directory(installed, ec)) {
      return std::filesystem::weakly_canonical(installed, ec).string();
    }
  }
  return kPythonDir;
}

void ensure_interpreter() {
  static bool configured = false;
  if (configured) return;
  try {
    if (!Py_IsInitialized()) start();
    py::dict globals;
    globals["package_dir"] = bundled_python_dir();
    py::exec(kConfigureSysPath, globals);
  } catch (const InternalError&) {
    throw;
  } catch (const std::exception& e) {
    throw InternalError(std::string("cannot start the embedded Python interpreter: ") + e.what());
  }
  configured = true;
}

}  // namespace loadpilot::scenario
