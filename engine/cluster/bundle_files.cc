#include "cluster/bundle_files.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace loadpilot::agents::protocol {

namespace fs = std::filesystem;

namespace {

// At most this many problems are listed; a forged bundle may have thousands.
constexpr std::size_t kMaxProblems = 10;

void write_file(const fs::path& path, std::string_view content, const std::string& entry) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw BundleWriteError(
        fmt::format("bundle: cannot write \"{}\": {}", shown_path(entry), std::strerror(errno)));
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out)
    throw BundleWriteError(
        fmt::format("bundle: cannot write \"{}\": {}", shown_path(entry), std::strerror(errno)));
}

}  // namespace

std::string shown_path(std::string_view path) {
  if (path.size() <= 80) return std::string(path);
  return fmt::format("{}... ({} bytes)", path.substr(0, 60), path.size());
}

std::vector<std::string> bundle_layout_problems(const Bundle& bundle) {
  std::vector<std::string> problems;
  std::size_t more = 0;
  const auto add = [&](std::string problem) {
    if (problems.size() < kMaxProblems) {
      problems.push_back(std::move(problem));
    } else {
      ++more;
    }
  };
  for (const auto& [path, content] : bundle.files) {
    if (path.size() > kMaxBundlePathBytes) {
      add(fmt::format("bundle: file \"{}\": the path is over {} bytes", shown_path(path),
                      kMaxBundlePathBytes));
      continue;
    }
    // The run's own files sit at the top of the folder: no bundle file may
    // take their names, nor a bundle folder (".plan.json/x").
    const std::string_view top = std::string_view(path).substr(0, path.find('/'));
    if (top == kPlanFile || top == kResultsFile) {
      add(fmt::format("bundle: file \"{}\": the name \"{}\" is the run's own; rename it",
                      shown_path(path), top));
      continue;
    }
    std::size_t start = 0;
    for (;;) {
      const std::size_t slash = path.find('/', start);
      const std::size_t end = slash == std::string::npos ? path.size() : slash;
      if (end - start > kMaxBundleNameBytes) {
        add(fmt::format("bundle: file \"{}\": the name \"{}\" is over {} bytes", shown_path(path),
                        shown_path(std::string_view(path).substr(start, end - start)),
                        kMaxBundleNameBytes));
        break;
      }
      if (slash == std::string::npos) break;
      // The part so far must be a folder: no file may have that path.
      const std::string folder = path.substr(0, slash);
      if (bundle.files.count(folder) != 0) {
        add(fmt::format("bundle: file \"{}\": \"{}\" is a file in the bundle, not a folder",
                        shown_path(path), shown_path(folder)));
        break;
      }
      start = slash + 1;
    }
  }
  if (more > 0) problems.push_back(fmt::format("bundle: and {} more problems", more));
  return problems;
}

fs::path unpack_bundle(const Bundle& bundle, std::string_view prefix, std::string_view plan_json) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/{}XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
  if (mkdtemp(pattern.data()) == nullptr)
    throw BundleWriteError(
        fmt::format("cannot make a folder for the run ({}): {}", pattern, std::strerror(errno)));
  const fs::path dir(pattern);
  try {
    for (const auto& [rel, content] : bundle.files) {
      const fs::path path = dir / rel;
      std::error_code ec;
      fs::create_directories(path.parent_path(), ec);
      if (ec)
        throw BundleWriteError(
            fmt::format("bundle: cannot write \"{}\": {}", shown_path(rel), ec.message()));
      write_file(path, content, rel);
    }
    write_file(dir / kPlanFile, plan_json, std::string(kPlanFile));
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    throw;
  }
  return dir;
}

}  // namespace loadpilot::agents::protocol
