#pragma once
// ResponseParser: an incremental HTTP/1.1 response parser for the client's
// hot path. Bytes are fed as they arrive; the parser handles status line,
// headers, Content-Length, chunked transfer coding (with trailers) and
// close-delimited bodies, and 1xx interim responses (skipped).
//
// Written by hand rather than taken from Boost.Beast because the engine
// parses in place out of the connection's read buffer with no allocation per
// response unless the caller asks to keep headers and body.
//
// A kept body is bounded twice: by the response's own cap and by a
// KeptBodies pool shared by every parser of one client. A body that would
// pass either is read and discarded instead (still counted in body_bytes):
// being large is not a protocol error, only too large to keep.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loadpilot::http {

// Why a kept body was discarded.
enum class BodyDrop : std::uint8_t {
  kNone,       // kept whole (or keeping was not asked for)
  kOverCap,    // the response's own cap
  kOverTotal,  // the client's pool of kept bodies was full
};

// Memory taken by response bodies kept at once by the parsers sharing it
// (one client's connections), in bytes allocated for them. Not thread-safe:
// the parsers run on one thread.
struct KeptBodies {
  std::uint64_t limit = 0;  // 0: unbounded
  std::uint64_t held = 0;
};

class ResponseParser {
 public:
  enum class Status { kNeedMore, kDone, kError };

  // Prepares for the next response. `head_request`: the response has no
  // body whatever its headers say. `keep`: store headers and body, the body
  // up to `keep_limit` bytes and while `pool` (if any) has room; the pool
  // must outlive the parser's use of it (until release() or the next
  // reset()). A response whose own cap is over the pool's limit may still
  // fill the pool alone: the pool then holds at most that cap.
  void reset(bool head_request, bool keep, std::uint64_t keep_limit = kDefaultKeptBody,
             KeptBodies* pool = nullptr);
  // Frees the kept body and gives its bytes back to the pool: call when the
  // body has been moved out or the response abandoned. reset() does it too.
  void release();

  // Consumes a prefix of data; *consumed tells how much. kNeedMore: all of
  // data was consumed (a partial line is copied, so the caller may reuse its
  // buffer). kDone: a full response was parsed and data[*consumed..] belongs
  // to the next response. kError: error() says why; the connection must be
  // closed. Once kDone or kError, feed() consumes nothing until reset().
  Status feed(const char* data, std::size_t len, std::size_t* consumed);
  // The peer closed the connection. Completes a close-delimited body
  // (returns kDone) or reports a truncated response (kError).
  Status on_eof();

  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  const std::string& error() const { return error_; }
  // How far an unfinished response got, for a timeout's message: "in the
  // headers", "after 10 of 100 body bytes"...
  std::string progress() const;
  // Kept headers (and trailers) in arrival order, and the kept body; empty
  // unless reset(..., keep=true). Mutable so the caller can move them out.
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }
  std::vector<std::pair<std::string, std::string>>& headers() { return headers_; }
  std::string& body() { return body_; }
  // Whether the body was discarded rather than kept, and the limit it hit.
  BodyDrop body_dropped() const { return dropped_; }
  std::uint64_t body_limit() const {
    return dropped_ == BodyDrop::kOverCap ? keep_limit_ : pool_limit_;
  }
  // Limits, to keep a hostile server from exhausting memory.
  static constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr std::uint64_t kDefaultKeptBody = 16 * 1024 * 1024;
  // Interim (1xx) responses before the final one; more is a server looping.
  static constexpr int kMaxInterim = 32;

 private:
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kUntilClose,
    kDone,
    kError
  };
  // feed()'s two kinds of phase; each advances *pos past what it took.
  Status feed_body(const char* data, std::size_t len, std::size_t* pos);
  Status feed_line(const char* data, std::size_t len, std::size_t* pos);
  Status on_line(std::string_view line);
  Status on_status_line(std::string_view line);
  Status on_header_line(std::string_view line);
  Status on_chunk_size_line(std::string_view line);
  Status on_trailer_line(std::string_view line);
  Status end_of_headers();
  void begin_response();
  Status take_body(const char* data, std::size_t n);
  bool reserve_body(std::uint64_t bytes);
  void drop_body(BodyDrop why);
  Status fail(std::string why);

  Phase phase_ = Phase::kStatusLine;
  bool head_ = false;
  bool keep_ = false;
  int status_ = 0;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool chunked_ = false;
  bool has_transfer_encoding_ = false;
  bool has_length_ = false;
  bool conn_close_ = false;
  bool conn_keep_alive_ = false;
  bool saw_bytes_ = false;  // any byte of this response (interim ones included)
  int interim_ = 0;         // 1xx responses skipped so far
  BodyDrop dropped_ = BodyDrop::kNone;
  std::uint64_t keep_limit_ = kDefaultKeptBody;
  std::uint64_t pool_limit_ = 0;  // the pool's limit as this response saw it
  std::uint64_t pooled_ = 0;      // bytes of body_'s capacity counted in pool_
  KeptBodies* pool_ = nullptr;
  std::uint64_t length_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t body_bytes_ = 0;
  std::size_t header_bytes_ = 0;
  std::string line_;  // partial line carried across feeds; capacity reused
  std::string error_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
};

}  // namespace loadpilot::http
