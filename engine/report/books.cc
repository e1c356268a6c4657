#include "report/books.h"

#include <fmt/format.h>

#include <cmath>

namespace loadpilot::report {

std::vector<std::string> check_books(const Summary& s, bool scheduled) {
  std::vector<std::string> out;
  const std::string why =
      "the counts do not add up, so the results cannot be trusted (docs/output.md#iterations)";
  if (scheduled) {
    const auto planned = static_cast<std::uint64_t>(std::ceil(s.planned_iterations - 1e-9));
    if (s.started > planned)
      out.push_back(fmt::format("the books do not hold: {} iterations started of {} planned; {}",
                                s.started, planned, why));
    else if (s.started + s.dropped + s.not_started != planned)
      out.push_back(fmt::format(
          "the books do not hold: planned {} != started {} + dropped {} + not started {}; {}",
          planned, s.started, s.dropped, s.not_started, why));
  }
  if (s.started != s.iterations + s.cut_off)
    out.push_back(fmt::format("the books do not hold: started {} != finished {} + cut off {}; {}",
                              s.started, s.iterations, s.cut_off, why));
  // Each iteration that reached the wire counted its requests before it
  // ended: fewer requests than such iterations means requests went
  // uncounted (or iterations were counted twice).
  for (const TaskSummary& t : s.tasks) {
    if (t.wire_known && t.requests < t.wire_iterations)
      out.push_back(
          fmt::format("the books do not hold: task {} counted {} requests but {} iterations that "
                      "sent at least one; {}",
                      t.name, t.requests, t.wire_iterations, why));
  }
  return out;
}

}  // namespace loadpilot::report
