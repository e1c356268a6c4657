#include "report/output_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace loadpilot::report {

namespace {

namespace fs = std::filesystem;

bool make_parent(const std::string& path, std::string* error) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return true;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    *error = fmt::format("{}: cannot create folder {}: {}", path, parent.string(), ec.message());
    return false;
  }
  return true;
}

std::string temp_beside(const std::string& path) {
  return fmt::format("{}.tmp-{}", path, ::getpid());
}

}  // namespace

bool prepare_output(const std::string& path, std::string* error) {
  if (path.empty()) {
    *error = "an output path is empty";
    return false;
  }
  if (!make_parent(path, error)) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    *error = fmt::format("{}: is {}", path,
                         S_ISDIR(st.st_mode) ? "a folder, not a file"
                                             : "a device, pipe or socket, not a regular file");
    return false;
  }
  // The file itself is replaced by rename, so what must be writable is its
  // folder: create and remove the temporary the real write will use.
  const std::string probe = temp_beside(path);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = fmt::format("{}: cannot write there: {}", path, std::strerror(errno));
    return false;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

bool write_file_atomically(const std::string& path, std::string_view content, std::string* error) {
  if (!make_parent(path, error)) return false;
  const std::string tmp = temp_beside(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const auto fail = [&](int err) {
    *error = fmt::format("cannot write {}: {}", path, std::strerror(err));
    ::unlink(tmp.c_str());
    return false;
  };
  if (fd < 0) return fail(errno);
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return fail(err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return fail(errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
  return true;
}

}  // namespace loadpilot::report
