#include "cli/init_command.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "cli/commands.h"

namespace loadpilot::cli {

namespace fs = std::filesystem;

std::string scaffold_path(std::string_view template_path) {
  const auto slash = template_path.rfind('/');
  const std::size_t base = slash == std::string_view::npos ? 0 : slash + 1;
  if (template_path.substr(base) != "gitignore") return std::string(template_path);
  return fmt::format("{}.gitignore", template_path.substr(0, base));
}

namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "error: init: {}\n", message);
  return kExitInvalid;
}

// Creates `path` exclusively: an existing file (even one created since the
// existence check) is left alone and reported as such.
enum class WriteResult { kCreated, kExists, kFailed };
WriteResult write_new_file(const fs::path& path, std::string_view content, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "wbx");
  if (f == nullptr) {
    if (errno == EEXIST) return WriteResult::kExists;
    *error = fmt::format("cannot create {}: {}", path.string(), std::strerror(errno));
    return WriteResult::kFailed;
  }
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  if (std::fclose(f) != 0 || !ok) {
    *error = fmt::format("cannot write {}: {}", path.string(), std::strerror(errno));
    return WriteResult::kFailed;
  }
  return WriteResult::kCreated;
}

}  // namespace

int init_command(const std::string& dir) {
  const fs::path root(dir.empty() ? "." : dir);
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec))
    return fail(fmt::format("{} exists and is not a directory", root.string()));

  std::vector<std::string> created, skipped;
  for (const EmbeddedFile& file : embedded_templates()) {
    const std::string rel = scaffold_path(file.path);
    const fs::path path = root / rel;
    if (fs::exists(fs::symlink_status(path, ec))) {
      fmt::print("  skipped  {} (exists, left unchanged)\n", path.string());
      skipped.push_back(rel);
      continue;
    }
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return fail(
          fmt::format("cannot create directory {}: {}", path.parent_path().string(), ec.message()));
    std::string error;
    switch (write_new_file(path, file.content, &error)) {
      case WriteResult::kCreated:
        fmt::print("  created  {}\n", path.string());
        created.push_back(rel);
        break;
      case WriteResult::kExists:
        fmt::print("  skipped  {} (exists, left unchanged)\n", path.string());
        skipped.push_back(rel);
        break;
      case WriteResult::kFailed:
        return fail(error);
    }
  }

  const std::string shown = root.string();
  fmt::print("init: {} file{} created, {} skipped in {}\n", created.size(),
             created.size() == 1 ? "" : "s", skipped.size(), shown);
  if (!created.empty()) {
    fmt::print(
        "\nNext:\n"
        "  docker compose -f {0}/monitoring/docker-compose.yml up -d   "
        "# Grafana :3000, Prometheus :9091\n"
        "  loadpilot run {0}/scenarios/example.py --target http://127.0.0.1:8000\n",
        shown);
  }
  return kExitOk;
}

}  // namespace loadpilot::cli
