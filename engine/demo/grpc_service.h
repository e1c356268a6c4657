#pragma once
// demo.Shop: the demo server's gRPC service, the one examples/shop.proto
// declares (the same text is built in here, so the server needs no file).
// Messages are protobuf's, by reflection over that text (grpc/proto.h).
//
//   demo.Shop/GetItem  {id}: ids 1..1000 answer an Item; any other ends
//                      NOT_FOUND (5), "item N not found"
//   demo.Shop/Fail     {code, message}: ends with that status (0..16) and
//                      message; code 0 answers an empty Item
//   anything else      UNIMPLEMENTED (12)
//
// A request body that is not one uncompressed message, or not the
// method's message, ends INVALID_ARGUMENT (3).
//
// Thread-safety: call() may run on every worker at once.
#include <string>
#include <string_view>

namespace loadpilot::demo {

extern const std::string_view kShopProto;

struct GrpcReply {
  int status = 0;       // grpc-status
  std::string message;  // grpc-message, as sent (percent-encoded)
  std::string body;     // status 0: the framed response message
};

// PATH: the request's :path ("/demo.Shop/GetItem"); BODY: its DATA.
GrpcReply call_shop(std::string_view path, std::string_view body);

}  // namespace loadpilot::demo
