#include "cli/picker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>

#include "report/text_fit.h"

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

int terminal_width(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

// Draws the picker; a redraw first moves up over the LINES of the last one.
std::size_t draw(int fd, const std::string& title, const std::vector<std::string>& items,
                 std::size_t current, std::size_t lines) {
  std::string s;
  if (lines > 0) s += fmt::format("\033[{}F", lines);
  const std::vector<std::string> text = picker_lines(title, items, current, terminal_width(fd));
  const std::size_t head = text.size() - items.size();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i >= head && i - head == current)
      s += "\033[7m" + text[i] + "\033[0m\033[K\n";
    else
      s += text[i] + "\033[K\n";
  }
  ssize_t n = write(fd, s.data(), s.size());
  (void)n;
  return text.size();
}
}  // namespace

std::vector<std::string> picker_lines(const std::string& title,
                                      const std::vector<std::string>& items, std::size_t current,
                                      int width) {
  width = std::max(width, 20);
  // One column spare: a line that fills the last column makes some
  // terminals wrap the cursor, which would throw the redraw off by one.
  const int usable = width - 1;
  std::vector<std::string> lines = report::wrap_words(
      report::printable(title) + " (↑/↓ and Enter, or a number; q to cancel)", usable, "", "  ");
  for (std::size_t i = 0; i < items.size(); ++i)
    lines.push_back(report::fit_width(
        fmt::format("{}{}. {}", i == current ? "> " : "  ", i + 1, report::printable(items[i])),
        usable));
  return lines;
}

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
    std::size_t drawn = draw(fd, title, items, current, 0);
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
      drawn = draw(fd, title, items, current, drawn);
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
