#pragma once
// ApiServer: the small HTTP/1.1 server under the coordinator service's API
// (`loadpilot coordinator --serve`, docs/distributed.md#the-coordinator-service).
// It serves few clients — probes, one run's stream, a stop — so it uses
// plain blocking sockets and one thread per connection, at most
// `max_connections` at once (more are answered 503 and closed).
//
// Contract:
//  * The constructor binds and listens (IPv4 or IPv6 numeric address, or a
//    name that resolves) or throws ApiError naming the address and why.
//  * Each connection carries one request (`Connection: close`): its head
//    and body must arrive within `read_timeout`, the body at most
//    `max_body` bytes (413 before it is read), else 408 / 413 / 400 with a
//    JSON error and the connection is closed.
//  * The handler gets the parsed request and a Responder on the
//    connection's own thread. It answers once with respond(), or starts a
//    stream with begin_stream() and sends lines with send_line() (chunked
//    transfer coding, one line per chunk) until it returns; the server ends
//    the stream and closes. peer_gone() tells a streaming handler that the
//    client has closed its side or the connection broke.
//  * stop() closes the listening socket, shuts every open connection down
//    and joins their threads; handlers must return soon after their
//    Responder's writes start failing.
//
// Thread-safety: start()/stop() from one thread; the handler runs on many
// connection threads at once and must be thread-safe.
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
  std::string method;
  std::string path;   // the target without its query
  std::string query;  // after '?', or empty
  std::string authorization;
  std::string body;
  std::string peer;  // "ADDR:PORT" of the client
};

class ApiResponder {
 public:
  explicit ApiResponder(int fd) : fd_(fd) {}
  // A whole response. False when the client is gone.
  bool respond(int status, std::string_view content_type, std::string_view body);
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
  bool streaming_ = false;
  bool failed_ = false;
};

struct ApiServerOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::size_t max_body = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  // A stalled reader of a response: writes give up after this long.
  std::chrono::milliseconds write_timeout{30000};
  std::size_t max_connections = 32;
};

class ApiServer {
 public:
  using Handler = std::function<void(const ApiRequest&, ApiResponder&)>;

  ApiServer(ApiServerOptions options, Handler handler);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  void start();
  void stop();
  int port() const { return port_; }
  // HOST:PORT as bound ([HOST]:PORT for IPv6).
  std::string address() const;

 private:
  void accept_loop();
  void serve(int fd, std::string peer);

  ApiServerOptions options_;
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
};

// True when `host` (as given to --listen) only accepts connections from
// this machine: 127.0.0.0/8, ::1 or "localhost".
bool is_loopback_host(const std::string& host);

// Compares two secrets in time independent of where they differ (and of
// their lengths, which are hashed first).
bool same_secret(std::string_view a, std::string_view b);

}  // namespace loadpilot::agents
