#include "plan/duration.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace loadpilot::plan {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the unsigned decimal number at the start of s ("12", "1.5",
// ".5"), or 0 when there is none.
size_t number_length(std::string_view s) {
  size_t i = 0, digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  return digits == 0 ? 0 : i;
}

std::optional<double> to_double(std::string_view s) {
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

struct Unit {
  std::string_view suffix;
  double seconds;
};
// Longest suffix first so "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {{"ms", 0.001}, {"h", 3600}, {"m", 60}, {"s", 1}};

}  // namespace

std::optional<double> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;

  if (size_t n = number_length(text); n == text.size()) return to_double(text);

  // Components must come largest unit first, each at most once ("1h2m3s").
  double total = 0;
  double last_unit = INFINITY;
  while (!text.empty()) {
    size_t n = number_length(text);
    if (n == 0) return std::nullopt;
    auto value = to_double(text.substr(0, n));
    if (!value) return std::nullopt;
    text.remove_prefix(n);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.starts_with(u.suffix)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr || unit->seconds >= last_unit) return std::nullopt;
    text.remove_prefix(unit->suffix.size());
    total += *value * unit->seconds;
    last_unit = unit->seconds;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

}  // namespace loadpilot::plan
