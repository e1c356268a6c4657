#pragma once
// Wall-clock timestamps for machine-read outputs: RFC 3339 in UTC with
// milliseconds ("2026-11-25T09:00:00.123Z"), the `ts` of every ndjson line
// (docs/output.md#--output-ndjson). Thread-safe (gmtime_r).
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <string>

namespace loadpilot::report {

inline std::string rfc3339_ms(std::chrono::system_clock::time_point at) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
  // Floor division, so that instants before 1970 still print a valid time.
  const long long secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms - secs * 1000);
}

inline std::string rfc3339_now_ms() { return rfc3339_ms(std::chrono::system_clock::now()); }

}  // namespace loadpilot::report
