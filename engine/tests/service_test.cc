// The coordinator service's small pure parts (agents/api_server.h,
// agents/http_channel.h): who counts as loopback, the token comparison, and
// the URLs `run --coordinator-url` accepts. The service itself is tested
// end to end (engine/tests/e2e/test_coordinator_service.py).
#include <gtest/gtest.h>

#include "agents/api_server.h"
#include "agents/http_channel.h"

namespace loadpilot::agents {
namespace {

TEST(Service, LoopbackHostsAreOnlyThisMachine) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", ""})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(Service, SecretsCompareWhole) {
  EXPECT_TRUE(same_secret("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(same_secret("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(same_secret("s3cret", "s3cret-token"));
  EXPECT_FALSE(same_secret("", "x"));
}

TEST(Service, CoordinatorUrls) {
  std::string why;
  auto u = parse_service_url("http://localhost:8080/", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->text, "http://localhost:8080");
  u = parse_service_url("http://[::1]:9000", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  u = parse_service_url("http://coordinator", &why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->port, 80);
  for (const char* bad : {"https://h:8080", "h:8080", "http://h:8080/api", "http://u@h:1",
                          "http://h:0", "http://h:99999", "http://:8080", "http://[::1"}) {
    EXPECT_FALSE(parse_service_url(bad, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace loadpilot::agents
