#pragma once
// "Did you mean ...?": the candidate a mistyped word most likely meant, for
// the messages that refuse an unknown option, key or name.
#include <string>
#include <string_view>
#include <vector>

namespace loadpilot::plan {

// A unique prefix of one candidate, or the candidate within a small edit
// distance (leading dashes aside); empty when none is close.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace loadpilot::plan
