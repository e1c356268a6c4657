#include "demo/connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "demo/http2_connection.h"
#include "demo/response.h"
#include "demo/ws_routes.h"
#include "http/request_parser.h"

namespace loadpilot::demo {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = Faults::Clock;

constexpr std::size_t kInitialBuffer = 8 * 1024;
// Room for the largest request the parser accepts, with its leading blank lines.
constexpr std::size_t kMaxBuffer = 2 * RequestParser::kMaxHeadBytes + RequestParser::kMaxBodyBytes;
// How long a closing connection waits for the peer to finish sending, so
// that unread bytes do not turn our close into a reset that eats the reply.
constexpr auto kLingerTime = std::chrono::seconds(1);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& worker, tcp::socket socket)
      : worker_(worker), socket_(std::move(socket)), timer_(worker.io), in_(kInitialBuffer) {}

  // Runs on the worker's thread until exactly one async operation is
  // pending: a write, a hold, a read, or the final drain.
  void advance() {
    while (!closing_ && !holding_) {
      Request request;
      std::size_t consumed = 0;
      auto result = parser_.parse({in_.data() + begin_, end_ - begin_}, &request, &consumed);
      if (result == RequestParser::Result::kNeedMore) {
        if (request.expect_continue && !continue_sent_) {
          out_ += kContinue;
          continue_sent_ = true;
        }
        break;
      }
      if (result == RequestParser::Result::kError) {
        int status = parser_.error_status();
        append_response(out_, status, error_body(status), false, false);
        closing_ = true;
        break;
      }
      parser_.reset();
      continue_sent_ = false;
      if (upgrade(request)) return;
      handle(request);  // done with the views into in_ before they move
      begin_ += consumed;
    }
    if (!out_.empty()) return write();
    if (holding_) return hold();
    if (closing_) return linger();
    read();
  }

 private:
  void handle(const Request& request) {
    RouteMatch match = match_route(request.method, request.target);
    bool keep_alive = request.keep_alive;
    bool http10 = request.minor_version == 0;
    // A HEAD is a 404 here (but for /redirect and /echo, which take any
    // method); its response must still carry no body.
    bool head_only = request.method == "HEAD";
    worker_.answer(match, request, &reply_);

    if (takes_knobs(match.route) && (worker_.faults.delays() || worker_.capacity)) {
      Clock::time_point now = Clock::now();
      // Served first (queueing for a server), then the added latency.
      Clock::time_point ready = worker_.capacity ? worker_.capacity->admit(now) : now;
      Clock::time_point release =
          worker_.faults.delays() ? worker_.faults.release_time(ready) : ready;
      if (release > now) {
        held_.clear();
        append_response(held_, reply_.status, reply_.body, keep_alive, http10, head_only,
                        reply_.location);
        release_at_ = release;
        close_after_held_ = !keep_alive;
        holding_ = true;
        return;
      }
    }
    append_response(out_, reply_.status, reply_.body, keep_alive, http10, head_only,
                    reply_.location);
    if (!keep_alive) closing_ = true;
  }

  // A WebSocket route (demo/ws_routes.h) takes the socket over, with the
  // bytes read so far, when nothing is owed on it before the upgrade.
  bool upgrade(const Request& request) {
    const WsRoute route = websocket_route(request.method, request.target);
    if (route == WsRoute::kNone || !out_.empty() || holding_) return false;
    serve_websocket(std::move(socket_), std::string(in_.data() + begin_, end_ - begin_), route);
    return true;
  }

  void write() {
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->out_.clear();
                        self->advance();
                      });
  }

  void hold() {
    timer_.expires_at(release_at_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;
      self->holding_ = false;
      self->out_ += self->held_;
      if (self->close_after_held_) self->closing_ = true;
      self->advance();
    });
  }

  void read() {
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > 0 && (end_ == in_.size() || begin_ >= in_.size() / 2)) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == in_.size()) {
      // The parser fails requests that could outgrow kMaxBuffer, so this is
      // the growth of a buffer holding one large, incomplete request.
      in_.resize(std::min(in_.size() * 2, kMaxBuffer));
    }
    socket_.async_read_some(
        asio::buffer(in_.data() + end_, in_.size() - end_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (ec) return self->close();
          self->end_ += n;
          self->advance();
        });
  }

  // Half-closes, then reads and drops whatever the peer still sends until it
  // closes too or kLingerTime passes.
  void linger() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    timer_.expires_after(kLingerTime);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close();
    });
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(in_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (ec) {
                                self->timer_.cancel();
                                return self->close();
                              }
                              self->drain();
                            });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  Worker& worker_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::vector<char> in_;
  std::size_t begin_ = 0;  // unparsed bytes are in_[begin_, end_)
  std::size_t end_ = 0;
  RequestParser parser_;
  Reply reply_;
  std::string out_;   // responses ready to write
  std::string held_;  // a response waiting for release_at_
  Clock::time_point release_at_;
  bool holding_ = false;
  bool close_after_held_ = false;
  bool closing_ = false;        // no more requests are read; close after out_ is written
  bool continue_sent_ = false;  // the 100 for the request being received
};

}  // namespace

void Worker::answer(const RouteMatch& match, const Request& request, Reply* reply) {
  if (is_counted(match.route)) {
    counters.count(match.route);
    tags.count(request.tag);
  }
  reply->location.clear();
  if (match.route == Route::kStats) {
    reply->status = 200;
    reply->storage = board.to_json();
    reply->body = reply->storage;
  } else if (match.route == Route::kStatsReset) {
    board.reset();
    endpoints.respond(match, request, reply);
  } else if (takes_knobs(match.route) && faults.inject_error()) {
    reply->status = 503;
    reply->body = kInjectedErrorBody;
  } else {
    endpoints.respond(match, request, reply);
  }
}

void serve_connection(Worker& worker, tcp::socket socket) {
  asio::post(worker.io, [&worker, socket = std::move(socket)]() mutable {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // h2c (prior knowledge) is told apart by its preface.
    sniff_http2(worker, std::move(socket), [&worker](tcp::socket s) {
      std::make_shared<Connection>(worker, std::move(s))->advance();
    });
  });
}

}  // namespace loadpilot::demo
