#pragma once
// Http2Session: the protocol state of one HTTP/2 client connection, without
// the socket. Framing, HPACK and flow control are nghttp2's (its session
// API); this class maps the client's requests onto streams and the streams'
// ends onto Results. Bytes go in through feed() and come out of
// take_output(); the owner (Http2Client) moves them over TCP or TLS.
// Because nothing here touches a socket, the stream logic is tested against
// an in-memory nghttp2 server (engine/tests/http2_session_test.cc).
//
// A request ends in exactly one Finished entry:
//   * a response with END_STREAM: Result with its status (a stream the
//     server resets after that, with any code, still succeeded);
//   * RST_STREAM from the server before that: ErrorKind::kStreamReset,
//     "stream reset by server (CODE)" — except REFUSED_STREAM and streams
//     above a GOAWAY's last-stream-id, which the server did not process:
//     those come back with `refused` set so the owner may send them again;
//   * a response nghttp2 rejects (no :status, bad framing, headers over
//     ResponseParser::kMaxHeaderBytes): ErrorKind::kProtocol;
//   * expire(): ErrorKind::kTimeout (the stream is reset with CANCEL);
//   * fail_all(): the connection ended, every stream in flight fails.
//
// Bytes: every frame's 9-byte header and payload (headers as HPACK-coded)
// is counted for the stream it belongs to; connection-level frames (the
// preface, SETTINGS, PING, WINDOW_UPDATE, GOAWAY) are added to the next
// request that finishes on the connection, so the sums over a run equal
// the HTTP/2 bytes on the wire.
//
// Thread-safety: none; one session per connection, on one thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.h"
#include "http/target.h"

struct nghttp2_session;

namespace loadpilot::http {

// One request as the HTTP/2 client carries it (queued, or on a stream).
struct Http2Request {
  std::shared_ptr<const std::string> request;  // as build_request() made it
  Client::Callback cb;
  bool head = false;
  std::uint64_t keep_limit = 0;
  bool refused_once = false;  // the server refused it once already
  std::chrono::steady_clock::time_point sent_at{};
};

struct Http2SessionOptions {
  bool keep_response = false;
  KeptBodies* pool = nullptr;     // shared bound on kept bodies (may be null)
  std::uint32_t max_streams = 0;  // our cap on streams in flight; 0: kDefaultMaxStreams
  std::chrono::milliseconds timeout{30000};
};

class Http2Session {
 public:
  // Streams in flight per connection when neither the server nor the run
  // sets a lower limit.
  static constexpr std::uint32_t kDefaultMaxStreams = 128;

  struct Finished {
    Http2Request req;
    Result result;
    bool refused = false;  // not processed by the server: may be sent again
  };

  Http2Session(const Target& target, Http2SessionOptions options);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Opens a stream for `r` (can_submit() must be true). A request that
  // cannot be expressed in HTTP/2 ends at once in finished() (kProtocol).
  void submit(Http2Request&& r, std::chrono::steady_clock::time_point now);
  // Room for another stream: no GOAWAY, not failed, under stream_limit().
  bool can_submit() const;
  std::size_t in_flight() const { return streams_.size(); }
  // min(our cap, the server's SETTINGS_MAX_CONCURRENT_STREAMS); before the
  // server's SETTINGS arrive nghttp2 assumes 100.
  std::uint32_t stream_limit() const;
  bool settings_received() const { return settings_received_; }
  bool goaway_received() const { return goaway_; }
  // The session is over: a fatal protocol error, or both sides are done.
  bool finished_session() const;
  const std::string& error() const { return error_; }

  // Bytes from the server. False on a fatal protocol error (error() says
  // what); the owner then ends the connection with fail_all().
  bool feed(const std::uint8_t* data, std::size_t n);
  // Appends what is ready to be sent to `out`; false on a fatal error.
  bool take_output(std::string& out);
  // Streams whose deadline (submit + timeout) passed by `now` end as
  // timeouts; returns the earliest deadline still pending (max() if none).
  std::chrono::steady_clock::time_point expire(std::chrono::steady_clock::time_point now);
  // The connection ended: every stream in flight fails with `kind`.
  void fail_all(metrics::ErrorKind kind, const std::string& message);
  // Entries that ended since the last call, in the order they ended.
  std::vector<Finished> take_finished();

 private:
  struct Stream;
  struct Callbacks;
  friend struct Callbacks;
  void end_stream(std::int32_t id, std::uint32_t error_code);
  void finish(Stream& s, Finished&& f);
  void drop(Stream& s, BodyDrop why, std::uint64_t limit);
  void release(Stream& s);  // gives its kept bytes back to the pool

  Target target_;
  Http2SessionOptions options_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;  // by id: submit order
  // Timed-out streams we reset, until nghttp2 closes them.
  std::map<std::int32_t, std::unique_ptr<Stream>> cancelled_;
  std::vector<Finished> finished_;
  std::string error_;
  bool failed_ = false;
  bool goaway_ = false;
  bool settings_received_ = false;
  std::uint32_t goaway_code_ = 0;
  // Connection-level bytes not yet given to a finished request: sent ones
  // as all output less what stream frames took (a frame is reported once
  // whole, so this may dip below zero for a moment).
  std::int64_t unattributed_sent_ = 0;
  std::uint64_t overhead_received_ = 0;
  std::string authority_;
};

}  // namespace loadpilot::http
