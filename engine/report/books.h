#pragma once
// The books of a run (docs/output.md#iterations), checked once at its end
// in build_summary(), which every run passes through — local, local agents,
// external agents, the coordinator service and its client:
//   planned = started + dropped + not started   (a schedule: not rps="max")
//   started <= planned
//   started = finished + cut off
// and per task (each row of Summary::tasks whose count is known):
//   requests >= iterations that reached the wire (sent a request)
// Counts merged from other processes (agents' frames) can break them — a
// frame counted twice, a forged one — and numbers that do not add up must
// never read as a pass: each violation is a sentence for
// Summary::problems, which fails the run (exit code 1).
//
// Thread-safety: a pure function.
#include <string>
#include <vector>

#include "report/summary.h"

namespace loadpilot::report {

// `scheduled`: the run had a schedule of iterations (not a closed loop).
std::vector<std::string> check_books(const Summary& s, bool scheduled);

}  // namespace loadpilot::report
