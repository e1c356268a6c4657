// ApiResponder (cluster/service/api_server.h): how the coordinator service's API
// writes its answers, whole or as a chunked stream.
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "cluster/service/api_server.h"

namespace loadpilot::agents {

namespace {

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

}  // namespace

bool ApiResponder::write_all(std::string_view data) {
  if (failed_) return false;
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed_ = true;  // gone, reset, or stalled past the write time-out
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ApiResponder::respond(int status, std::string_view content_type, std::string_view body,
                           std::string_view headers) {
  const std::string head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: "
      "no-store\r\n{}Connection: close\r\n\r\n",
      status, reason(status), content_type, body.size(), headers);
  // HEAD: the answer GET would get, without its body (RFC 9110 9.3.2).
  if (head_only_) return write_all(head);
  // A small answer goes out in one write (one segment, with TCP_NODELAY).
  if (body.size() <= 16384) return write_all(head + std::string(body));
  return write_all(head) && write_all(body);
}

bool ApiResponder::begin_stream(std::string_view content_type) {
  streaming_ = true;
  return write_all(fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\nCache-Control: "
      "no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n",
      content_type));
}

bool ApiResponder::send_line(std::string_view line) {
  return write_all(fmt::format("{:x}\r\n{}\n\r\n", line.size() + 1, line));
}

void ApiResponder::end_stream() {
  if (streaming_) write_all("0\r\n\r\n");
}

bool ApiResponder::peer_gone() const {
  if (failed_) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) return true;
  if (p.revents & POLLIN) {
    // A client sends nothing after its request: readable means EOF.
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  return false;
}

}  // namespace loadpilot::agents
