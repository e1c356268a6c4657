#include "cli/picker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

namespace loadpilot::cli {

namespace {
// Restores the terminal mode however the picker is left.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    ok_ = tcgetattr(fd_, &saved_) == 0;
    if (!ok_) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    tcsetattr(fd_, TCSANOW, &raw);
  }
  ~RawMode() {
    if (ok_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  bool ok() const { return ok_; }

 private:
  int fd_;
  termios saved_{};
  bool ok_ = false;
};

void draw(int fd, const std::string& title, const std::vector<std::string>& items,
          std::size_t current, bool redraw) {
  std::string s;
  if (redraw) s += fmt::format("\033[{}F", items.size() + 1);
  s += fmt::format("{} (↑/↓ and Enter, or a number; q to cancel)\033[K\n", title);
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == current)
      s += fmt::format("\033[7m> {}. {}\033[0m\033[K\n", i + 1, items[i]);
    else
      s += fmt::format("  {}. {}\033[K\n", i + 1, items[i]);
  }
  ssize_t n = write(fd, s.data(), s.size());
  (void)n;
}
}  // namespace

std::optional<std::size_t> pick_on_terminal(const std::string& title,
                                            const std::vector<std::string>& items) {
  const int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0 || items.empty()) return std::nullopt;
  std::optional<std::size_t> chosen;
  bool interrupted = false;
  {
    RawMode raw(fd);
    if (!raw.ok()) {
      close(fd);
      return std::nullopt;
    }
    std::size_t current = 0;
    draw(fd, title, items, current, false);
    for (;;) {
      char c = 0;
      if (read(fd, &c, 1) != 1) break;
      if (c == '\n' || c == '\r') {
        chosen = current;
        break;
      }
      if (c == 3 /* Ctrl-C */ || c == 0x1c /* Ctrl-\\ */) {
        interrupted = true;
        break;
      }
      if (c == 'q' || c == 4 /* Ctrl-D */) break;
      if (c >= '1' && c <= '9' && static_cast<std::size_t>(c - '1') < items.size()) {
        chosen = static_cast<std::size_t>(c - '1');
        break;
      }
      if (c == '\033') {
        char seq[2] = {0, 0};
        if (read(fd, &seq[0], 1) != 1 || read(fd, &seq[1], 1) != 1) continue;
        if (seq[0] == '[' && seq[1] == 'A' && current > 0) --current;
        if (seq[0] == '[' && seq[1] == 'B' && current + 1 < items.size()) ++current;
      } else if (c == 'k' && current > 0) {
        --current;
      } else if (c == 'j' && current + 1 < items.size()) {
        ++current;
      }
      draw(fd, title, items, current, true);
    }
  }
  close(fd);
  if (interrupted) {
    // The modes are back (RawMode is gone): now the interrupt the key
    // asked for. StartupInterrupt ends the process; should nothing be
    // watching, the pick counts as cancelled.
    const ssize_t n = write(STDERR_FILENO, "^C", 2);
    (void)n;
    kill(getpid(), SIGINT);
    for (int i = 0; i < 100; ++i) usleep(20'000);
    return std::nullopt;
  }
  return chosen;
}

}  // namespace loadpilot::cli
