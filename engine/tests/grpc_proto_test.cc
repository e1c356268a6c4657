// ProtoFile (grpc/proto.h): a .proto parsed at run start, methods looked
// up by name, requests from JSON and responses to JSON, and the messages
// of what is wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "grpc/framing.h"
#include "grpc/proto.h"

namespace loadpilot::grpc {
namespace {

namespace fs = std::filesystem;

constexpr const char* kShop = R"(syntax = "proto3";
package demo;
import "common.proto";
service Shop {
  rpc GetItem(GetItemRequest) returns (Item);
  rpc Watch(GetItemRequest) returns (stream Item);
}
message GetItemRequest { int32 id = 1; Page page = 2; repeated Page pages = 3; }
message Item { int32 id = 1; string name = 2; repeated string tags = 3; int32 price_cents = 4; }
)";
constexpr const char* kCommon = R"(syntax = "proto3";
package demo;
message Page { int32 size = 1; string cursor_token = 2; }
)";

class ProtoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lp-proto-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    write("shop.proto", kShop);
    write("common.proto", kCommon);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(ProtoTest, AUnaryCallEncodesItsRequestAndDecodesItsResponse) {
  auto p = ProtoFile::load(path("shop.proto"), "protos/shop.proto");
  ASSERT_EQ(p->files().size(), 2u);
  EXPECT_EQ(p->files()[0], path("shop.proto"));
  EXPECT_EQ(p->files()[1], path("common.proto"));
  const Method& m = p->method("demo.Shop/GetItem");
  EXPECT_EQ(m.path(), "/demo.Shop/GetItem");
  EXPECT_EQ(&m, &p->method("/demo.Shop/GetItem"));  // looked up once

  const std::string body = m.encode(R"({"id": 7, "page": {"size": 3, "cursorToken": "c"}})");
  const Unframed u = unframe(body);
  ASSERT_EQ(u.error, "");
  EXPECT_EQ(m.decode_request(u.message),
            R"({"id":7,"page":{"size":3,"cursor_token":"c"},"pages":[]})");

  const std::string item = m.encode_response(R"({"id": 7, "name": "lamp", "tags": ["a"]})");
  EXPECT_EQ(m.decode(item), R"({"id":7,"name":"lamp","tags":["a"],"price_cents":0})");
}

TEST_F(ProtoTest, AFieldTheMessageDoesNotHaveIsNamedWithItsPlace) {
  auto p = ProtoFile::load(path("shop.proto"), "shop.proto");
  const Method& m = p->method("demo.Shop/GetItem");
  try {
    m.encode(R"({"idd": 7})");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "request.idd: message demo.GetItemRequest has no field 'idd' (fields: id, page, "
                 "pages)");
  }
  try {
    m.encode(R"({"pages": [{"size": 1}, {"sise": 2}]})");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "request.pages[1].sise: message demo.Page has no field 'sise' (fields: size, "
                 "cursor_token)");
  }
  try {
    m.encode(R"({"id": "seven"})");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("request of demo.Shop/GetItem (message "
                                         "demo.GetItemRequest): "),
              std::string::npos)
        << e.what();
  }
  try {
    m.decode("\xff\xff");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "response of demo.Shop/GetItem is not a valid demo.Item message");
  }
}

TEST_F(ProtoTest, UnknownServicesAndMethodsListWhatThereIs) {
  auto p = ProtoFile::load(path("shop.proto"), "shop.proto");
  auto message = [&](const std::string& name) -> std::string {
    try {
      p->method(name);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message("demo.Shopp/GetItem"),
            "shop.proto: no service 'demo.Shopp' (services: demo.Shop)");
  EXPECT_EQ(message("demo.Shop/Get"),
            "shop.proto: service demo.Shop has no method 'Get' (methods: GetItem, Watch)");
  EXPECT_EQ(message("GetItem"), "gRPC method 'GetItem' must be written \"package.Service/Method\"");
  EXPECT_EQ(message("demo.Shop/Watch"),
            "shop.proto: demo.Shop/Watch is a streaming method; only unary calls are made "
            "(docs/protocols.md#grpc)");
}

TEST_F(ProtoTest, AParseErrorNamesFileLineAndColumn) {
  write("bad.proto", "syntax = \"proto3\";\npackage demo;\nmessage A {\n  int32 id = 1\n}\n");
  try {
    ProtoFile::load(path("bad.proto"), "protos/bad.proto");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "protos/bad.proto:5:1: Expected \";\".");
  }
  write("imp.proto", "syntax = \"proto3\";\nimport \"missing.proto\";\n");
  try {
    ProtoFile::load(path("imp.proto"), "imp.proto");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("missing.proto"), std::string::npos) << e.what();
  }
  try {
    ProtoFile::load(path("none.proto"), "none.proto");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "none.proto: proto file not found");
  }
}

TEST(ProtoText, TheDemoServersFileParsesFromText) {
  auto p = ProtoFile::from_text("x.proto", kCommon);
  EXPECT_THROW(p->method("demo.X/Y"), std::invalid_argument);
  EXPECT_THROW(ProtoFile::from_text("y.proto", "syntax = \"proto3\"; message {"),
               std::invalid_argument);
}

}  // namespace
}  // namespace loadpilot::grpc
