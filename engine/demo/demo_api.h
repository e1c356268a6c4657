#pragma once
// demo-api: a small, fast HTTP/1.1 service with known behaviour, for trying
// LoadPilot and for its end-to-end tests. Endpoints:
//   GET  /health              -> 200 {"status":"ok"}
//   POST /auth/login          -> 200 {"access_token":"...","token_type":"bearer"}
//   POST /auth/logout         -> 204
//   GET  /api/products        -> 200 JSON list of 20 products {"id","name","price"}
//   GET  /api/products/{id}   -> 200 {"id":..,"name":..,"price":..}; 404 for a non-number
//   POST /api/orders          -> 201 {"order_id":..} (ids increase across the process)
//   GET  /api/orders          -> 200 JSON list (a fixed sample)
//   GET  /api/user            -> 200 {"id":..,"name":..,"email":..}
//   ANY  /redirect?to=URL&status=S -> S (301, 302, 303, 307, 308; default 302)
//                                with Location: URL (default /health); 400 for
//                                another status or a URL that is not printable ASCII
//   GET  /redirect/{n}        -> 302 to "{n-1}" (relative), /redirect/1 to /health:
//                                a chain of n redirects, 1 <= n <= 1000; else 404
//   ANY  /echo                -> 200 {"method":..,"target":..,"body":..}, the request
//   GET  /stats               -> 200 exact request counts per "METHOD /route"
//   GET  /ws/echo, /ws/broadcast, /ws/stats -> WebSocket routes (demo/ws_routes.h),
//                                not counted here
//   POST /stats/reset         -> 204 zeroes the counts
//   anything else             -> 404 (a HEAD gets the 404's head only)
// Every response carries Content-Type: application/json and Content-Length
// (204s too, as "Content-Length: 0", for the benefit of simple clients).
//
// /stats body: {"total":N,"routes":{"GET /health":n,...,"other":n}}, every
// key always present ("ANY /redirect" and "ANY /echo" count every method);
// "other" counts requests no endpoint matched; /stats and
// /stats/reset are not counted. A request is counted when it has been
// received, before any added latency, including requests answered with an
// injected 503 and non-numeric product ids (404, counted under
// "GET /api/products/{id}"). Malformed requests (400 etc.) are not counted.
//
// Behaviour knobs (DemoOptions) add latency, jitter, a random error rate
// (503s), periodic stalls and a bounded capacity, to exercise error
// accounting, coordinated omission correction and capacity searches. They apply to every counted
// request except GET /health; /stats and /stats/reset ignore them too.
//
// HTTP: HTTP/1.0 and 1.1, keep-alive (1.1 default; 1.0 only with
// "Connection: keep-alive"), pipelining (responses in request order).
// Request bodies need Content-Length (up to 1 MiB, read fully, then ignored;
// "Expect: 100-continue" gets its interim 100); a request with
// Transfer-Encoding (chunked) is answered 411 and the connection closed.
// Malformed requests get 400, heads over 16 KiB 431, both then close.
// Idle connections are kept until the client closes them.
#include <cstdint>
#include <memory>
#include <string>

namespace loadpilot::demo {

struct DemoOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0 picks a free port
  int threads = 0;            // 0: one per core
  double latency_ms = 0;      // added to every response (timer, no thread blocked)
  double jitter_ms = 0;       // plus uniform [0, jitter_ms)
  double error_rate = 0;      // percent of API responses turned into 503
  // Stall windows are [k*every, k*every + for) seconds after start, k >= 1:
  // the first stall begins stall_every_s after start. A response due inside
  // a window is held until the window ends. Off unless both are > 0.
  double stall_every_s = 0;  // every N seconds of wall time...
  double stall_for_s = 0;    // ...hold all responses for this long
  std::uint64_t seed = 1;    // error and jitter draws (one generator per thread)
  // HTTPS with a self-signed certificate made at start, HTTP/2 over ALPN h2
  // (demo/http2_connection.h). Without it, HTTP/1.1 and h2c on one port.
  bool tls = false;
  // A known capacity (demo/capacity.h): > 0 serves at most this many
  // requests/s, with `capacity_workers` servers (0: about 20 ms of service
  // time each) in first-come-first-served order; past it requests queue.
  double capacity_rps = 0;
  int capacity_workers = 0;
};

// DemoServer: the demo-api in this process. start() binds and spawns
// `threads` worker threads, each running its own io_context; one acceptor
// (on worker 0) hands new connections round-robin to the workers. One
// listening socket rather than one per thread with SO_REUSEPORT, so that a
// port already in use fails to bind instead of being silently shared with
// another process. Counters are per worker and merged when /stats is asked for.
//
// Thread-safety: start(), stop() and the destructor are called from one
// owning thread; port() and url() are safe after start() returned. A stopped
// server may be started again (counts start from zero).
class DemoServer {
 public:
  explicit DemoServer(DemoOptions options);
  ~DemoServer();  // stop()s
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  // Resolves the host, binds and listens, then starts serving. Throws
  // std::system_error naming the address when that fails (nothing started).
  void start();
  // The bound port (the real one when options.port was 0).
  std::uint16_t port() const;
  // "http://HOST:PORT" ("https://" with tls) with HOST as given (IPv6
  // literals in brackets).
  std::string url() const;
  // Closes the listener, drops all connections, joins the workers.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Binds, prints "demo-api listening on http://HOST:PORT" (one line, flushed)
// to stdout, and serves until SIGINT/SIGTERM. Returns the process exit code:
// 0 on a clean stop, 2 when the address cannot be bound (message on stderr).
int run_demo_api(const DemoOptions& options);

}  // namespace loadpilot::demo
