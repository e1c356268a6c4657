// gRPC's framing and status, and the judging of a unary call's HTTP/2
// result (grpc/framing.h), without sockets.
#include <gtest/gtest.h>

#include "grpc/framing.h"

namespace loadpilot::grpc {
namespace {

using metrics::ErrorKind;

TEST(GrpcFraming, AMessageGetsItsFiveBytePrefix) {
  EXPECT_EQ(frame(""), std::string("\0\0\0\0\0", 5));
  const std::string f = frame("abc");
  EXPECT_EQ(f, std::string("\0\0\0\0\3abc", 8));
  const std::string big(0x010203, 'x');
  const std::string g = frame(big);
  EXPECT_EQ(g.substr(0, 5), std::string("\0\0\x01\x02\x03", 5));
  EXPECT_EQ(g.size(), big.size() + 5);
}

TEST(GrpcFraming, UnframeTakesExactlyOneUncompressedMessage) {
  // The message is a view into the body: the body must outlive it.
  const std::string hello = frame("hello");
  Unframed u = unframe(hello);
  EXPECT_EQ(u.error, "");
  EXPECT_EQ(u.message, "hello");
  const std::string empty = frame("");
  u = unframe(empty);
  EXPECT_EQ(u.error, "");
  EXPECT_EQ(u.message, "");

  EXPECT_EQ(unframe("").error, "gRPC response without a message");
  EXPECT_EQ(unframe(std::string("\0\0\0", 3)).error,
            "gRPC message prefix cut short (3 of 5 bytes)");
  EXPECT_EQ(unframe(std::string("\0\0\0\0\5abc", 8)).error,
            "gRPC message cut short (3 of 5 bytes)");
  EXPECT_EQ(unframe(frame("a") + frame("b")).error,
            "gRPC unary response with more than one message");
  EXPECT_EQ(unframe(std::string("\1\0\0\0\1x", 6)).error,
            "gRPC message compressed, though no compression was offered");
  EXPECT_EQ(unframe(std::string("\7\0\0\0\1x", 6)).error, "gRPC message flag 7 is neither 0 nor 1");
}

TEST(GrpcStatus, TrailersWinAndATrailersOnlyResponseHasItInTheHeaders) {
  std::string error;
  auto s = status_of({{"content-type", "application/grpc"}},
                     {{"grpc-status", "5"}, {"grpc-message", "item%2042%20not%20found"}}, &error);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 5);
  EXPECT_EQ(s->message, "item 42 not found");
  // Trailers-only: no trailers at all.
  s = status_of({{"grpc-status", "12"}, {"Grpc-Message", "no"}}, {}, &error);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 12);
  EXPECT_EQ(s->message, "no");
  s = status_of({{"grpc-status", "0"}}, {}, &error);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 0);
  EXPECT_EQ(s->message, "");
}

TEST(GrpcStatus, AMissingOrMalformedStatusSaysWhich) {
  std::string error;
  EXPECT_FALSE(status_of({}, {}, &error));
  EXPECT_EQ(error, "gRPC response without grpc-status");
  EXPECT_FALSE(status_of({}, {{"grpc-status", "OK"}}, &error));
  EXPECT_EQ(error, "gRPC response with grpc-status 'OK'");
  EXPECT_FALSE(status_of({}, {{"grpc-status", ""}}, &error));
  EXPECT_FALSE(status_of({}, {{"grpc-status", "99999999999"}}, &error));
  EXPECT_FALSE(status_of({}, {{"grpc-status", "-1"}}, &error));
}

TEST(GrpcStatus, PercentDecodingLeavesBrokenEscapesAlone) {
  EXPECT_EQ(percent_decode("a%20b%e2%82%ac"), "a b\xe2\x82\xac");
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  // What a server sends comes back as it was.
  const std::string text = "100% sure\n\xe2\x82\xac";
  EXPECT_EQ(percent_encode(text), "100%25 sure%0A%E2%82%AC");
  EXPECT_EQ(percent_decode(percent_encode(text)), text);
  EXPECT_EQ(code_name(0), "OK");
  EXPECT_EQ(code_name(5), "NOT_FOUND");
  EXPECT_EQ(code_name(16), "UNAUTHENTICATED");
  EXPECT_EQ(code_name(17), "CODE_17");
}

