// Fuzz target: writing a scenario bundle into a run's folder
// (cluster/bundle_files.h), as the coordinator service does with the bundle
// of each POST /run: Bundle::from_json, bundle_layout_problems and
// unpack_bundle.
//
// Input: a bundle as JSON, {"main": "...", "files": {"path": "content"}}.
// The harness adds the files' sha256, so the fuzzer explores paths rather
// than hashes.
//
// Invariants:
//  * from_json throws only std::invalid_argument or a JSON type error;
//  * problems are few (at most 11), short, and each says "bundle: ";
//  * a bundle without problems unpacks; its folder then holds exactly its
//    files (and the plan), with their contents, and nothing is written
//    beside the folder;
//  * a failed unpack says "bundle: cannot write" or "cannot make a folder"
//    and leaves nothing behind.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cluster/bundle_files.h"
#include "cluster/protocol.h"
#include "fuzz/fuzz_support.h"

namespace {

namespace fs = std::filesystem;
namespace proto = loadpilot::agents::protocol;

// A private $TMPDIR for this process, made once.
const fs::path& scratch() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "loadpilot-fuzz-bundle-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    setenv("TMPDIR", pattern.c_str(), 1);
    return fs::path(pattern);
  }();
  return dir;
}

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void check_unpacked(const fs::path& dir, const proto::Bundle& bundle) {
  FUZZ_CHECK(dir.parent_path() == scratch() && entries(scratch()) == 1,
             "the folder is not alone in $TMPDIR: " + dir.string());
  std::set<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    FUZZ_CHECK(!e.is_symlink(), "a link in the folder");
    if (e.is_regular_file()) found.insert(fs::relative(e.path(), dir).generic_string());
  }
  std::set<std::string> expected{std::string(proto::kPlanFile)};
  for (const auto& [path, content] : bundle.files) expected.insert(path);
  FUZZ_CHECK(found == expected, "the folder holds " + std::to_string(found.size()) +
                                    " files, the bundle " + std::to_string(expected.size()));
  for (const auto& [path, content] : bundle.files)
    FUZZ_CHECK(read(dir / path) == content, "the content of " + proto::shown_path(path));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!j.is_object()) return 0;
  if (j.contains("files") && j["files"].is_object()) {
    std::map<std::string, std::string> files;
    for (const auto& [path, content] : j["files"].items()) {
      if (!content.is_string()) return 0;
      files[path] = content.get<std::string>();
    }
    j["sha256"] = proto::bundle_hash(files);
  }
  proto::Bundle bundle;
  try {
    bundle = proto::Bundle::from_json(j);
  } catch (const std::invalid_argument&) {
    return 0;
  } catch (const nlohmann::json::exception&) {
    return 0;
  }
  const std::vector<std::string> problems = proto::bundle_layout_problems(bundle);
  FUZZ_CHECK(problems.size() <= 11, std::to_string(problems.size()) + " problems");
  for (const std::string& p : problems) {
    FUZZ_CHECK(p.rfind("bundle: ", 0) == 0, p);
    FUZZ_CHECK(p.size() < 400, "a problem of " + std::to_string(p.size()) + " bytes");
  }
  const fs::path& tmp = scratch();
  try {
    const fs::path dir = proto::unpack_bundle(bundle, "run-", "{}");
    // With problems it may still unpack (a long path the file system takes,
    // a reserved name the plan then overwrites); the service refuses it
    // before unpacking anyway.
    if (problems.empty()) check_unpacked(dir, bundle);
    fs::remove_all(dir);
  } catch (const proto::BundleWriteError& e) {
    const std::string what = e.what();
    FUZZ_CHECK(!problems.empty(), "a bundle without problems did not unpack: " + what);
    FUZZ_CHECK(
        what.rfind("bundle: cannot write \"", 0) == 0 || what.rfind("cannot make a folder", 0) == 0,
        what);
    FUZZ_CHECK(what.size() < 400, "a message of " + std::to_string(what.size()) + " bytes");
  }
  FUZZ_CHECK(entries(tmp) == 0, "left behind in $TMPDIR");
  return 0;
}
