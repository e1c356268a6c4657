// demo-api's WebSocket sessions on Boost.Beast. A broadcast goes through
// one process-wide room: the sender's thread takes the room's lock, and
// hands a copy of the message to each member on that member's own
// executor, so a session's stream is only ever touched on its thread.
#include "demo/ws_routes.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "http/request_parser.h"

namespace loadpilot::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class Session;

// The counts /ws/stats reports (process-wide: the sessions of every worker).
struct Counts {
  std::atomic<std::uint64_t> accepted{0}, received{0}, sent{0}, closed{0};
};

Counts& counts() {
  static Counts c;
  return c;
}

std::string counts_json() {
  const Counts& c = counts();
  return "{\"accepted\":" + std::to_string(c.accepted.load()) +
         ",\"received\":" + std::to_string(c.received.load()) +
         ",\"sent\":" + std::to_string(c.sent.load()) +
         ",\"closed\":" + std::to_string(c.closed.load()) + "}";
}

// The connections on /ws/broadcast.
class Room {
 public:
  void join(Session* s, const std::weak_ptr<Session>& w) {
    std::lock_guard lock(mu_);
    members_[s] = w;
  }
  void leave(Session* s) {
    std::lock_guard lock(mu_);
    members_.erase(s);
  }
  void broadcast(const std::shared_ptr<const std::string>& message, bool text);

 private:
  std::mutex mu_;
  std::map<Session*, std::weak_ptr<Session>> members_;
};

Room& room() {
  static Room r;
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, WsRoute route) : ws_(std::move(socket)), route_(route) {
    ws_.read_message_max(kMaxMessage);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  }
  ~Session() {
    if (route_ == WsRoute::kBroadcast) room().leave(this);
  }

  void start(std::string head) {
    head_ = std::move(head);
    // In the room before the upgrade is answered: a client that has its
    // 101 gets every broadcast from then on (held until the accept ends).
    if (route_ == WsRoute::kBroadcast) room().join(this, shared_from_this());
    ws_.async_accept(asio::buffer(head_), [self = shared_from_this()](beast::error_code ec) {
      self->head_.clear();
      self->head_.shrink_to_fit();
      if (ec) return;
      self->accepted_ = true;
      if (self->route_ == WsRoute::kStats) {
        // Its answer, then a normal close once it is written.
        self->closing_after_write_ = true;
        self->queue(std::make_shared<const std::string>(counts_json()), true);
        return;
      }
      counts().accepted.fetch_add(1, std::memory_order_relaxed);
      if (!self->out_.empty()) self->write();
      self->read();
    });
  }

  // From any thread: queue MESSAGE for this session.
  void deliver(std::shared_ptr<const std::string> message, bool text) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), message = std::move(message),
                                    text]() mutable { self->queue(std::move(message), text); });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        // closed (a close frame is answered by Beast), or gone
        if (ec == websocket::error::closed) counts().closed.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      counts().received.fetch_add(1, std::memory_order_relaxed);
      auto message =
          std::make_shared<const std::string>(beast::buffers_to_string(self->in_.data()));
      self->in_.clear();
      const bool text = self->ws_.got_text();
      if (self->route_ == WsRoute::kEcho) {
        self->queue(std::move(message), text);
      } else {
        room().broadcast(message, text);
      }
      self->read();
    });
  }

  void queue(std::shared_ptr<const std::string> message, bool text) {
    if (closing_) return;
    if (out_.size() >= kMaxQueued) {
      // A peer that does not read: end it rather than buffer without end.
      if (!accepted_) return;  // (the upgrade still runs: the message is dropped)
      closing_ = true;
      ws_.async_close(websocket::close_code::policy_error,
                      [self = shared_from_this()](beast::error_code) {});
      return;
    }
    out_.push_back({std::move(message), text});
    if (out_.size() == 1 && accepted_) write();
  }

  void write() {
    ws_.text(out_.front().text);
    ws_.async_write(asio::buffer(*out_.front().data), [self = shared_from_this()](
                                                          beast::error_code ec, std::size_t) {
      if (ec) {
        self->out_.clear();
        return;
      }
      self->out_.pop_front();
      if (self->closing_after_write_) {
        self->ws_.async_close(websocket::close_code::normal, [self](beast::error_code) {});
        return;
      }
      counts().sent.fetch_add(1, std::memory_order_relaxed);
      if (!self->out_.empty() && !self->closing_) self->write();
    });
  }

  struct Out {
    std::shared_ptr<const std::string> data;
    bool text;
  };
  websocket::stream<beast::tcp_stream> ws_;
  WsRoute route_;
  std::string head_;
  beast::flat_buffer in_;
  std::deque<Out> out_;
  bool closing_ = false;
  bool accepted_ = false;             // the upgrade is done: writes may start
  bool closing_after_write_ = false;  // /ws/stats: close once the answer is out
};

void Room::broadcast(const std::shared_ptr<const std::string>& message, bool text) {
  // Delivered outside the lock: the last reference to a session may be
  // dropped here, and its destructor leaves the room.
  std::vector<std::shared_ptr<Session>> now;
  {
    std::lock_guard lock(mu_);
    now.reserve(members_.size());
    for (auto& [raw, weak] : members_)
      if (std::shared_ptr<Session> s = weak.lock()) now.push_back(std::move(s));
  }
  for (const std::shared_ptr<Session>& s : now) s->deliver(message, text);
}

}  // namespace

WsRoute websocket_route(std::string_view method, std::string_view target) {
  if (method != "GET") return WsRoute::kNone;
  const std::string_view path = http::target_path(target);
  if (path == "/ws/echo") return WsRoute::kEcho;
  if (path == "/ws/broadcast") return WsRoute::kBroadcast;
  if (path == "/ws/stats") return WsRoute::kStats;
  return WsRoute::kNone;
}

void serve_websocket(tcp::socket socket, std::string head, WsRoute route) {
  std::make_shared<Session>(std::move(socket), route)->start(std::move(head));
}

}  // namespace loadpilot::demo
