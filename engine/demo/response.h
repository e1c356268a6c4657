#pragma once
// Response serialisation for the demo server: status line, Content-Type,
// Content-Length, Location when given, Connection when it differs from the
// version's default, then the body.
#include <string>
#include <string_view>

namespace loadpilot::demo {

// Appends a complete response to `out`. `keep_alive`: whether the
// connection stays open after it; `http10`: the request was HTTP/1.0 (so
// keep-alive has to be announced). `head_only`: the request was HEAD, so
// the body is described but not sent. `location`: the Location header's
// value, sent when not empty (the caller checked it holds no CR or LF).
void append_response(std::string& out, int status, std::string_view body, bool keep_alive,
                     bool http10, bool head_only = false, std::string_view location = {});

// The interim response to "Expect: 100-continue".
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The JSON body sent with a parser error status (400, 411, 413, 431, 505).
std::string_view error_body(int status);

}  // namespace loadpilot::demo
