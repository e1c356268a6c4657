#pragma once
// demo-api's WebSocket routes (docs/protocols.md#websocket):
//   GET /ws/echo       every message comes back as it was sent (text or binary)
//   GET /ws/broadcast  every message goes to every connection on /ws/broadcast
//                      at that moment, the sender's included, on any worker
//   GET /ws/stats      one text message, then a normal close: the counts of
//                      the two routes above since the process started,
//                      {"accepted":n,"received":n,"sent":n,"closed":n}
//                      (upgrades done, messages read and written, close
//                      handshakes the client started); its own are not counted
// Each needs a WebSocket upgrade (RFC 6455); a plain GET gets Beast's
// answer to a bad upgrade (400) and the connection closes. Messages up to
// kMaxMessage bytes; a connection whose peer falls kMaxQueued broadcast
// messages behind is closed (1008, policy) rather than buffered without end.
// A client's close frame is answered and the connection ends.
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace loadpilot::demo {

enum class WsRoute { kNone, kEcho, kBroadcast, kStats };

inline constexpr std::size_t kMaxMessage = 1024 * 1024;
inline constexpr std::size_t kMaxQueued = 1024;

// The WebSocket route METHOD TARGET asks for, or kNone.
WsRoute websocket_route(std::string_view method, std::string_view target);

// Serves ROUTE on SOCKET (on its own executor's thread) from the upgrade
// request in HEAD, the bytes read so far. Lives until the peer leaves, an
// error, or the socket's io_context is destroyed.
void serve_websocket(boost::asio::ip::tcp::socket socket, std::string head, WsRoute route);

}  // namespace loadpilot::demo
