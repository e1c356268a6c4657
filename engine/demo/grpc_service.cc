#include "demo/grpc_service.h"

#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "grpc/framing.h"
#include "grpc/proto.h"

namespace loadpilot::demo {

const std::string_view kShopProto = R"(syntax = "proto3";
package demo;
service Shop {
  rpc GetItem(GetItemRequest) returns (Item);
  rpc Fail(FailRequest) returns (Item);
}
message GetItemRequest { int32 id = 1; }
message Item { int32 id = 1; string name = 2; int32 price_cents = 3; repeated string tags = 4; }
message FailRequest { int32 code = 1; string message = 2; }
)";

namespace {

constexpr int kMaxItem = 1000;

grpc::ProtoFile& shop() {
  static const std::shared_ptr<grpc::ProtoFile> file =
      grpc::ProtoFile::from_text("shop.proto", std::string(kShopProto));
  return *file;
}

GrpcReply failed(int status, std::string_view message) {
  GrpcReply r;
  r.status = status;
  r.message = grpc::percent_encode(message);
  return r;
}

}  // namespace

GrpcReply call_shop(std::string_view path, std::string_view body) {
  const grpc::Method* method = nullptr;
  try {
    method = &shop().method(path);
  } catch (const std::invalid_argument&) {
    return failed(12, fmt::format("no method {}", path));
  }
  const grpc::Unframed u = grpc::unframe(body);
  if (!u.error.empty()) return failed(3, u.error);
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(method->decode_request(u.message));
  } catch (const std::exception& e) {
    return failed(3, e.what());
  }
  nlohmann::json item = nlohmann::json::object();
  if (path == "/demo.Shop/GetItem") {
    const int id = request.value("id", 0);
    if (id < 1 || id > kMaxItem) return failed(5, fmt::format("item {} not found", id));
    item = {{"id", id},
            {"name", fmt::format("item-{}", id)},
            {"price_cents", id * 100},
            {"tags", {"demo", id % 2 ? "odd" : "even"}}};
  } else {  // Fail
    const int code = request.value("code", 0);
    if (code < 0 || code > grpc::kMaxCode) {
      return failed(3, fmt::format("code {} is not a gRPC status (0..16)", code));
    }
    if (code != 0) return failed(code, request.value("message", std::string()));
  }
  GrpcReply r;
  r.body = grpc::frame(method->encode_response(item.dump()));
  return r;
}

}  // namespace loadpilot::demo
