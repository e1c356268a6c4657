#pragma once
// Rounding for the numbers the report and results files carry.
#include <cmath>

namespace loadpilot::report {

// X rounded to a multiple of UNIT (a power of ten: 0.01, 0.001). Keeps the
// serialized numbers short ("12.345", not "12.345000000000001"); the
// precision kept is far below what is measured. Dividing by an exact power
// of ten gives the double nearest the decimal, which prints shortest
// ("0.173", not "0.17300000000000001").
inline double round_to(double x, double unit) {
  const double scale = std::round(1.0 / unit);
  return std::round(x * scale) / scale;
}

}  // namespace loadpilot::report
