#pragma once
// The process's one embedded CPython interpreter (Debian's /usr/bin/python3
// build, linked in). Started on first use and finalized at process exit.
//
// It is configured like `python3 FILE` in the user's shell: PYTHONPATH and
// other PYTHON* variables are honoured, `site` runs (user site-packages
// included), $VIRTUAL_ENV's site-packages are added ahead of the system
// ones, and the bundled `loadpilot` package directory is appended to
// sys.path. Python does not install signal handlers: Ctrl-C belongs to the
// engine. The scenario's own folder is put at sys.path[0] per load by
// loadpilot._describe.
//
// Thread-safety: call from the main thread only. After
// ensure_interpreter() returns, the calling thread holds the GIL.
#include <string>

namespace loadpilot::scenario {

// Starts the interpreter if it is not running yet. Throws InternalError when
// it cannot be started.
void ensure_interpreter();

// Where the bundled `loadpilot` package is looked for, first match wins:
//   1. $LOADPILOT_PYTHON_DIR (tests and development checkouts),
//   2. <folder of the executable>/../share/loadpilot/python (installed;
//      the path is kInstalledPythonDir from build_info.h),
//   3. loadpilot::kPythonDir from build_info.h (the source tree's cli/).
std::string bundled_python_dir();

}  // namespace loadpilot::scenario
