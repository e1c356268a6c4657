#pragma once
// Sender: how a Worker puts one task's request on the wire. The worker
// paces arrivals, queues and drops them, and records what comes back; the
// Sender only sends. The real one (make_http_sender) drives an http::Client
// with the plan's pre-built requests; tests give the worker one that answers
// on a timer or never, so pacing, drops, lateness, the drain and cut-off
// are tested without sockets (engine/tests/engine_test.cc).
//
// Thread-safety: none. A Sender belongs to one worker's io_context; every
// call and every callback happens on that thread.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "http/client.h"
#include "plan/plan.h"

namespace loadpilot::load {

class Sender {
 public:
  using Callback = std::function<void(http::Result&&)>;
  virtual ~Sender() = default;
  // Sends task `task`'s request at once (the caller checked busy() <
  // capacity()); `cb` is called exactly once, never from inside send().
  virtual void send(std::uint32_t task, Callback cb) = 0;
  // Requests on the wire or connecting now, and the most there may be.
  virtual std::size_t busy() const = 0;
  virtual std::size_t capacity() const = 0;
  virtual std::size_t open_connections() const = 0;
  // Fails what is in flight (its callbacks still run) and ends.
  virtual void close() = 0;
};

// Makes worker `worker_index`'s Sender on its io_context.
using SenderFactory =
    std::function<std::unique_ptr<Sender>(boost::asio::io_context& io, std::size_t worker_index)>;

// The Sender of a real run: one http::Client (options.max_connections
// connections) with each native task's request serialised once.
std::unique_ptr<Sender> make_http_sender(boost::asio::io_context& io, const plan::Plan& plan,
                                         const http::Target& target, http::ClientOptions options);

}  // namespace loadpilot::load
