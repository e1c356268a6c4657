#pragma once
// `loadpilot init [DIR]`: scaffolds a project — a commented example scenario,
// a Prometheus + Grafana set-up with the LoadPilot dashboard, a .gitignore.
//
// The files come from cli/loadpilot/templates/, compiled into the binary at
// build time (engine/cli/embed_templates.cmake), so an installed loadpilot
// needs no source tree. Existing files are never overwritten: each one is
// reported as skipped.
#include <span>
#include <string>
#include <string_view>

namespace loadpilot::cli {

struct EmbeddedFile {
  const char* path;  // relative to the templates root, '/'-separated
  std::string_view content;
};

// Every template file, sorted by path. Defined in the generated source.
std::span<const EmbeddedFile> embedded_templates();

// Where a template lands in the project: identical, except that files named
// "gitignore" become ".gitignore" (a real .gitignore inside the templates
// folder would apply to the LoadPilot repository itself).
std::string scaffold_path(std::string_view template_path);

// Writes the scaffold into `dir` (created if missing), printing one line per
// file (created / skipped). Returns an exit code: 0, or 2 with a message on
// stderr naming the path when something cannot be written.
int init_command(const std::string& dir);

}  // namespace loadpilot::cli
