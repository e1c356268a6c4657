#pragma once
// The one way LoadPilot writes its output files (results JSON, HTML report,
// baseline): checked before a run sends anything, and replaced atomically
// so a reader never sees half a file (docs/output.md#output-files).
#include <string>
#include <string_view>

namespace loadpilot::report {

// Makes sure `path` can be written: creates missing parent folders, refuses
// a folder or a non-regular file at `path`, and probes that a file can be
// created beside it. On failure returns false with "PATH: reason" in *error.
bool prepare_output(const std::string& path, std::string* error);

// Writes `content` to a temporary file beside `path`, flushes it to disk
// and renames it over `path`. Creates missing parent folders. On failure
// returns false with "cannot write PATH: reason" in *error and leaves any
// previous file at `path` as it was.
bool write_file_atomically(const std::string& path, std::string_view content, std::string* error);

}  // namespace loadpilot::report
