#include "plan/suggest.h"

#include <algorithm>
#include <cstddef>

namespace loadpilot::plan {

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of neighbours ("rnu" -> "run") each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  const auto bare = [](std::string_view s) {
    while (!s.empty() && s.front() == '-') s.remove_prefix(1);
    return s;
  };
  const std::string_view w = bare(word);
  if (w.empty()) return "";
  // A unique prefix ("--dur") is what was meant.
  std::vector<std::string> prefixed;
  for (const std::string& c : candidates)
    if (bare(c).starts_with(w) && c.starts_with(word.substr(0, word.size() - w.size())))
      prefixed.push_back(c);
  if (prefixed.size() == 1) return prefixed.front();
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, w.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(w, bare(c));
    if (d < best_distance && d < bare(c).size()) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace loadpilot::plan
