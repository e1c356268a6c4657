#include "scenario/websocket_hub.h"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <utility>

namespace py = pybind11;

namespace loadpilot::scenario {

using Clock = std::chrono::steady_clock;

WebSocketHub::WebSocketHub(boost::asio::io_context& io, http::Target target, bool insecure,
                           std::chrono::milliseconds timeout,
                           std::function<void(const metrics::WebSocketCounts&)> tally,
                           Clock::time_point t0)
    : io_(io), target_(std::move(target)), tally_(std::move(tally)), t0_(t0) {
  options_.handshake_timeout = timeout;
  options_.insecure = insecure;
  if (target_.tls()) tls_ = http::websocket_tls_context(insecure);
}

WebSocketHub::~WebSocketHub() { close_all(); }

std::int64_t WebSocketHub::us(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::microseconds>(t - t0_).count();
}

std::uint64_t WebSocketHub::open(const std::string& path,
                                 const http::WebSocketClient::Headers& headers,
                                 std::uint64_t max_message, double timeout_s) {
  const std::uint64_t id = next_id_++;
  http::WebSocketOptions options = options_;
  if (max_message > 0) options.max_message = max_message;
  if (timeout_s > 0) {
    options.handshake_timeout = options.close_timeout =
        std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000 + 0.5));
  }
  auto client = http::WebSocketClient::create(io_, tls_.get(), target_, options);
  sockets_[id].client = client;
  if (closed_) {
    http::WebSocketClient::Result r;
    r.error = metrics::ErrorKind::kReset;
    r.error_message = "the run is over";
    r.started_at = r.done_at = Clock::now();
    events_.push_back({id, kOpen, std::move(r)});
    return id;
  }
  client->open(path, headers, [this, id](http::WebSocketClient::Result&& r) {
    if (!r.error) {
      metrics::WebSocketCounts c;
      c.opened = 1;
      tally_(c);
    }
    events_.push_back({id, kOpen, std::move(r)});
  });
  return id;
}

void WebSocketHub::send(std::uint64_t socket, const py::bytes& data, bool binary) {
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return;
  std::string payload = data;
  const std::uint64_t size = payload.size();
  it->second.client->send(std::move(payload), binary,
                          [this, socket, size](http::WebSocketClient::Result&& r) {
                            if (!r.error) {
                              metrics::WebSocketCounts c;
                              c.messages_sent = 1;
                              c.bytes_sent = size;
                              tally_(c);
                              return;
                            }
                            if (r.close_code) count_close(socket, r.close_code);
                            events_.push_back({socket, kSend, std::move(r)});
                          });
}

void WebSocketHub::recv(std::uint64_t socket) {
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return;
  it->second.client->receive([this, socket](http::WebSocketClient::Result&& r) {
    if (!r.error) {
      metrics::WebSocketCounts c;
      c.messages_received = 1;
      c.bytes_received = r.data.size();
      tally_(c);
    } else if (r.close_code) {
      count_close(socket, r.close_code);
    }
    events_.push_back({socket, kRecv, std::move(r)});
  });
}

void WebSocketHub::close(std::uint64_t socket, int code) {
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return;
  const bool was_open = it->second.client->is_open();
  it->second.client->close(static_cast<std::uint16_t>(code),
                           [this, socket, was_open](http::WebSocketClient::Result&& r) {
                             if (was_open && r.close_code) count_close(socket, r.close_code);
                             events_.push_back({socket, kClose, std::move(r)});
                             sockets_.erase(socket);
                           });
}

void WebSocketHub::abort(std::uint64_t socket) {
  auto it = sockets_.find(socket);
  if (it == sockets_.end()) return;
  std::shared_ptr<http::WebSocketClient> client = std::move(it->second.client);
  sockets_.erase(it);
  client->abort();
}

void WebSocketHub::close_all() {
  closed_ = true;
  std::unordered_map<std::uint64_t, Socket> all;
  all.swap(sockets_);
  for (auto& [id, s] : all)
    if (s.client) s.client->abort();
}

void WebSocketHub::count_close(std::uint64_t socket, std::uint16_t code) {
  auto it = sockets_.find(socket);
  if (it == sockets_.end() || it->second.close_counted) return;
  it->second.close_counted = true;
  metrics::WebSocketCounts c;
  c.add_close(code);
  tally_(c);
}

void WebSocketHub::take(py::list& out) {
  std::vector<Event> taken;
  taken.swap(events_);
  for (Event& e : taken) {
    http::WebSocketClient::Result& r = e.result;
    py::object kind = py::none();
    if (r.error) kind = py::str(std::string(metrics::name(*r.error)));
    const int code = e.op == kOpen ? r.status : r.close_code;
    out.append(py::make_tuple(kEventTag, e.socket, e.op, std::move(kind),
                              std::move(r.error_message), py::bytes(r.data), r.binary, code,
                              us(r.started_at), us(r.done_at)));
  }
}

}  // namespace loadpilot::scenario

PYBIND11_EMBEDDED_MODULE(_loadpilot_ws, m) {
  using loadpilot::scenario::WebSocketHub;
  // Owned by the runtime's Hub; Python holds it only for the run.
  py::class_<WebSocketHub, std::unique_ptr<WebSocketHub, py::nodelete>>(m, "WebSocketHub")
      .def("open", &WebSocketHub::open)
      .def("send", &WebSocketHub::send)
      .def("recv", &WebSocketHub::recv)
      .def("close", &WebSocketHub::close)
      .def("abort", &WebSocketHub::abort);
}
