// Fuzz target: what LoadPilot parses of a gRPC answer itself
// (engine/grpc/framing.h): the 5-byte message prefix, grpc-status and
// grpc-message, and the judging of a unary call's HTTP/2 result.
//
// Input: "STATUS\nMESSAGE\nBODY" — the grpc-status value, the
// grpc-message value, and the response body (any bytes); a missing part is
// empty. Parts go into the trailers, or into the headers (a trailers-only
// answer) when STATUS starts with 'h'.
//
// Invariants:
//  * unframe() accepts exactly one whole uncompressed frame, and its
//    message is the body less the 5 prefix bytes;
//  * status_of() gives a code only for 1..10 decimal digits up to
//    2^31-1, and an error otherwise; percent_encode() then
//    percent_decode() gives the text back;
//  * judge(): a status it returns is the one status_of() read; a non-OK
//    status is a grpc error naming the code, and an OK one fails (as
//    protocol) exactly when the body is no single frame.
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "grpc/framing.h"

namespace {

using namespace loadpilot;

std::string_view part(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view p = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view code = part(in);
  const std::string_view message = part(in);
  const std::string body(in);
  const bool in_headers = !code.empty() && code.front() == 'h';
  if (in_headers) code.remove_prefix(1);

  const grpc::Unframed u = grpc::unframe(body);
  const bool one_frame = body.size() >= 5 && body[0] == '\0' &&
                         ((std::uint64_t{static_cast<unsigned char>(body[1])} << 24) |
                          (std::uint64_t{static_cast<unsigned char>(body[2])} << 16) |
                          (std::uint64_t{static_cast<unsigned char>(body[3])} << 8) |
                          std::uint64_t{static_cast<unsigned char>(body[4])}) == body.size() - 5;
  FUZZ_CHECK(u.error.empty() == one_frame, "unframe: " + u.error);
  if (one_frame) FUZZ_CHECK(u.message == std::string_view(body).substr(5), "message bytes");

  http::Headers meta = {{"grpc-status", std::string(code)}, {"grpc-message", std::string(message)}};
  http::Headers headers = {{"content-type", "application/grpc"}};
  http::Headers trailers;
  (in_headers ? headers : trailers)
      .insert((in_headers ? headers : trailers).end(), meta.begin(), meta.end());
  std::string why;
  const auto status = grpc::status_of(headers, trailers, &why);
  bool digits = !code.empty() && code.size() <= 10;
  for (char c : code) digits = digits && c >= '0' && c <= '9';
  const bool valid = digits && std::stoll(std::string(code)) <= 0x7fffffff;
  FUZZ_CHECK(status.has_value() == valid, "status_of: " + why);
  FUZZ_CHECK(status || !why.empty(), "no status and no reason");
  if (status) FUZZ_CHECK(status->message == grpc::percent_decode(message), "message");
  const std::string text(message);
  FUZZ_CHECK(grpc::percent_decode(grpc::percent_encode(text)) == text, "percent round trip");

  http::Result r;
  r.status = 200;
  r.http_version = 20;
  r.headers = headers;
  r.trailers = trailers;
  r.body = body;
  const auto judged = grpc::judge(r, "/p.S/M");
  if (!status) {
    FUZZ_CHECK(!judged && r.error == metrics::ErrorKind::kProtocol,
               "no status: " + r.error_message);
  } else {
    FUZZ_CHECK(judged == status->code, "judged another status");
    if (status->code != 0) {
      FUZZ_CHECK(r.error == metrics::ErrorKind::kGrpc, "non-OK: " + r.error_message);
      FUZZ_CHECK(
          r.error_message.find("(" + std::to_string(status->code) + ")") != std::string::npos,
          r.error_message);
    } else {
      FUZZ_CHECK(r.error.has_value() == !one_frame, "OK: " + r.error_message);
    }
  }
  return 0;
}
