#include "cli/dotenv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace loadpilot::cli {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_key(std::string_view k) {
  if (k.empty()) return false;
  const auto alpha = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!alpha(k.front())) return false;
  for (char c : k)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// Shown in messages: the line as written, shortened and without controls.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (s.size() > 60) out += "...";
  return out;
}

// Parses the value part (after '='). Returns false with *why on an
// unterminated quote or text after a closing quote.
bool parse_value(std::string_view v, std::string* out, std::string* why) {
  v = trim(v);
  out->clear();
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    const char q = v.front();
    std::size_t i = 1;
    bool closed = false;
    for (; i < v.size(); ++i) {
      const char c = v[i];
      if (c == q) {
        closed = true;
        ++i;
        break;
      }
      if (q == '"' && c == '\\' && i + 1 < v.size()) {
        const char e = v[++i];
        switch (e) {
          case 'n':
            *out += '\n';
            break;
          case 't':
            *out += '\t';
            break;
          case '"':
            *out += '"';
            break;
          case '\\':
            *out += '\\';
            break;
          default:
            *out += '\\';
            *out += e;
        }
        continue;
      }
      *out += c;
    }
    if (!closed) {
      *why = fmt::format("the value's {} quote is not closed", q == '"' ? "double" : "single");
      return false;
    }
    const std::string_view rest = trim(v.substr(i));
    if (!rest.empty() && rest.front() != '#') {
      *why = "text after the closing quote";
      return false;
    }
    return true;
  }
  // Unquoted: a comment starts at " #" (or a '#' that opens the value).
  std::size_t end = v.size();
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] == '#' && (i == 0 || is_space(v[i - 1]))) {
      end = i;
      break;
    }
  *out = std::string(trim(v.substr(0, end)));
  return true;
}

}  // namespace

bool parse_dotenv(std::string_view text, std::vector<DotenvEntry>* entries, std::string* error) {
  std::vector<DotenvEntry> parsed;
  int number = 1;  // of the line being read
  for (std::size_t start = 0; start <= text.size(); ++number) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.substr(0, 7) == "export " || line.substr(0, 7) == "export\t")
      line = trim(line.substr(7));
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      *error = fmt::format("{}: expected KEY=VALUE (got \"{}\")", number, shown(raw));
      return false;
    }
    const std::string_view key = trim(line.substr(0, eq));
    if (!valid_key(key)) {
      *error = fmt::format(
          "{}: the name must be letters, digits and _, not starting with a digit (got \"{}\")",
          number, shown(key));
      return false;
    }
    DotenvEntry e{std::string(key), {}, number};
    std::string why;
    if (!parse_value(line.substr(eq + 1), &e.value, &why)) {
      *error = fmt::format("{}: {} (got \"{}\")", number, why, shown(raw));
      return false;
    }
    parsed.push_back(std::move(e));
  }
  *entries = std::move(parsed);
  return true;
}

bool load_dotenv(const std::string& path, std::vector<std::string>* applied, std::string* error) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return true;
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path, ec)) {
    *error = fmt::format("{}: cannot be read", path);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::vector<DotenvEntry> entries;
  std::string why;
  if (!parse_dotenv(text.str(), &entries, &why)) {
    *error = fmt::format("{}:{}", path, why);
    return false;
  }
  for (const DotenvEntry& e : entries) {
    if (std::getenv(e.key.c_str())) continue;  // the environment wins
    if (::setenv(e.key.c_str(), e.value.c_str(), 0) != 0) {
      *error = fmt::format("{}:{}: cannot set {}: {}", path, e.line, e.key, std::strerror(errno));
      return false;
    }
    if (applied) applied->push_back(e.key);
  }
  return true;
}

}  // namespace loadpilot::cli
