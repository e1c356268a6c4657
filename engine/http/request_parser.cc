#include "http/request_parser.h"

#include <cstdint>

#include "http/ascii.h"

namespace loadpilot::http {
namespace {

using http::iequals;
using http::is_tchar;

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits off the next line of a head; the '\n' and a preceding '\r' are
// dropped. Returns false when the line holds a CR anywhere else: a bare CR
// is a classic request-smuggling vector, so it is rejected.
bool next_line(std::string_view* rest, std::string_view* line) {
  std::size_t nl = rest->find('\n');
  std::string_view l = rest->substr(0, nl);
  rest->remove_prefix(nl == std::string_view::npos ? rest->size() : nl + 1);
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  *line = l;
  return l.find('\r') == std::string_view::npos;
}

// Reads the Connection header's comma-separated options.
void scan_connection(std::string_view value, bool* close, bool* keep_alive) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view option = trim(value.substr(0, comma));
    if (iequals(option, "close")) *close = true;
    if (iequals(option, "keep-alive")) *keep_alive = true;
    value.remove_prefix(comma == std::string_view::npos ? value.size() : comma + 1);
  }
}

}  // namespace

std::string_view target_path(std::string_view target) {
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) return target;
    const std::size_t slash = target.find('/', scheme + 3);
    const std::size_t query = target.find('?', scheme + 3);
    if (slash == std::string_view::npos || (query != std::string_view::npos && query < slash))
      return "/";
    target = target.substr(slash);
  }
  return target.substr(0, target.find('?'));
}

RequestParser::Result RequestParser::parse(std::string_view data, Request* request,
                                           std::size_t* consumed) {
  // RFC 9112 2.2: a server should ignore empty lines before the request line.
  std::size_t start = 0;
  while (start < data.size() && (data[start] == '\n' || data[start] == '\r')) {
    if (data[start] == '\r') {
      if (start + 1 == data.size()) return Result::kNeedMore;
      if (data[start + 1] != '\n') return fail(400);
    }
    ++start;
  }
  if (start > kMaxHeadBytes) return fail(400);

  std::size_t line_start = scanned_ > start ? scanned_ : start;
  std::size_t head_end = 0;
  while (true) {
    std::size_t nl = data.find('\n', line_start);
    if (nl == std::string_view::npos) break;
    std::size_t len = nl - line_start;
    if (line_start > start && (len == 0 || (len == 1 && data[line_start] == '\r'))) {
      head_end = nl + 1;
      break;
    }
    line_start = nl + 1;
  }
  if (head_end == 0) {
    scanned_ = line_start;
    if (data.size() > kMaxHeadBytes) return fail(431);
    return Result::kNeedMore;
  }
  if (head_end > kMaxHeadBytes) return fail(431);
  // Keep the final empty line unscanned so a wait for the body costs nothing.
  scanned_ = line_start;

  std::size_t body_length = 0;
  Result head = parse_head(data.substr(start, line_start - start), request, &body_length);
  if (head != Result::kDone) return head;
  if (data.size() - head_end < body_length) return Result::kNeedMore;
  request->body = data.substr(head_end, body_length);
  *consumed = head_end + body_length;
  return Result::kDone;
}

RequestParser::Result RequestParser::parse_head(std::string_view head, Request* request,
                                                std::size_t* body_length) {
  std::string_view line;
  if (!next_line(&head, &line)) return fail(400);

  // request-line = method SP request-target SP HTTP-version
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400);
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400);
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return fail(400);
  for (char c : target) {
    if (c <= ' ' || c >= 0x7f) return fail(400);
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) ||
      version[6] != '.' || !digit(version[7])) {
    return fail(400);
  }
  if (version[5] != '1') return fail(505);
  // A higher 1.x minor is a 1.1 client as far as we can tell (RFC 9110 2.5).
  int minor = version[7] == '0' ? 0 : 1;

  bool has_length = false;
  std::uint64_t length = 0;
  bool close = false;
  bool keep_alive = false;
  bool expect_continue = false;
  std::string_view authorization;
  std::string_view tag;
  while (!head.empty()) {
    if (!next_line(&head, &line)) return fail(400);
    if (line.empty()) return fail(400);
    // Obsolete line folding is forbidden in requests (RFC 9112 5.2).
    if (line.front() == ' ' || line.front() == '\t') return fail(400);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400);
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (!is_token(name)) return fail(400);
    if (value.find('\0') != std::string_view::npos) return fail(400);

    if (iequals(name, "content-length")) {
      if (value.empty() || value.size() > 18) return fail(value.empty() ? 400 : 413);
      std::uint64_t n = 0;
      for (char c : value) {
        if (!digit(c)) return fail(400);
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (has_length && n != length) return fail(400);
      has_length = true;
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      // Chunked request bodies are not supported; 411 asks for a length.
      return fail(411);
    } else if (iequals(name, "connection")) {
      scan_connection(value, &close, &keep_alive);
    } else if (iequals(name, "expect")) {
      expect_continue = iequals(value, "100-continue");
    } else if (iequals(name, "authorization")) {
      // Two differing values could let one check pass and another use
      // the other: refuse.
      if (!authorization.empty() && authorization != value) return fail(400);
      authorization = value;
    } else if (iequals(name, "x-demo-tag")) {
      tag = value;
    }
  }
  if (length > max_body_) return fail(413);

  request->method = method;
  request->target = target;
  request->minor_version = minor;
  request->keep_alive = minor == 0 ? (keep_alive && !close) : !close;
  request->expect_continue = minor == 1 && expect_continue;
  request->authorization = authorization;
  request->tag = tag;
  request->content_length = static_cast<std::size_t>(length);
  *body_length = static_cast<std::size_t>(length);
  return Result::kDone;
}

}  // namespace loadpilot::http