http::Result answer(int status, http::Headers headers, http::Headers trailers, std::string body) {
  http::Result r;
  r.status = status;
  r.http_version = 20;
  r.headers = std::move(headers);
  r.trailers = std::move(trailers);
  r.body = std::move(body);
  return r;
}

TEST(GrpcJudge, OkWithOneMessageSucceeds) {
  auto r = answer(200, {{"content-type", "application/grpc"}}, {{"grpc-status", "0"}}, frame("x"));
  EXPECT_EQ(judge(r, "/demo.Shop/GetItem"), 0);
  EXPECT_FALSE(r.error);
  r = answer(200, {{"content-type", "application/grpc+proto"}}, {{"grpc-status", "0"}}, frame(""));
  EXPECT_EQ(judge(r, "/p.S/M"), 0);
  EXPECT_FALSE(r.error);
}

TEST(GrpcJudge, ANonOkStatusIsAGrpcErrorNamingCodeAndMethod) {
  auto r = answer(
      200, {{"content-type", "application/grpc"}, {"grpc-status", "5"}, {"grpc-message", "item 7"}},
      {}, "");
  EXPECT_EQ(judge(r, "/demo.Shop/GetItem"), 5);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(*r.error, ErrorKind::kGrpc);
  EXPECT_EQ(r.error_message, "gRPC NOT_FOUND (5) /demo.Shop/GetItem");
  std::string message;
  EXPECT_EQ(http::failure_of(r, &message), ErrorKind::kGrpc);
}

TEST(GrpcJudge, WhatIsNoGrpcAnswerIsAProtocolError) {
  auto r = answer(200, {{"content-type", "application/json"}}, {{"grpc-status", "0"}}, frame(""));
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_EQ(*r.error, ErrorKind::kProtocol);
  EXPECT_EQ(r.error_message, "gRPC answered with content-type 'application/json' /p.S/M");

  r = answer(200, {{"content-type", "application/grpcx"}}, {{"grpc-status", "0"}}, frame(""));
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_EQ(*r.error, ErrorKind::kProtocol);

  r = answer(200, {{"content-type", "application/grpc"}}, {}, frame(""));
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_EQ(r.error_message, "gRPC response without grpc-status /p.S/M");

  r = answer(200, {{"content-type", "application/grpc"}}, {{"grpc-status", "0"}}, "");
  EXPECT_EQ(judge(r, "/p.S/M"), 0);
  EXPECT_EQ(*r.error, ErrorKind::kProtocol);
  EXPECT_EQ(r.error_message, "gRPC response without a message /p.S/M");

  r = answer(204, {}, {}, "");
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_EQ(r.error_message, "gRPC answered with HTTP 204 /p.S/M");

  r = answer(200, {{"content-type", "application/grpc"}}, {{"grpc-status", "0"}}, frame(""));
  r.http_version = 11;
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_EQ(*r.error, ErrorKind::kProtocol);
  EXPECT_NE(r.error_message.find("gRPC needs HTTP/2"), std::string::npos);
}

TEST(GrpcJudge, HttpErrorsAndTransportErrorsStayWhatTheyAre) {
  auto r = answer(503, {}, {}, "");
  EXPECT_EQ(judge(r, "/p.S/M"), std::nullopt);
  EXPECT_FALSE(r.error);  // failure_of() counts it as http_5xx
  std::string message;
  EXPECT_EQ(http::failure_of(r, &message), ErrorKind::kHttp5xx);

  http::Result t;
  t.error = ErrorKind::kTimeout;
  t.error_message = "no response within 100 ms";
  EXPECT_EQ(judge(t, "/p.S/M"), std::nullopt);
  EXPECT_EQ(*t.error, ErrorKind::kTimeout);
  EXPECT_EQ(t.error_message, "no response within 100 ms");
}

}  // namespace
}  // namespace loadpilot::grpc
