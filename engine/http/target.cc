#include "http/target.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "http/ascii.h"

namespace loadpilot::http {
namespace {

// Registered names, IPv4 literals and percent-encoded names; anything else
// (spaces, quotes, control bytes) would corrupt the Host header.
bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '%';
}

bool valid_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.' || c == '%';
}

// True when the last label is a number (decimal, or hex with "0x"): such a
// host is an IPv4 address, and resolvers read short or out-of-range forms
// ("1.2.3", "999.1.1.1", "0x7f") as some other address instead of failing.
bool ends_in_number(std::string_view host) {
  while (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.size() > 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    last.remove_prefix(2);
    return std::all_of(last.begin(), last.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  }
  return !last.empty() &&
         std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::nullopt_t fail(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return std::nullopt;
}

// false for a failure (its message in *error).
bool failed(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return false;
}

// The host (a name, IPv4 or [IPv6]) of `authority` into t->host, and the
// text of its port, when it has one.
bool parse_authority(std::string_view authority, const std::string& quoted, Target* t,
                     std::optional<std::string_view>* port_text, bool* ipv6, std::string* error) {
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return failed(
          error, fmt::format("target: unterminated IPv6 address \"{}\" in {}", authority, quoted));
    }
    std::string_view addr = authority.substr(1, close - 1);
    if (addr.empty() || addr.find(':') == std::string_view::npos) {
      return failed(error, fmt::format("target: bad IPv6 address \"{}\" in {}", addr, quoted));
    }
    for (char c : addr) {
      if (!valid_ipv6_char(c)) {
        return failed(error, fmt::format("target: bad IPv6 address \"{}\" in {}", addr, quoted));
      }
    }
    const std::string bare(addr.substr(0, addr.find('%')));  // zone ("%eth0") aside
    in6_addr parsed{};
    if (inet_pton(AF_INET6, bare.c_str(), &parsed) != 1) {
      return failed(error, fmt::format("target: bad IPv6 address \"{}\" in {}", addr, quoted));
    }
    t->host = std::string(addr);
    *ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return failed(error, fmt::format("target: unexpected \"{}\" after IPv6 address in {}",
                                         after, quoted));
      }
      *port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      *port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return failed(error, fmt::format("target: missing host in {}", quoted));
    for (char c : host) {
      if (!valid_host_char(c)) {
        return failed(error, fmt::format("target: bad host \"{}\" in {}", host, quoted));
      }
    }
    in_addr parsed{};
    if (ends_in_number(host) && inet_pton(AF_INET, std::string(host).c_str(), &parsed) != 1) {
      return failed(error, fmt::format("target: bad IPv4 address \"{}\" in {} (four decimal "
                                       "parts, each from 0 to 255)",
                                       host, quoted));
    }
    t->host = std::string(host);
  }

  return true;
}

}  // namespace

std::optional<Target> Target::parse(std::string_view url, std::string* error) {
  const std::string quoted = fmt::format("\"{}\"", url);
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return fail(error,
                fmt::format("target: missing scheme in {} (use http:// or https://)", quoted));
  }
  Target t;
  t.scheme = ascii_lower(url.substr(0, sep));
  if (t.scheme != "http" && t.scheme != "https") {
    return fail(error,
                fmt::format("target: unsupported scheme \"{}\" in {} (use http:// or https://)",
                            url.substr(0, sep), quoted));
  }
  std::string_view rest = url.substr(sep + 3);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) {
    return fail(
        error, fmt::format("target: fragment \"{}\" not allowed in {}", rest.substr(hash), quoted));
  }
  const auto auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view path = auth_end == std::string_view::npos ? "" : rest.substr(auth_end);
  if (const auto at = authority.find('@'); at != std::string_view::npos) {
    return fail(error, fmt::format("target: user info \"{}\" not allowed in {}",
                                   authority.substr(0, at), quoted));
  }
  if (!path.empty() && path[0] == '?') {
    return fail(error,
                fmt::format("target: query \"{}\" not allowed in {} (put it in the task's path)",
                            path, quoted));
  }
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    return fail(error,
                fmt::format("target: query \"{}\" not allowed in {} (put it in the task's path)",
                            path.substr(q), quoted));
  }

  std::optional<std::string_view> port_text;
  bool ipv6 = false;
  if (!parse_authority(authority, quoted, &t, &port_text, &ipv6, error)) return std::nullopt;

  const std::uint16_t default_port = t.scheme == "https" ? 443 : 80;
  t.port = default_port;
  if (port_text) {
    unsigned long value = 0;
    bool ok = !port_text->empty() && port_text->size() <= 5;
    for (char c : *port_text) {
      if (c < '0' || c > '9') {
        ok = false;
        break;
      }
      value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!ok || value < 1 || value > 65535) {
      return fail(error, fmt::format("target: bad port \"{}\" in {} (expected 1..65535)",
                                     *port_text, quoted));
    }
    t.port = static_cast<std::uint16_t>(value);
  }

  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return fail(error, fmt::format("target: bad character in path \"{}\" of {}", path, quoted));
    }
  }
  t.base_path = std::string(path);

  t.host_header = ipv6 ? "[" + t.host + "]" : t.host;
  if (t.port != default_port) t.host_header += ":" + std::to_string(t.port);
  return t;
}

}  // namespace loadpilot::http
