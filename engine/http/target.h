#pragma once
// Target: the base URL a run sends to (`--target`). Paths from tasks are
// appended to base_path.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loadpilot::http {

struct Target {
  std::string scheme;       // "http" or "https"
  std::string host;         // name or address, IPv6 without brackets
  std::uint16_t port = 0;   // explicit or the scheme's default
  std::string base_path;    // "" or "/prefix" (no trailing slash)
  std::string host_header;  // value of the Host header: host[:port]
  bool tls() const { return scheme == "https"; }

  // Accepts http:// and https:// URLs with a host; on failure returns
  // nullopt and sets *error to a one-line reason naming the bad part. A
  // host whose last label is a number must be a strict IPv4 address (four
  // decimal parts 0..255), a bracketed one a valid IPv6 address: resolvers
  // would read "999.1.1.1" or "1.2.3" as some other address.
  static std::optional<Target> parse(std::string_view url, std::string* error);
};

}  // namespace loadpilot::http
