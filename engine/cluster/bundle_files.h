#pragma once
// Writing a scenario bundle (cluster/protocol.h) into a fresh folder, as the
// coordinator service does before each run
// (docs/distributed.md#the-coordinator-service).
//
// Bundle::from_json already refused absolute paths, "." and ".." parts and
// empty parts, so every path lands inside the folder. What is checked here
// is what would keep the files from being written at all: a file that is
// also the folder of another ("a" and "a/b.py"), a name over the file
// system's limit, a path too long to open, or a name the run itself writes.
//
// Thread-safety: the functions share no state.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/protocol.h"

namespace loadpilot::agents::protocol {

// One part of a path (NAME_MAX of the common file systems).
inline constexpr std::size_t kMaxBundleNameBytes = 255;
// A whole path in the bundle (leaves room under PATH_MAX for the folder).
inline constexpr std::size_t kMaxBundlePathBytes = 1024;
// Names in the run's folder that the run writes itself.
inline constexpr std::string_view kPlanFile = ".plan.json";
inline constexpr std::string_view kResultsFile = ".results.json";

// Every reason the bundle's files cannot be written into an empty folder,
// each naming its entry ("bundle: ..."); empty when they can.
std::vector<std::string> bundle_layout_problems(const Bundle& bundle);

// A path for a message: as is when short, else its start and its length.
std::string shown_path(std::string_view path);

struct BundleWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Makes a fresh folder "<$TMPDIR or /tmp>/<prefix>XXXXXX" and writes the
// bundle's files into it, and `plan_json` as kPlanFile. On any failure
// nothing is left: the folder is removed and BundleWriteError names the
// entry and why. Check bundle_layout_problems() first for the caller's
// mistakes; what remains is the machine's (a full disk, no permission).
std::filesystem::path unpack_bundle(const Bundle& bundle, std::string_view prefix,
                                    std::string_view plan_json);

}  // namespace loadpilot::agents::protocol
