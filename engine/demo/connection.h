#pragma once
// Worker and Connection: one demo-server thread's state, and one client
// connection served on it.
//
// A connection works through its read buffer one request at a time, so
// pipelined requests are answered in order. Responses ready together go out
// in one write; a response with added latency (or due in a stall window) is
// held on the connection's timer until its release time, which is fixed
// when the request is received, and responses behind it wait their turn.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "demo/capacity.h"
#include "demo/demo_api.h"
#include "demo/faults.h"
#include "demo/routes.h"
#include "demo/stats.h"

namespace loadpilot::demo {

// Everything a worker thread owns. Only that thread touches it, except
// `counters`, which /stats reads from any worker.
struct Worker {
  Worker(int index, const DemoOptions& options, Faults::Clock::time_point start,
         SharedState& shared, StatsBoard& board, CapacityPool* capacity)
      : board(board), capacity(capacity), faults(options, start, index), endpoints(index, shared) {}

  // Counts the request's route and writes its answer into *reply: /stats,
  // /stats/reset, an injected 503 (--error-rate), or the endpoint's own.
  // Over HTTP/1.1 and HTTP/2 alike.
  void answer(const RouteMatch& match, const Request& request, Reply* reply);

  StatsBoard& board;
  CapacityPool* capacity;  // --capacity (shared by every worker), or null
  RouteCounters counters;
  TagCounters tags;  // by X-Demo-Tag
  Faults faults;
  Endpoints endpoints;
  // Last, so it is destroyed first: the connections its pending handlers
  // still own go away while the rest of the worker is intact.
  boost::asio::io_context io{1};
};

// Serves `socket` on `worker` (the socket must belong to worker.io). May be
// called from any thread; the connection starts on the worker's thread and
// lives until the peer leaves, an error, or worker.io is destroyed.
void serve_connection(Worker& worker, boost::asio::ip::tcp::socket socket);

}  // namespace loadpilot::demo
