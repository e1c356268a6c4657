#pragma once
// NatsClient: one connection to a NATS server through the official C client
// (nats.c, Debian libnats-dev), as the agents of a distributed run and their
// coordinator use it (docs/distributed.md).
//
// Contract:
// - The constructor connects or throws NatsError with the server's URL and
//   nats.c's reason ("authorization violation", "no server available").
//   Authentication: a token (NatsOptions::token or nats://TOKEN@host), a
//   user and password in the URL (nats://user:pass@host), TLS with a CA file
//   (tls://host or NatsOptions::ca_file).
// - Once connected it reconnects for ever (every 250 ms) when the server
//   goes away; messages published meanwhile wait in nats.c's reconnect
//   buffer (8 MiB) and go out after the reconnect. connected() and the
//   on_state callback tell the state.
// - subscribe(): the handler runs on nats.c's delivery thread of that
//   subscription (or one of the shared pool's, NatsOptions::shared_delivery),
//   one message at a time, in the order they came. The subscription lives until the
//   Subscription object is destroyed; after its destructor returns the
//   handler is not running and will not run again.
// - request(): one request and its reply, or nullopt after the timeout.
//
// Thread-safety: every method may be called from any thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "run/run_config.h"

struct __natsConnection;
struct __natsSubscription;

namespace loadpilot::agents {

// The shared pool's size (NatsOptions::shared_delivery): each subscription
// keeps one of them, so its messages stay in order.
inline constexpr int kSharedDeliveryThreads = 2;

struct NatsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The server, token and CA as the command line gives them, and more.
struct NatsOptions : cli::NatsFlags {
  std::string name;  // shown by the server's monitoring
  std::chrono::milliseconds connect_timeout{2000};
  // Deliver every subscription's messages on nats.c's shared pool of
  // delivery threads (kSharedDeliveryThreads) instead of one thread per
  // subscription: a coordinator of 1,000 agents subscribes 1,000 times. A
  // handler must then never wait for another message of this client (a
  // request()), which the same thread may have to deliver.
  bool shared_delivery = false;
  // Called on nats.c's thread when the connection is lost (false) or back
  // (true).
  std::function<void(bool connected)> on_state;
};

struct NatsMessage {
  std::string subject;
  std::string reply;  // empty unless it is a request
  std::string data;
};

class NatsClient {
 public:
  explicit NatsClient(NatsOptions options);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;
  struct Callbacks;  // nats_client.cc

  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    friend class NatsClient;
    struct State;
    explicit Subscription(std::shared_ptr<State> state);
    std::shared_ptr<State> state_;
  };

  // False when the message could not be queued (connection closed); while
  // reconnecting it is buffered and true is returned.
  bool publish(std::string_view subject, std::string_view data);
  std::unique_ptr<Subscription> subscribe(std::string subject,
                                          std::function<void(NatsMessage&&)> handler);
  std::optional<std::string> request(std::string_view subject, std::string_view data,
                                     std::chrono::milliseconds timeout);
  // Sends what is buffered and waits for the server's answer (bounded).
  bool flush(std::chrono::milliseconds timeout);
  bool connected() const;
  // The largest message the server accepts (its max_payload), in bytes.
  std::int64_t max_payload() const;
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::shared_ptr<Callbacks> callbacks_;
  __natsConnection* conn_ = nullptr;
};

// The URL with any password or token in it replaced by "***", for messages.
std::string redact_url(std::string_view url);

}  // namespace loadpilot::agents
