#include "http/response_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "http/ascii.h"

namespace loadpilot::http {
namespace {

// A chunk-size line is hex digits plus optional extensions; nothing
// legitimate comes close to this.
constexpr std::size_t kMaxChunkLine = 4096;
constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Error messages quote what the server sent; keep them one short line.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// What a status line that is not HTTP/1.x most likely is, as a suffix for
// the error message.
std::string why_not_http1(std::string_view line) {
  if (line.starts_with("PRI * HTTP/2")) return " (the HTTP/2 connection preface; HTTP/1.1 only)";
  if (line.starts_with("HTTP/2") || line.starts_with("HTTP/3")) return " (HTTP/1.1 only)";
  // An HTTP/2 frame header: 24-bit length, type SETTINGS (4) or GOAWAY (7).
  if (line.size() >= 4 && line[0] == '\0' && (line[3] == '\x04' || line[3] == '\x07')) {
    return " (looks like an HTTP/2 frame; HTTP/1.1 only)";
  }
  // A TLS record (handshake or alert) from a TLS-only port.
  if (line.size() >= 2 && (line[0] == '\x16' || line[0] == '\x15') && line[1] == '\x03') {
    return " (looks like TLS; use an https:// target)";
  }
  if (line.starts_with("HTTP/")) return "";
  return " (not HTTP)";
}

// Calls f(element) for each comma-separated, trimmed, non-empty element.
template <class F>
void for_each_element(std::string_view value, F&& f) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

void ResponseParser::reset(bool head_request, bool keep, std::uint64_t keep_limit,
                           KeptBodies* pool) {
  release();
  phase_ = Phase::kStatusLine;
  head_ = head_request;
  keep_ = keep;
  keep_limit_ = keep_limit;
  pool_ = keep ? pool : nullptr;
  pool_limit_ = 0;
  dropped_ = BodyDrop::kNone;
  begin_response();
  keep_alive_ = true;
  saw_bytes_ = false;
  interim_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
  line_.clear();
  error_.clear();
  body_.clear();
}

void ResponseParser::release() {
  if (pooled_ == 0) return;
  if (pool_ != nullptr) pool_->held -= pooled_;
  pooled_ = 0;
  std::string().swap(body_);  // the memory itself, not only the count
}

bool ResponseParser::reserve_body(std::uint64_t bytes) {
  const std::uint64_t capacity = body_.capacity();
  if (bytes <= capacity) return true;
  // What the string will take: growth at least doubles (libstdc++).
  const std::uint64_t taken = std::max(bytes, 2 * capacity);
  if (pool_ != nullptr && pool_->limit != 0 &&
      pool_->held - pooled_ + taken > std::max(pool_->limit, keep_limit_)) {
    return false;
  }
  body_.reserve(static_cast<std::size_t>(bytes));
  if (pool_ != nullptr) {
    pool_->held += body_.capacity() - pooled_;
    pooled_ = body_.capacity();
  }
  return true;
}

void ResponseParser::begin_response() {
  status_ = 0;
  http10_ = false;
  chunked_ = false;
  has_transfer_encoding_ = false;
  has_length_ = false;
  conn_close_ = false;
  conn_keep_alive_ = false;
  length_ = 0;
  header_bytes_ = 0;
  headers_.clear();
}

ResponseParser::Status ResponseParser::fail(std::string why) {
  error_ = std::move(why);
  phase_ = Phase::kError;
  return Status::kError;
}

ResponseParser::Status ResponseParser::take_body(const char* data, std::size_t n) {
  body_bytes_ += n;
  if (!keep_ || dropped_ != BodyDrop::kNone) return Status::kNeedMore;
  const std::uint64_t need = body_.size() + n;
  if (need > keep_limit_) {
    drop_body(BodyDrop::kOverCap);
    return Status::kNeedMore;
  }
  // Grown here rather than by append() so that the pool counts the memory
  // taken, not only the bytes in it.
  if (!reserve_body(need)) {
    drop_body(BodyDrop::kOverTotal);
    return Status::kNeedMore;
  }
  body_.append(data, n);
  return Status::kNeedMore;
}

void ResponseParser::drop_body(BodyDrop why) {
  dropped_ = why;
  if (pool_ != nullptr) pool_limit_ = std::max(pool_->limit, keep_limit_);
  release();
  std::string().swap(body_);
}

ResponseParser::Status ResponseParser::feed(const char* data, std::size_t len,
                                            std::size_t* consumed) {
  std::size_t pos = 0;
  if (len > 0 && phase_ != Phase::kDone && phase_ != Phase::kError) saw_bytes_ = true;
  while (pos < len) {
    Status st = Status::kNeedMore;
    switch (phase_) {
      case Phase::kDone:
        *consumed = pos;
        return Status::kDone;
      case Phase::kError:
        *consumed = pos;
        return Status::kError;
      case Phase::kBody:
      case Phase::kChunkData:
      case Phase::kUntilClose:
        st = feed_body(data, len, &pos);
        break;
      default:
        st = feed_line(data, len, &pos);
        break;
    }
    if (st == Status::kError) {
      *consumed = pos;
      return st;
    }
  }
  *consumed = pos;
  if (phase_ == Phase::kDone) return Status::kDone;
  if (phase_ == Phase::kError) return Status::kError;
  return Status::kNeedMore;
}

// Body bytes: as many as the body (or chunk) still has, or all of them when
// the body runs until the connection closes.
ResponseParser::Status ResponseParser::feed_body(const char* data, std::size_t len,
                                                 std::size_t* pos) {
  if (phase_ == Phase::kUntilClose) {
    if (take_body(data + *pos, len - *pos) == Status::kError) return Status::kError;
    *pos = len;
    return Status::kNeedMore;
  }
  const auto n = static_cast<std::size_t>(
      std::min<std::uint64_t>(remaining_, static_cast<std::uint64_t>(len - *pos)));
  if (take_body(data + *pos, n) == Status::kError) return Status::kError;
  *pos += n;
  remaining_ -= n;
  if (remaining_ == 0) phase_ = phase_ == Phase::kBody ? Phase::kDone : Phase::kChunkDataEnd;
  return Status::kNeedMore;
}

// A line-oriented phase (status line, headers, chunk size, the CRLF after
// chunk data, trailers): takes the bytes up to the next '\n', buffering a
// partial line in line_, each phase's line bounded, and hands a whole line
// to on_line().
ResponseParser::Status ResponseParser::feed_line(const char* data, std::size_t len,
                                                 std::size_t* pos) {
  const bool in_head =
      phase_ == Phase::kStatusLine || phase_ == Phase::kHeaders || phase_ == Phase::kTrailers;
  const std::size_t limit = in_head
                                ? kMaxHeaderBytes - header_bytes_
                                : (phase_ == Phase::kChunkSize ? kMaxChunkLine : std::size_t{2});
  const char* start = data + *pos;
  const auto* nl = static_cast<const char*>(std::memchr(start, '\n', len - *pos));
  const std::size_t n = nl ? static_cast<std::size_t>(nl - start) + 1 : len - *pos;
  if (line_.size() + n > limit) {
    if (in_head) {
      return fail(fmt::format("response header section over {} bytes", kMaxHeaderBytes));
    }
    if (phase_ == Phase::kChunkSize) {
      return fail(fmt::format("chunk size line over {} bytes", kMaxChunkLine));
    }
    return fail("missing CRLF after chunk data");
  }
  if (!nl) {
    line_.append(start, n);
    *pos = len;
    // Catch garbage early instead of buffering up to the header limit.
    if (phase_ == Phase::kStatusLine) {
      const std::size_t k = std::min<std::size_t>(line_.size(), 5);
      if (line_.compare(0, k, "HTTP/", k) != 0) {
        return fail(
            fmt::format("bad status line \"{}\"{}", printable(line_), why_not_http1(line_)));
      }
    }
    return Status::kNeedMore;
  }
  std::string_view line;
  if (line_.empty()) {
    line = std::string_view(start, n - 1);
  } else {
    line_.append(start, n - 1);
    line = line_;
  }
  *pos += n;
  if (in_head) header_bytes_ += line.size() + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const Status st = on_line(line);
  line_.clear();
  return st == Status::kError ? st : Status::kNeedMore;
}

ResponseParser::Status ResponseParser::on_line(std::string_view line) {
  switch (phase_) {
    case Phase::kStatusLine:
      return on_status_line(line);
    case Phase::kHeaders:
      return on_header_line(line);
    case Phase::kChunkSize:
      return on_chunk_size_line(line);
    case Phase::kChunkDataEnd:
      if (!line.empty()) return fail("missing CRLF after chunk data");
      phase_ = Phase::kChunkSize;
      return Status::kNeedMore;
    case Phase::kTrailers:
      return on_trailer_line(line);
    default:
      return fail("internal: line in a body phase");
  }
}

ResponseParser::Status ResponseParser::on_status_line(std::string_view line) {
  // "HTTP/1.x SSS[ reason]"
  const bool shape = line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 &&
                     (line[7] == '0' || line[7] == '1') && line[8] == ' ' &&
                     (line.size() == 12 || line[12] == ' ');
  int code = 0;
  bool digits = shape;
  for (std::size_t i = 9; digits && i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') digits = false;
    code = code * 10 + (line[i] - '0');
  }
  if (!digits)
    return fail(fmt::format("bad status line \"{}\"{}", printable(line), why_not_http1(line)));
  if (code < 100 || code > 599) {
    return fail(fmt::format("bad status code {} in \"{}\"", code, printable(line)));
  }
  status_ = code;
  http10_ = line[7] == '0';
  phase_ = Phase::kHeaders;
  return Status::kNeedMore;
}

ResponseParser::Status ResponseParser::on_header_line(std::string_view line) {
  if (line.empty()) return end_of_headers();
  if (is_ows(line[0])) {
    return fail(fmt::format("obsolete folded header line \"{}\"", printable(line)));
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    return fail(fmt::format("header line without colon \"{}\"", printable(line)));
  }
  const std::string_view name = line.substr(0, colon);
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
    return fail(fmt::format("bad header name \"{}\"", printable(name)));
  }
  const std::string_view value = trim(line.substr(colon + 1));
  if (keep_) headers_.emplace_back(name, value);

