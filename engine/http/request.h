#pragma once
// Serialises HTTP/1.1 requests. Native tasks build their bytes once and
// reuse them for every iteration.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/target.h"

namespace loadpilot::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Builds "METHOD base_path+path HTTP/1.1" with Host, User-Agent
// (loadpilot/<version> unless the caller set one), Content-Length when a
// body is present or the method is POST/PUT/PATCH, and the caller's headers.
// Throws std::invalid_argument, naming the field and its value, for a
// method or header name that is not a token, a path with a space, or a CR,
// LF or NUL in the path or a header value: such bytes would change the
// request's framing, so they are refused rather than sent or stripped.
std::string build_request(const Target& target, std::string_view method, std::string_view path,
                          const Headers& headers, std::string_view body);

// "loadpilot/<version>", made once: every Python request is built anew.
const std::string& user_agent();

}  // namespace loadpilot::http
