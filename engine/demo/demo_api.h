#pragma once
// demo-api: a small, fast HTTP/1.1 service with known behaviour, for trying
// LoadPilot and for its end-to-end tests. Endpoints:
//   GET  /health                -> 200 {"status":"ok"}
//   POST /auth/login            -> 200 {"access_token":"..."}
//   POST /auth/logout           -> 204
//   GET  /api/products          -> 200 JSON list of products
//   GET  /api/products/{id}     -> 200 {"id":..,"name":..,"price":..}; 404 for a non-number
//   POST /api/orders            -> 201 {"order_id":..}
//   GET  /api/orders            -> 200 JSON list
//   GET  /api/user              -> 200 {"id":..,"name":..}
//   GET  /stats                 -> 200 exact request counts per "METHOD /route" (not counted itself)
//   POST /stats/reset           -> 204 zeroes the counts
//   anything else               -> 404
// Behaviour knobs (DemoOptions) add latency, jitter, a random error rate
// (503s) and periodic stalls, to exercise error accounting and coordinated
// omission correction.
#include <cstdint>
#include <string>

namespace loadpilot::demo {

struct DemoOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;  // 0 picks a free port
  int threads = 0;            // 0: one per core
  double latency_ms = 0;      // added to every response (timer, no thread blocked)
  double jitter_ms = 0;       // plus uniform [0, jitter_ms)
  double error_rate = 0;      // percent of API responses turned into 503
  double stall_every_s = 0;   // every N seconds of wall time...
  double stall_for_s = 0;     // ...hold all responses for this long
  std::uint64_t seed = 1;
};

// Binds, prints "demo-api listening on http://HOST:PORT" (one line, flushed)
// to stdout, and serves until SIGINT/SIGTERM. Returns the process exit code:
// 0 on a clean stop, 2 when the address cannot be bound (message on stderr).
int run_demo_api(const DemoOptions& options);

}  // namespace loadpilot::demo