  if (iequals(name, "content-length")) {
    // RFC 9110 8.6: a list of equal values is one value; different values
    // leave the body's end unknown.
    bool bad = false;
    bool any = false;
    std::uint64_t other = 0;
    bool conflict = false;
    for_each_element(value, [&](std::string_view item) {
      if (bad || conflict) return;
      any = true;
      std::uint64_t v = 0;
      for (char c : item) {
        if (c < '0' || c > '9' || v > (kMaxU64 - static_cast<std::uint64_t>(c - '0')) / 10) {
          bad = true;
          return;
        }
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (has_length_ && v != length_) {
        conflict = true;
        other = v;
        return;
      }
      has_length_ = true;
      length_ = v;
    });
    if (conflict) {
      return fail(fmt::format("two different Content-Length values, {} and {}", length_, other));
    }
    if (bad || !any) return fail(fmt::format("bad Content-Length \"{}\"", printable(value)));
  } else if (iequals(name, "transfer-encoding")) {
    has_transfer_encoding_ = true;
    // Only the last coding decides whether the body is chunked.
    for_each_element(value, [&](std::string_view item) { chunked_ = iequals(item, "chunked"); });
  } else if (iequals(name, "connection")) {
    for_each_element(value, [&](std::string_view item) {
      if (iequals(item, "close")) conn_close_ = true;
      if (iequals(item, "keep-alive")) conn_keep_alive_ = true;
    });
  }
  return Status::kNeedMore;
}

ResponseParser::Status ResponseParser::end_of_headers() {
  if (status_ < 200) {
    if (status_ == 101) return fail("unexpected 101 Switching Protocols");
    if (++interim_ > kMaxInterim) {
      return fail(fmt::format("more than {} interim (1xx) responses", kMaxInterim));
    }
    begin_response();  // interim response: the real one follows
    phase_ = Phase::kStatusLine;
    return Status::kNeedMore;
  }
  keep_alive_ = http10_ ? (conn_keep_alive_ && !conn_close_) : !conn_close_;
  if (head_ || status_ == 204 || status_ == 304) {
    phase_ = Phase::kDone;
    return Status::kDone;
  }
  if (has_transfer_encoding_) {
    // Both framings at once smells of response splitting (RFC 9112 6.3):
    // honour Transfer-Encoding but never reuse the connection.
    if (has_length_ || http10_) keep_alive_ = false;
    if (chunked_) {
      phase_ = Phase::kChunkSize;
    } else {
      phase_ = Phase::kUntilClose;
      keep_alive_ = false;
    }
  } else if (has_length_) {
    remaining_ = length_;
    // One allocation of the announced size rather than doublings to it.
    if (keep_ && length_ <= keep_limit_) reserve_body(length_);
    phase_ = length_ == 0 ? Phase::kDone : Phase::kBody;
  } else {
    phase_ = Phase::kUntilClose;
    keep_alive_ = false;
  }
  return phase_ == Phase::kDone ? Status::kDone : Status::kNeedMore;
}

ResponseParser::Status ResponseParser::on_chunk_size_line(std::string_view line) {
  std::size_t i = 0;
  std::uint64_t size = 0;
  for (; i < line.size(); ++i) {
    const int h = hex_value(line[i]);
    if (h < 0) break;
    if (size > (kMaxU64 >> 4))
      return fail(fmt::format("chunk size \"{}\" overflows", printable(line)));
    size = (size << 4) | static_cast<std::uint64_t>(h);
  }
  std::size_t j = i;
  while (j < line.size() && is_ows(line[j])) ++j;
  if (i == 0 || (j < line.size() && line[j] != ';')) {
    return fail(fmt::format("bad chunk size \"{}\"", printable(line)));
  }
  if (size == 0) {
    header_bytes_ = 0;
    phase_ = Phase::kTrailers;
  } else {
    remaining_ = size;
    phase_ = Phase::kChunkData;
  }
  return Status::kNeedMore;
}

ResponseParser::Status ResponseParser::on_trailer_line(std::string_view line) {
  if (line.empty()) {
    phase_ = Phase::kDone;
    return Status::kDone;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return fail(fmt::format("trailer line without colon \"{}\"", printable(line)));
  }
  if (keep_) headers_.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
  return Status::kNeedMore;
}

std::string ResponseParser::progress() const {
  switch (phase_) {
    case Phase::kStatusLine:
      return saw_bytes_ ? "in the status line" : "before any response byte";
    case Phase::kHeaders:
      return fmt::format("in the headers of a {} response", status_);
    case Phase::kTrailers:
      return fmt::format("in the trailers after {} body bytes", body_bytes_);
    case Phase::kBody:
      return fmt::format("{} status, {} of {} body bytes", status_, body_bytes_, length_);
    default:
      return fmt::format("{} status, {} body bytes so far", status_, body_bytes_);
  }
}

ResponseParser::Status ResponseParser::on_eof() {
  switch (phase_) {
    case Phase::kDone:
      return Status::kDone;
    case Phase::kError:
      return Status::kError;
    case Phase::kUntilClose:
      phase_ = Phase::kDone;
      keep_alive_ = false;
      return Status::kDone;
    case Phase::kStatusLine:
      return fail(saw_bytes_ ? "connection closed in the status line"
                             : "connection closed before any response byte");
    case Phase::kHeaders:
    case Phase::kTrailers:
      return fail("connection closed in the response headers");
    case Phase::kBody:
      return fail(fmt::format("connection closed after {} of {} body bytes", body_bytes_, length_));
    default:
      return fail(fmt::format("connection closed in a chunked body after {} bytes", body_bytes_));
  }
}

}  // namespace loadpilot::http
