#include "http/request.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "build_info.h"

namespace loadpilot::http {
namespace {

Target target(std::string_view url) {
  std::string error;
  auto t = Target::parse(url, &error);
  EXPECT_TRUE(t) << error;
  return t.value_or(Target{});
}

TEST(Request, UserAgentCarriesVersion) {
  EXPECT_EQ(user_agent(), std::string("loadpilot/") + kVersion);
}

TEST(Request, SimpleGet) {
  EXPECT_EQ(build_request(target("http://h:8080"), "GET", "/hello", {}, ""),
            "GET /hello HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: " + user_agent() + "\r\n\r\n");
}

TEST(Request, BasePathIsPrefixed) {
  const std::string r = build_request(target("http://h/api/v1/"), "GET", "/users?id=3", {}, "");
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "GET /api/v1/users?id=3 HTTP/1.1");
}

TEST(Request, EmptyPathBecomesSlashOrBase) {
  std::string r = build_request(target("http://h"), "GET", "", {}, "");
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "GET / HTTP/1.1");
  r = build_request(target("http://h/base"), "GET", "", {}, "");
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "GET /base HTTP/1.1");
  r = build_request(target("http://h/base"), "GET", "x", {}, "");
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "GET /base/x HTTP/1.1");
}

TEST(Request, PostWithBodyHasContentLength) {
  const std::string r = build_request(target("http://h"), "POST", "/items",
                                      {{"Content-Type", "application/json"}}, "{\"a\":1}");
  EXPECT_EQ(r, "POST /items HTTP/1.1\r\nHost: h\r\nUser-Agent: " + user_agent() +
                   "\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
}

TEST(Request, PostPutPatchWithoutBodySendZeroLength) {
  for (const char* m : {"POST", "PUT", "PATCH", "post"}) {
    const std::string r = build_request(target("http://h"), m, "/", {}, "");
    EXPECT_NE(r.find("Content-Length: 0\r\n"), std::string::npos) << m;
  }
  const std::string get = build_request(target("http://h"), "GET", "/", {}, "");
  EXPECT_EQ(get.find("Content-Length"), std::string::npos);
  const std::string del = build_request(target("http://h"), "DELETE", "/", {}, "x");
  EXPECT_NE(del.find("Content-Length: 1\r\n"), std::string::npos);
}

TEST(Request, CallerHeadersOverrideDefaultsCaseInsensitively) {
  const std::string r =
      build_request(target("http://h"), "POST", "/",
                    {{"host", "other"}, {"USER-AGENT", "me"}, {"content-length", "3"}}, "abc");
  EXPECT_EQ(r, "POST / HTTP/1.1\r\nhost: other\r\nUSER-AGENT: me\r\ncontent-length: 3\r\n\r\nabc");
}

// What build_request refuses, and what its message must say.
std::string refusal(std::string_view method, std::string_view path, const Headers& headers) {
  try {
    build_request(target("http://h"), method, path, headers, "");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Request, LineBreaksInHeadersAreRefusedNotStripped) {
  EXPECT_EQ(refusal("GET", "/", {{"X-A", "v1\r\nInjected: yes"}}),
            "request header X-A value \"v1\\r\\nInjected: yes\": CR, LF and NUL are not allowed");
  EXPECT_EQ(refusal("GET", "/", {{"X-B", "ok\n"}}),
            "request header X-B value \"ok\\n\": CR, LF and NUL are not allowed");
  EXPECT_EQ(refusal("GET", "/", {{"X-C", std::string("a\0b", 3)}}),
            "request header X-C value \"a\\x00b\": CR, LF and NUL are not allowed");
  EXPECT_EQ(refusal("GET", "/", {{"X-A\r\n", "v"}}),
            "request header name \"X-A\\r\\n\": a header name is a token (letters, digits, "
            "!#$%&'*+-.^_`|~)");
  EXPECT_NE(refusal("GET", "/", {{"", "v"}}).find("request header name \"\""), std::string::npos);
  EXPECT_NE(refusal("GET", "/", {{"Bad Name", "v"}}).find("request header name \"Bad Name\""),
            std::string::npos);
}

TEST(Request, LineBreaksInRequestLineAreRefused) {
  EXPECT_EQ(refusal("GET", "/a\r\nX: y", {}),
            "request path \"/a\\r\\nX: y\": CR, LF and NUL are not allowed");
  EXPECT_EQ(refusal("GET", "/a b", {}),
            "request path \"/a b\": spaces are not allowed (percent-encode them as %20)");
  EXPECT_NE(
      refusal("GET /x HTTP/1.1\r\n", "/", {}).find("request method \"GET /x HTTP/1.1\\r\\n\""),
      std::string::npos);
  EXPECT_NE(refusal("", "/", {}).find("request method \"\""), std::string::npos);
}

TEST(Request, UnusualButValidPartsPass) {
  const std::string r = build_request(target("http://h"), "PROPFIND", "/caf\xc3\xa9?q=%20",
                                      {{"X-Tab", "a\tb"}, {"X-Utf8", "\xc3\xa9"}}, "");
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "PROPFIND /caf\xc3\xa9?q=%20 HTTP/1.1");
  EXPECT_NE(r.find("X-Tab: a\tb\r\n"), std::string::npos);
}

TEST(Request, Ipv6HostHeader) {
  const std::string r = build_request(target("http://[::1]:81"), "GET", "/", {}, "");
  EXPECT_NE(r.find("Host: [::1]:81\r\n"), std::string::npos);
}

}  // namespace
}  // namespace loadpilot::http
