#pragma once
// Duration strings as users write them in @scenario and on the command line:
// "30s", "2m", "1m30s", "1h", "1h2m3s", "250ms", "1.5s", or bare seconds
// ("45", "2.5"). Returns seconds, or nullopt when the text is not a duration.
#include <optional>
#include <string_view>

namespace loadpilot::plan {

std::optional<double> parse_duration(std::string_view text);

}  // namespace loadpilot::plan
