#include "cluster/transport/nats_client.h"

#include <fmt/format.h>
#include <nats/nats.h>

#include <mutex>

namespace loadpilot::agents {

namespace {

std::string reason(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(s);
  if (last != nullptr && *last != '\0' && text.find(last) == std::string::npos)
    text += fmt::format(" ({})", last);
  return text;
}

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) throw NatsError(fmt::format("{}: {}", what, reason(s)));
}

}  // namespace

std::string redact_url(std::string_view url) {
  const auto scheme = url.find("://");
  const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto at = url.find('@', start);
  const auto slash = url.find('/', start);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at))
    return std::string(url);
  const std::string_view userinfo = url.substr(start, at - start);
  const auto colon = userinfo.find(':');
  const std::string shown =
      colon == std::string_view::npos ? "***" : std::string(userinfo.substr(0, colon)) + ":***";
  return std::string(url.substr(0, start)) + shown + std::string(url.substr(at));
}

// Shared between the client and nats.c's callback thread, which may still
// report the connection's end after the client's destructor began: `alive`
// (under `mu`) keeps the user's callback from running then, and the last
// callback nats.c makes (closed) frees nats.c's reference.
struct NatsClient::Callbacks {
  std::mutex mu;
  bool alive = true;
  std::function<void(bool)> on_state;
  void call(bool connected) {
    std::lock_guard lock(mu);
    if (alive && on_state) on_state(connected);
  }
};

namespace {

using SharedCallbacks = std::shared_ptr<NatsClient::Callbacks>;

void on_disconnected(natsConnection*, void* closure) {
  (*static_cast<SharedCallbacks*>(closure))->call(false);
}

void on_reconnected(natsConnection*, void* closure) {
  (*static_cast<SharedCallbacks*>(closure))->call(true);
}

void on_closed(natsConnection*, void* closure) { delete static_cast<SharedCallbacks*>(closure); }

}  // namespace

NatsClient::NatsClient(NatsOptions options)
    : url_(options.url), callbacks_(std::make_shared<Callbacks>()) {
  callbacks_->on_state = std::move(options.on_state);
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "NATS");
  const auto destroy_opts = [&] { natsOptions_Destroy(opts); };
  try {
    check(natsOptions_SetURL(opts, options.url.c_str()), "NATS URL");
    if (!options.token.empty()) check(natsOptions_SetToken(opts, options.token.c_str()), "token");
    if (!options.ca_file.empty()) {
      check(natsOptions_SetSecure(opts, true), "TLS");
      check(natsOptions_LoadCATrustedCertificates(opts, options.ca_file.c_str()),
            fmt::format("CA file {}", options.ca_file).c_str());
    }
    if (!options.name.empty()) natsOptions_SetName(opts, options.name.c_str());
    natsOptions_SetTimeout(opts, options.connect_timeout.count());
    if (options.shared_delivery) {
      check(nats_SetMessageDeliveryPoolSize(kSharedDeliveryThreads), "NATS delivery pool");
      check(natsOptions_UseGlobalMessageDelivery(opts, true), "NATS delivery pool");
    }
    // Reconnect for ever: the run's own time-outs decide when to give up.
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, 250);
    natsOptions_SetReconnectBufSize(opts, 8 * 1024 * 1024);
    // A dead server is noticed within ~2 s, not the default 4 minutes.
    natsOptions_SetPingInterval(opts, 1000);
    natsOptions_SetMaxPingsOut(opts, 2);
    auto* closure = new SharedCallbacks(callbacks_);
    natsOptions_SetDisconnectedCB(opts, on_disconnected, closure);
    natsOptions_SetReconnectedCB(opts, on_reconnected, closure);
    natsOptions_SetClosedCB(opts, on_closed, closure);
    const natsStatus s = natsConnection_Connect(&conn_, opts);
    // A connection that never opened never closes: the closure is ours.
    if (s != NATS_OK) delete closure;
    if (s != NATS_OK)
      throw NatsError(
          fmt::format("cannot connect to NATS at {}: {}", redact_url(options.url), reason(s)));
  } catch (...) {
    destroy_opts();
    throw;
  }
  destroy_opts();
}

