#include "http/request.h"

#include "build_info.h"
#include "http/ascii.h"

namespace loadpilot::http {
namespace {

// A CR or LF smuggled into a header or the request line would let a value
// start a new header (or a new request), so they are dropped, never sent.
void append_clean(std::string* out, std::string_view s) {
  for (char c : s) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
}

bool caller_set(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return true;
  }
  return false;
}

}  // namespace

const std::string& user_agent() {
  static const std::string agent = std::string("loadpilot/") + loadpilot::kVersion;
  return agent;
}

std::string build_request(const Target& target, std::string_view method, std::string_view path,
                          const Headers& headers, std::string_view body) {
  std::string out;
  std::size_t size = method.size() + target.base_path.size() + path.size() + body.size() + 128;
  for (const auto& [key, value] : headers) size += key.size() + value.size() + 4;
  out.reserve(size);

  append_clean(&out, method);
  out += ' ';
  append_clean(&out, target.base_path);
  if (path.empty()) {
    if (target.base_path.empty()) out += '/';
  } else {
    if (path[0] != '/' && path[0] != '?') out += '/';
    append_clean(&out, path);
  }
  out += " HTTP/1.1\r\n";

  if (!caller_set(headers, "host")) {
    out += "Host: ";
    append_clean(&out, target.host_header);
    out += "\r\n";
  }
  if (!caller_set(headers, "user-agent")) {
    out += "User-Agent: ";
    out += user_agent();
    out += "\r\n";
  }
  for (const auto& [key, value] : headers) {
    append_clean(&out, key);
    out += ": ";
    append_clean(&out, value);
    out += "\r\n";
  }
  const bool wants_length = !body.empty() || iequals(method, "POST") || iequals(method, "PUT") ||
                            iequals(method, "PATCH");
  if (wants_length && !caller_set(headers, "content-length")) {
    out += "Content-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace loadpilot::http
