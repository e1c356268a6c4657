#include "report/text_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace loadpilot::report {

namespace {

// One step through TEXT at POS: an escape sequence (columns 0), or one
// code point (its columns). Returns the byte length of the step.
struct Step {
  std::size_t bytes = 1;
  int columns = 1;
  bool escape = false;
};

bool wide(char32_t c) {
  // East Asian Wide and Fullwidth blocks, and the emoji planes terminals
  // draw two columns wide.
  return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
         (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
         (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
         (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
         (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
}

bool combining(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x20D0 && c <= 0x20FF);
}

Step step_at(std::string_view s, std::size_t pos) {
  Step st;
  const auto b = static_cast<unsigned char>(s[pos]);
  if (b == 0x1B && pos + 1 < s.size() && s[pos + 1] == '[') {
    // CSI: parameters and intermediates up to a final byte 0x40-0x7E.
    std::size_t end = pos + 2;
    while (end < s.size() && !(s[end] >= 0x40 && s[end] <= 0x7E)) ++end;
    st.bytes = std::min(end + 1, s.size()) - pos;
    st.columns = 0;
    st.escape = true;
    return st;
  }
  if (b < 0x80) return st;
  int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
  if (len == 0 || pos + len > s.size()) return st;  // stray byte: one column
  char32_t c = b & (0xFF >> (len + 1));
  for (int i = 1; i < len; ++i) {
    const auto cont = static_cast<unsigned char>(s[pos + i]);
    if ((cont & 0xC0) != 0x80) return st;
    c = (c << 6) | (cont & 0x3F);
  }
  st.bytes = static_cast<std::size_t>(len);
  st.columns = combining(c) ? 0 : wide(c) ? 2 : 1;
  return st;
}

}  // namespace

int display_width(std::string_view text) {
  int w = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const Step st = step_at(text, pos);
    w += st.columns;
    pos += st.bytes;
  }
  return w;
}

std::string fit_width(std::string_view text, int width) {
  if (display_width(text) <= width) return std::string(text);
  if (width <= 0) return "";
  std::string out;
  bool styled = false;
  int used = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const Step st = step_at(text, pos);
    if (st.escape) {
      out.append(text.substr(pos, st.bytes));
      styled = true;
    } else {
      if (used + st.columns > width - 1) break;  // keep a column for "…"
      out.append(text.substr(pos, st.bytes));
      used += st.columns;
    }
    pos += st.bytes;
  }
  out += "…";
  if (styled) out += "\033[0m";
  return out;
}

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) c = '?';
  }
  return out;
}

std::string pad(std::string_view text, int width, bool left) {
  const int w = display_width(text);
  if (w >= width) return std::string(text);
  const std::string fill(static_cast<std::size_t>(width - w), ' ');
  return left ? std::string(text) + fill : fill + std::string(text);
}

std::vector<std::string> wrap_words(std::string_view text, int width, std::string_view first,
                                    std::string_view indent) {
  std::vector<std::string> lines;
  std::string line(first);
  bool empty = true;  // no word on LINE yet
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) break;
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(pos, end - pos);
    pos = end;
    const int need = display_width(line) + (empty ? 0 : 1) + display_width(word);
    if (!empty && need > width) {
      lines.push_back(line);
      line = std::string(indent);
      empty = true;
    }
    if (!empty) line += ' ';
    line += word;
    empty = false;
    if (display_width(line) > width) {
      lines.push_back(fit_width(line, width));
      line = std::string(indent);
      empty = true;
    }
  }
  if (!empty || lines.empty()) lines.push_back(line);
  return lines;
}

std::string format_bytes(double n) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  std::size_t u = 0;
  while (n >= 1000 && u + 1 < std::size(kUnits)) {
    n /= 1000;
    ++u;
  }
  if (u == 0) return fmt::format("{:.0f} B", n);
  const int decimals = n < 10 ? 2 : n < 100 ? 1 : 0;
  return fmt::format("{:.{}f} {}", n, decimals, kUnits[u]);
}

}  // namespace loadpilot::report