NatsClient::~NatsClient() {
  {
    std::lock_guard lock(callbacks_->mu);
    callbacks_->alive = false;
  }
  if (conn_ != nullptr) {
    natsConnection_FlushTimeout(conn_, 500);
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
}

bool NatsClient::publish(std::string_view subject, std::string_view data) {
  const std::string subj(subject);
  return natsConnection_Publish(conn_, subj.c_str(), data.data(), static_cast<int>(data.size())) ==
         NATS_OK;
}

struct NatsClient::Subscription::State {
  std::mutex mu;
  bool closed = false;
  std::function<void(NatsMessage&&)> handler;
  natsSubscription* sub = nullptr;
};

namespace {}  // namespace

NatsClient::Subscription::Subscription(std::shared_ptr<State> state) : state_(std::move(state)) {}

NatsClient::Subscription::~Subscription() {
  natsSubscription* sub = nullptr;
  {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
    sub = state_->sub;
  }
  if (sub != nullptr) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
}

std::unique_ptr<NatsClient::Subscription> NatsClient::subscribe(
    std::string subject, std::function<void(NatsMessage&&)> handler) {
  // The handler's state is shared between the Subscription object and
  // nats.c's delivery thread, which may still be delivering one message
  // while the subscription closes: the closed flag, read under the mutex
  // the handler runs under, keeps a destroyed Subscription's handler from
  // running, and the state is freed by whichever side lets go last (nats.c
  // lets go in the completion callback, after its last delivery).
  auto state = std::make_shared<Subscription::State>();
  state->handler = std::move(handler);
  auto deliver = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto& st = **static_cast<std::shared_ptr<Subscription::State>*>(closure);
    NatsMessage m;
    m.subject = natsMsg_GetSubject(msg);
    if (const char* reply = natsMsg_GetReply(msg)) m.reply = reply;
    m.data.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    std::lock_guard lock(st.mu);
    if (!st.closed) st.handler(std::move(m));
  };
  auto* closure = new std::shared_ptr<Subscription::State>(state);
  natsSubscription* sub = nullptr;
  natsStatus s = natsConnection_Subscribe(&sub, conn_, subject.c_str(), deliver, closure);
  if (s == NATS_OK) {
    s = natsSubscription_SetOnCompleteCB(
        sub, [](void* c) { delete static_cast<std::shared_ptr<Subscription::State>*>(c); },
        closure);
    if (s != NATS_OK) {
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
      closure = nullptr;  // it may still deliver: the closure is left to it
    }
  }
  if (s != NATS_OK) {
    delete closure;
    throw NatsError(fmt::format("cannot subscribe to {}: {}", subject, reason(s)));
  }
  state->sub = sub;
  return std::unique_ptr<Subscription>(new Subscription(std::move(state)));
}

std::optional<std::string> NatsClient::request(std::string_view subject, std::string_view data,
                                               std::chrono::milliseconds timeout) {
  const std::string subj(subject);
  natsMsg* reply = nullptr;
  if (natsConnection_Request(&reply, conn_, subj.c_str(), data.data(),
                             static_cast<int>(data.size()), timeout.count()) != NATS_OK)
    return std::nullopt;
  std::string out(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return out;
}

bool NatsClient::flush(std::chrono::milliseconds timeout) {
  return natsConnection_FlushTimeout(conn_, timeout.count()) == NATS_OK;
}

std::int64_t NatsClient::max_payload() const { return natsConnection_GetMaxPayload(conn_); }

bool NatsClient::connected() const {
  return natsConnection_Status(conn_) == NATS_CONN_STATUS_CONNECTED;
}

}  // namespace loadpilot::agents
