#pragma once
// ApiServer: the small HTTP/1.1 server under the coordinator service's API
// (`loadpilot coordinator --serve`, docs/distributed.md#the-coordinator-service).
// It serves few clients — probes, one run's stream, a stop — but must stay
// answerable while many others connect and send slowly or send large bodies
// without the token.
//
// Contract:
//  * The constructor binds and listens (IPv4 or IPv6 numeric address, or a
//    name that resolves) or throws ApiError naming the address and why.
//  * Each connection carries one request (`Connection: close`). One front
//    thread accepts every connection and reads the heads of all of them
//    (non-blocking, at most `max_waiting` at once: beyond it the oldest is
//    dropped); a head must be complete within `head_timeout` (else 408).
//  * The screen sees each head (body still unread) on the front thread and
//    either answers at once — probes, refusals (401, 404, 405, 409), quick
//    endpoints — or lets the request through. The body of an answered
//    request is never read: what the client still sends is dropped for up
//    to `linger`, so the answer is not lost to a reset.
//  * A request let through gets its own thread (at most `max_connections`
//    at once) and a reservation of its declared body size from
//    `max_bodies_in_flight` (held until its handler returns); when either
//    is used up it is answered 503 with Retry-After at once. Its body must
//    arrive within `read_timeout` and is at most `max_body` bytes (413 on
//    the head); then the handler runs on that thread.
//  * The handler answers once with respond(), or starts a stream with
//    begin_stream() and sends lines with send_line() (chunked transfer
//    coding, one line per chunk) until it returns; the server ends the
//    stream and closes. peer_gone() tells a streaming handler that the
//    client has closed its side or the connection broke.
//  * HEAD is answered as GET is, without the body; an absolute-form target
//    (`http://host/path`) is routed by its path (RFC 9112 3.2.2).
//  * stop() closes the listening socket, shuts every open connection down
//    and joins their threads; handlers must return soon after their
//    Responder's writes start failing.
//
// Thread-safety: start()/stop() from one thread; the screen runs on the
// front thread, the handler on many connection threads at once; both must
// be thread-safe, and the screen must not block.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace loadpilot::agents {

struct ApiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ApiRequest {
  std::string method;  // HEAD is passed on as is: answer it as GET
  std::string path;    // the target without its query
  std::string query;   // after '?', or empty
  std::string authorization;
  std::string body;
  std::string peer;  // "ADDR:PORT" of the client
};

class ApiResponder {
 public:
  // head_only: the request was HEAD; answers carry no body.
  explicit ApiResponder(int fd, bool head_only = false) : fd_(fd), head_only_(head_only) {}
  // A whole response; `headers` are extra header lines, each ending in
  // CRLF. False when the client is gone.
  bool respond(int status, std::string_view content_type, std::string_view body,
               std::string_view headers = {});
  // Starts a 200 chunked response of this content type.
  bool begin_stream(std::string_view content_type);
  // One line (a '\n' is added) as one chunk. False when the client is gone.
  bool send_line(std::string_view line);
  // The client closed its side or the connection broke (does not block).
  bool peer_gone() const;
  bool streaming() const { return streaming_; }
  // Ends a stream (the last chunk); called by the server after the handler.
  void end_stream();

 private:
  bool write_all(std::string_view data);
  int fd_;
  bool head_only_;
  bool streaming_ = false;
  bool failed_ = false;
};

struct ApiServerOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::size_t max_body = 1024 * 1024;
  // The declared bodies of the requests being read or handled, together.
  std::size_t max_bodies_in_flight = 1024 * 1024;
  // From the connection to the end of the head.
  std::chrono::milliseconds head_timeout{5000};
  // From the end of the head to the end of the body.
  std::chrono::milliseconds read_timeout{30000};
  // A stalled reader of a response: writes give up after this long.
  std::chrono::milliseconds write_timeout{30000};
  // How long the unread rest of an answered request is read and dropped.
  std::chrono::milliseconds linger{2000};
  // Requests being handled (each on its own thread).
  std::size_t max_connections = 32;
  // Connections whose head is still arriving (or whose rest is dropped).
  std::size_t max_waiting = 256;
};

// The screen's verdict on a head: status 0 lets the request through to
// the handler; any other status is answered at once with this body.
struct ApiAnswer {
  int status = 0;
  std::string content_type = "application/json";
  std::string body;
  std::string headers;  // extra header lines, each ending in CRLF
};

class ApiServer {
 public:
  using Screen = std::function<ApiAnswer(const ApiRequest& head)>;
  using Handler = std::function<void(const ApiRequest&, ApiResponder&)>;

  ApiServer(ApiServerOptions options, Screen screen, Handler handler);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  void start();
  void stop();
  int port() const { return port_; }
  // HOST:PORT as bound ([HOST]:PORT for IPv6).
  std::string address() const;
  // Waits up to `limit` until no request is being served (every handler
  // returned, its connection closed and its body budget given back); true
  // when that happened. A client sees its answer before this holds.
  bool wait_idle(std::chrono::milliseconds limit);

 private:
  struct Waiting;
  void front_loop();
  void accept_all(std::list<Waiting>& waiting);
  // False when the connection is done with (answered or gone).
  bool read_head(Waiting& w);
  void answer_now(Waiting& w, int status, std::string_view content_type, std::string_view body,
                  std::string_view headers = {}, bool head_only = false);
  void serve(int fd, std::string peer, std::string buf, std::size_t reserved);

  ApiServerOptions options_;
  Screen screen_;
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::string host_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::list<int> open_;  // connection sockets being served
  std::size_t threads_ = 0;
  std::size_t bodies_in_flight_ = 0;  // bytes reserved by requests let through
};

// True when `host` (as given to --listen) only accepts connections from
// this machine: 127.0.0.0/8, ::1 or "localhost".
bool is_loopback_host(const std::string& host);

// Compares two secrets in time independent of where they differ (and of
// their lengths, which are hashed first).
bool same_secret(std::string_view a, std::string_view b);

// What a parser error status means, for the answer's message.
std::string http_error_message(int status, std::size_t max_body);

}  // namespace loadpilot::agents
