#include "run/process_faults.h"

#include <fmt/format.h>

#include <cstdlib>
#include <exception>
#include <filesystem>

#include "build_info.h"
#include "run/exit_codes.h"

namespace loadpilot::cli {

// The docs/ folder the help and the messages cite: beside an installed
// binary (relative to its own folder, so a moved prefix still finds it),
// else the source tree's.
std::string docs_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path() / kInstalledDocsDir;
    if (std::filesystem::is_directory(installed, ec))
      return std::filesystem::weakly_canonical(installed, ec).string();
  }
  return kSourceDocsDir;
}

int internal_error(const std::string& what) {
  fmt::print(stderr,
             "internal error: {}\n(a fault in LoadPilot itself, not in the command line or the "
             "scenario; please report it with the command that caused it)\n",
             what);
  return kExitInternal;
}

// An exception that escaped a thread, or a std::thread destroyed while
// joinable: still LoadPilot's fault, and still exit 3 rather than a core
// dump that looks like a crash of the target.
void on_terminate() {
  std::string what = "terminated without an exception";
  if (std::exception_ptr ep = std::current_exception()) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception of unknown type";
    }
  }
  internal_error(what);
  std::_Exit(kExitInternal);
}

}  // namespace loadpilot::cli
