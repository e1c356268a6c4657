#include "http/request.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "build_info.h"
#include "http/ascii.h"

namespace loadpilot::http {
namespace {

// Quoted, with control characters escaped, so that the offending CR or LF
// shows in the message instead of breaking it.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + '"';
}

[[noreturn]] void reject(std::string_view field, std::string_view value, std::string_view why) {
  throw std::invalid_argument(fmt::format("request {} {}: {}", field, quoted(value), why));
}

// A CR or LF in a header or the request line would let a value start a new
// header (or a new request): never sent, whoever asks.
void check_line(std::string_view field, std::string_view value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    reject(field, value, "CR, LF and NUL are not allowed");
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

  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) {
    reject("method", method, "a method is a token (letters, digits, !#$%&'*+-.^_`|~)");
  }
  check_line("path", path);
  if (path.find_first_of(" \t") != std::string_view::npos) {
    reject("path", path, "spaces are not allowed (percent-encode them as %20)");
  }
  out += method;
  out += ' ';
  out += target.base_path;
  if (path.empty()) {
    if (target.base_path.empty()) out += '/';
  } else {
    if (path[0] != '/' && path[0] != '?') out += '/';
    out += path;
  }
  out += " HTTP/1.1\r\n";

  if (!caller_set(headers, "host")) {
    out += "Host: ";
    out += target.host_header;
    out += "\r\n";
  }
  if (!caller_set(headers, "user-agent")) {
    out += "User-Agent: ";
    out += user_agent();
    out += "\r\n";
  }
  for (const auto& [key, value] : headers) {
    if (key.empty() || !std::all_of(key.begin(), key.end(), is_tchar)) {
      reject("header name", key, "a header name is a token (letters, digits, !#$%&'*+-.^_`|~)");
    }
    check_line(fmt::format("header {} value", key), value);
    out += key;
    out += ": ";
    out += value;
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
