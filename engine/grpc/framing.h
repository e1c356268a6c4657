#pragma once
// gRPC over HTTP/2, the parts LoadPilot writes itself: the 5-byte message
// prefix, the status a call ends with (grpc-status / grpc-message, in the
// trailers or in a trailers-only response), and how a finished HTTP/2
// request of a unary call is judged. Framing, HPACK and flow control stay
// nghttp2's (http/http2_session.h); messages are protobuf's (grpc/proto.h).
// Nothing here touches a socket: engine/tests/grpc_framing_test.cc.
//
// Thread-safety: free functions without state.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/client.h"
#include "http/request.h"

namespace loadpilot::grpc {

// gRPC's status codes (grpc/doc/statuscodes.md); 0 is OK.
inline constexpr int kOk = 0;
inline constexpr int kMaxCode = 16;

// "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "CODE_<n>" outside 0..16.
std::string code_name(int code);

// One uncompressed message with its prefix: flag 0, 4-byte big-endian
// length, the bytes.
std::string frame(std::string_view message);

// The one message of a unary answer's body. The body must be exactly one
// uncompressed frame (LoadPilot sends no grpc-accept-encoding, so a
// compressed one is the server's error); anything else sets `error`.
struct Unframed {
  std::string_view message;  // inside the body given
  std::string error;         // empty when the body was one whole frame
};
Unframed unframe(std::string_view body);

// A call's end as the server said it.
struct Status {
  int code = 0;
  std::string message;  // grpc-message, percent-decoded
};

// grpc-status and grpc-message from the trailers, else from the headers
// (a trailers-only response carries them there). nullopt without a
// grpc-status, or with one that is not a decimal number up to 2^31-1
// (`error` says which).
std::optional<Status> status_of(const http::Headers& headers, const http::Headers& trailers,
                                std::string* error);

// grpc-message's encoding (what a server sends): bytes outside printable
// ASCII, and '%', as %XX.
std::string percent_encode(std::string_view s);

// grpc-message's encoding: %XX for bytes outside printable ASCII and '%'.
// A '%' not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view s);

// Whether a request is a gRPC call: its content-type is application/grpc
// (or application/grpc+proto...), as gRPC's HTTP/2 mapping defines one.
bool is_call(const http::Headers& headers);

// Judges a finished HTTP/2 request of a unary call to PATH
// ("/package.Service/Method"), in place, so that http::failure_of() then
// counts it as the call's outcome:
//   * a transport error stays what it is;
//   * an answer over HTTP/1.1 (the run does not speak HTTP/2 to the
//     target), any HTTP status but 200 below 400, a content-type that is
//     not application/grpc, no grpc-status, or grpc-status 0 with a body
//     that is not one whole message: ErrorKind::kProtocol;
//   * HTTP 4xx/5xx stay http_4xx / http_5xx, as gRPC clients map them;
//   * grpc-status other than 0: ErrorKind::kGrpc, "gRPC NOT_FOUND (5)
//     /demo.Shop/GetItem" (the server's grpc-message is left out: it may
//     hold ids, and the table of messages must stay small).
// Returns the status the server sent (also when not OK), nullopt when it
// sent none that counts.
std::optional<int> judge(http::Result& r, std::string_view path);

}  // namespace loadpilot::grpc
