#pragma once
// WebSocketHub: the WebSocket connections of the Python VUser runtime
// (loadpilot._websocket), on the Python thread's io_context beside its HTTP
// client (scenario/vuser_runtime.h). Python opens, sends, receives and
// closes through it; each operation's end is queued as an event that the
// runtime's Hub hands to Python with its other events (a tuple, see
// take()). Python measures the opens and round trips as requests; the
// counts Python never has to judge (messages and bytes each way, opens,
// closes by code) are recorded here as they happen, through `tally`.
//
// Thread-safety: none; the Python thread only. close_all() ends every
// connection at once (their operations report kReset, "aborted").
#include <pybind11/pybind11.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/target.h"
#include "http/websocket_client.h"
#include "metrics/websocket_counts.h"

namespace loadpilot::scenario {

class WebSocketHub {
 public:
  // Operation codes in events.
  enum Op : int { kOpen = 0, kSend = 1, kRecv = 2, kClose = 3 };
  // The tag of a WebSocket event among the Hub's events (poll()).
  static constexpr int kEventTag = 4;

  // TALLY records counts in the run's books (the Hub's recorder, its lock
  // held); T0 is the run's start (event times are microseconds since it).
  WebSocketHub(boost::asio::io_context& io, http::Target target, bool insecure,
               std::chrono::milliseconds timeout,
               std::function<void(const metrics::WebSocketCounts&)> tally,
               std::chrono::steady_clock::time_point t0);
  ~WebSocketHub();

  // Each returns at once; the result comes as an event (4, socket, op, ...).
  // open(): a new connection to PATH; returns its id. MAX_MESSAGE: bytes of
  // one received message (0: the default). TIMEOUT_S: the limit on the open
  // and on the close handshake (0: the run's --timeout and 5 s).
  std::uint64_t open(const std::string& path, const http::WebSocketClient::Headers& headers,
                     std::uint64_t max_message, double timeout_s);
  // send(): an event only when it failed.
  void send(std::uint64_t socket, const pybind11::bytes& data, bool binary);
  void recv(std::uint64_t socket);
  void close(std::uint64_t socket, int code);
  // Ends one connection now, without a close handshake (not counted as a
  // close: the run, not the peer, ended it).
  void abort(std::uint64_t socket);
  void close_all();

  bool empty() const { return events_.empty(); }
  // The queued events as tuples, appended to OUT:
  //   (4, socket, op, kind, message, data, binary, code, started_us, done_us)
  // kind: an error kind name or None; data: the message (recv, bytes);
  // code: the HTTP status (open), the close code (close; a recv ended by a
  // close frame), else 0.
  void take(pybind11::list& out);

 private:
  struct Event {
    std::uint64_t socket;
    int op;
    http::WebSocketClient::Result result;
  };
  struct Socket {
    std::shared_ptr<http::WebSocketClient> client;
    bool close_counted = false;
  };
  void count_close(std::uint64_t socket, std::uint16_t code);
  std::int64_t us(std::chrono::steady_clock::time_point t) const;

  boost::asio::io_context& io_;
  http::Target target_;
  http::WebSocketOptions options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::function<void(const metrics::WebSocketCounts&)> tally_;
  std::chrono::steady_clock::time_point t0_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Socket> sockets_;
  std::vector<Event> events_;
  bool closed_ = false;
};

}  // namespace loadpilot::scenario
