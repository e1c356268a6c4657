#include "demo/response.h"

#include <charconv>

namespace loadpilot::demo {
namespace {

std::string_view status_line(int status) {
  switch (status) {
    case 200:
      return "HTTP/1.1 200 OK\r\n";
    case 201:
      return "HTTP/1.1 201 Created\r\n";
    case 204:
      return "HTTP/1.1 204 No Content\r\n";
    case 301:
      return "HTTP/1.1 301 Moved Permanently\r\n";
    case 302:
      return "HTTP/1.1 302 Found\r\n";
    case 303:
      return "HTTP/1.1 303 See Other\r\n";
    case 307:
      return "HTTP/1.1 307 Temporary Redirect\r\n";
    case 308:
      return "HTTP/1.1 308 Permanent Redirect\r\n";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\n";
    case 404:
      return "HTTP/1.1 404 Not Found\r\n";
    case 411:
      return "HTTP/1.1 411 Length Required\r\n";
    case 413:
      return "HTTP/1.1 413 Content Too Large\r\n";
    case 431:
      return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\n";
    case 505:
      return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    default:
      return "HTTP/1.1 500 Internal Server Error\r\n";
  }
}

}  // namespace

void append_response(std::string& out, int status, std::string_view body, bool keep_alive,
                     bool http10, bool head_only, std::string_view location) {
  char length[24];
  auto [end, ec] = std::to_chars(length, length + sizeof length, body.size());
  (void)ec;
  out += status_line(status);
  out += "Content-Type: application/json\r\nContent-Length: ";
  out.append(length, end);
  if (!location.empty()) {
    out += "\r\nLocation: ";
    out += location;
  }
  if (!keep_alive) {
    out += "\r\nConnection: close";
  } else if (http10) {
    out += "\r\nConnection: keep-alive";
  }
  out += "\r\n\r\n";
  if (!head_only) out += body;
}

std::string_view error_body(int status) {
  switch (status) {
    case 411:
      return R"({"error":"length required: chunked request bodies are not supported"})";
    case 413:
      return R"({"error":"request body too large"})";
    case 431:
      return R"({"error":"request head too large"})";
    case 505:
      return R"({"error":"http version not supported"})";
    default:
      return R"({"error":"bad request"})";
  }
}

}  // namespace loadpilot::demo
