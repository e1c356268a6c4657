#include "http/target.h"

#include <gtest/gtest.h>

namespace loadpilot::http {
namespace {

Target parse_ok(std::string_view url) {
  std::string error;
  auto t = Target::parse(url, &error);
  EXPECT_TRUE(t.has_value()) << url << ": " << error;
  return t.value_or(Target{});
}

std::string parse_error(std::string_view url) {
  std::string error;
  auto t = Target::parse(url, &error);
  EXPECT_FALSE(t.has_value()) << url;
  return error;
}

TEST(Target, HttpDefaults) {
  Target t = parse_ok("http://example.com");
  EXPECT_EQ(t.scheme, "http");
  EXPECT_EQ(t.host, "example.com");
  EXPECT_EQ(t.port, 80);
  EXPECT_EQ(t.base_path, "");
  EXPECT_EQ(t.host_header, "example.com");
  EXPECT_FALSE(t.tls());
}

TEST(Target, HttpsDefaults) {
  Target t = parse_ok("https://api.example.com/");
  EXPECT_EQ(t.port, 443);
  EXPECT_TRUE(t.tls());
  EXPECT_EQ(t.base_path, "");
  EXPECT_EQ(t.host_header, "api.example.com");
}

TEST(Target, SchemeIsCaseInsensitive) { EXPECT_EQ(parse_ok("HTTP://h").scheme, "http"); }

TEST(Target, ExplicitPort) {
  Target t = parse_ok("http://127.0.0.1:8080");
  EXPECT_EQ(t.port, 8080);
  EXPECT_EQ(t.host_header, "127.0.0.1:8080");
}

TEST(Target, DefaultPortOmittedFromHostHeader) {
  EXPECT_EQ(parse_ok("http://h:80").host_header, "h");
  EXPECT_EQ(parse_ok("https://h:443").host_header, "h");
  EXPECT_EQ(parse_ok("https://h:80").host_header, "h:80");
}

TEST(Target, BasePathTrailingSlashDropped) {
  EXPECT_EQ(parse_ok("http://h/api/v1/").base_path, "/api/v1");
  EXPECT_EQ(parse_ok("http://h/api").base_path, "/api");
  EXPECT_EQ(parse_ok("http://h:81/api//").base_path, "/api");
}

TEST(Target, Ipv6) {
  Target t = parse_ok("http://[::1]:9000/x");
  EXPECT_EQ(t.host, "::1");
  EXPECT_EQ(t.port, 9000);
  EXPECT_EQ(t.host_header, "[::1]:9000");
  EXPECT_EQ(t.base_path, "/x");
  Target d = parse_ok("https://[fe80::1]");
  EXPECT_EQ(d.host_header, "[fe80::1]");
  EXPECT_EQ(d.port, 443);
}

TEST(Target, PortBounds) {
  EXPECT_EQ(parse_ok("http://h:1").port, 1);
  EXPECT_EQ(parse_ok("http://h:65535").port, 65535);
  EXPECT_NE(parse_error("http://h:0").find("bad port \"0\""), std::string::npos);
  EXPECT_NE(parse_error("http://h:65536").find("bad port \"65536\""), std::string::npos);
  EXPECT_NE(parse_error("http://h:").find("bad port \"\""), std::string::npos);
  EXPECT_NE(parse_error("http://h:8a").find("bad port \"8a\""), std::string::npos);
  EXPECT_NE(parse_error("http://h:-1").find("bad port"), std::string::npos);
  EXPECT_NE(parse_error("http://h:0000080").find("bad port"), std::string::npos);
}

TEST(Target, UnsupportedScheme) {
  EXPECT_EQ(parse_error("ftp://x"),
            "target: unsupported scheme \"ftp\" in \"ftp://x\" (use http:// or https://)");
}

TEST(Target, MissingScheme) {
  EXPECT_NE(parse_error("localhost:8080").find("missing scheme"), std::string::npos);
  EXPECT_NE(parse_error("").find("missing scheme"), std::string::npos);
}

TEST(Target, MissingHost) {
  EXPECT_NE(parse_error("http://").find("missing host"), std::string::npos);
  EXPECT_NE(parse_error("http://:80").find("missing host"), std::string::npos);
  EXPECT_NE(parse_error("http:///path").find("missing host"), std::string::npos);
}

TEST(Target, RejectsUserInfo) {
  std::string e = parse_error("http://user:pw@h/");
  EXPECT_NE(e.find("user info \"user:pw\""), std::string::npos) << e;
}

TEST(Target, RejectsFragment) {
  std::string e = parse_error("http://h/a#frag");
  EXPECT_NE(e.find("fragment \"#frag\""), std::string::npos) << e;
}

TEST(Target, RejectsQuery) {
  EXPECT_NE(parse_error("http://h/a?x=1").find("query \"?x=1\""), std::string::npos);
  EXPECT_NE(parse_error("http://h?x=1").find("query"), std::string::npos);
}

TEST(Target, RejectsBadIpv6) {
  EXPECT_NE(parse_error("http://[::1").find("unterminated IPv6"), std::string::npos);
  EXPECT_NE(parse_error("http://[]/").find("bad IPv6"), std::string::npos);
  EXPECT_NE(parse_error("http://[::1]x").find("after IPv6"), std::string::npos);
  EXPECT_NE(parse_error("http://[zz::1]").find("bad IPv6"), std::string::npos);
}

TEST(Target, Ipv4LiteralsAreStrict) {
  // Resolvers would read these as other addresses (999 wraps to 231,
  // "1.2.3" is 1.2.0.3, "0x7f" is 0.0.0.127): refused, not resolved.
  for (const char* host : {"999.1.1.1", "1.2.3", "10.0.0.256", "127.1", "0x7f", "0x7f.0.0.1",
                           "01.2.3.4", "1.2.3.4.5", "1.2.3.4.", "example.123"}) {
    const std::string e = parse_error(std::string("http://") + host + ":8080/");
    EXPECT_NE(e.find(std::string("bad IPv4 address \"") + host + "\""), std::string::npos) << e;
    EXPECT_NE(e.find("four decimal parts, each from 0 to 255"), std::string::npos) << e;
  }
  EXPECT_EQ(parse_ok("http://255.255.255.255").host, "255.255.255.255");
  EXPECT_EQ(parse_ok("http://host1").host, "host1");
  EXPECT_EQ(parse_ok("http://api.v2").host, "api.v2");
  EXPECT_EQ(parse_ok("http://0x7g").host, "0x7g");  // not a number
}

TEST(Target, Ipv6LiteralsAreStrict) {
  for (const char* bad : {"http://[:::1]", "http://[1::2::3]", "http://[12345::1]"}) {
    EXPECT_NE(parse_error(bad).find("bad IPv6 address"), std::string::npos) << bad;
  }
  EXPECT_EQ(parse_ok("http://[::ffff:127.0.0.1]").host, "::ffff:127.0.0.1");
}

TEST(Target, RejectsBadHostCharacters) {
  EXPECT_NE(parse_error("http://ba d/").find("bad host \"ba d\""), std::string::npos);
  EXPECT_NE(parse_error("http://a\"b").find("bad host"), std::string::npos);
}

TEST(Target, RejectsControlCharactersInPath) {
  EXPECT_NE(parse_error("http://h/a b").find("bad character in path"), std::string::npos);
  EXPECT_NE(parse_error("http://h/a\r\nb").find("bad character in path"), std::string::npos);
}

TEST(Target, NullErrorPointerIsAllowed) { EXPECT_FALSE(Target::parse("ftp://x", nullptr)); }

}  // namespace
}  // namespace loadpilot::http
