#include "adapters/upstream/endpoint.h"

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sb::upstream {
namespace {

struct ValidCase {
  std::string url;
  std::string host;
  std::string port;
  bool tls;
  std::string base_path;
};

TEST(EndpointTest, ParsesValidUrls) {
  const std::vector<ValidCase> cases = {
      {"http://127.0.0.1:8000/v1", "127.0.0.1", "8000", false, "/v1"},
      {"https://api.openai.com/v1", "api.openai.com", "443", true, "/v1"},
      {"https://api.openai.com/v1/", "api.openai.com", "443", true, "/v1"},
      {"https://api.openai.com/v1//", "api.openai.com", "443", true, "/v1"},
      {"http://localhost", "localhost", "80", false, ""},
      {"http://localhost/", "localhost", "80", false, ""},
      {"http://[::1]:8080/v1", "::1", "8080", false, "/v1"},
      {"https://[2001:db8::7]/openai/deployments", "2001:db8::7", "443", true,
       "/openai/deployments"},
      {"HTTPS://API.Example.COM:8443/A/b", "api.example.com", "8443", true, "/A/b"},
      {"http://host:/x", "host", "80", false, "/x"},
      {"http://host:0080/x", "host", "80", false, "/x"},
      {"http://host:65535", "host", "65535", false, ""},
      {"http://my-vllm.svc.cluster.local:8000/v1", "my-vllm.svc.cluster.local", "8000", false,
       "/v1"},
      {"http://host/v1/path%20with%20space", "host", "80", false, "/v1/path%20with%20space"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    auto ep = Endpoint::parse(c.url);
    ASSERT_TRUE(ep.has_value());
    EXPECT_EQ(ep->host, c.host);
    EXPECT_EQ(ep->port, c.port);
    EXPECT_EQ(ep->tls, c.tls);
    EXPECT_EQ(ep->base_path, c.base_path);
  }
}

TEST(EndpointTest, RejectsInvalidUrls) {
  const std::vector<std::string> cases = {
      "",
      "/v1",
      "localhost:8080",
      "127.0.0.1:8000/v1",
      "ftp://host/v1",
      "ws://host/v1",
      "http:/v1",
      "http:///v1",
      "http://user@host/v1",
      "http://user:secret@host/v1",
      "http://host/v1?api-version=1",
      "http://host/v1#frag",
      "http://host:0/v1",
      "http://host:65536/v1",
      "http://host:99999999/v1",
      "http://host:abc/v1",
      "http://host:-1/v1",
      "http://[::1/v1",
      "http://[v1.fe]/v1",
      "http://ho%41st/v1",
      "http://host name/v1",
  };
  for (const auto& url : cases) {
    SCOPED_TRACE(url);
    EXPECT_FALSE(Endpoint::parse(url).has_value());
  }
}

TEST(EndpointTest, HostHeaderOmitsOnlyTheSchemesDefaultPort) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://example.com/v1", "example.com"},
      {"http://example.com:80/v1", "example.com"},
      {"http://example.com:8080/v1", "example.com:8080"},
      {"http://example.com:443/v1", "example.com:443"},
      {"https://example.com/v1", "example.com"},
      {"https://example.com:443/v1", "example.com"},
      {"https://example.com:80/v1", "example.com:80"},
      {"https://example.com:8443/v1", "example.com:8443"},
      {"http://127.0.0.1:8000/v1", "127.0.0.1:8000"},
      {"http://[::1]:8080/v1", "[::1]:8080"},
      {"http://[::1]/v1", "[::1]"},
      {"https://[2001:db8::7]:443", "[2001:db8::7]"},
  };
  std::string reused = "a longer value the buffer held before this one";
  for (const auto& [url, host] : cases) {
    SCOPED_TRACE(url);
    auto ep = Endpoint::parse(url);
    ASSERT_TRUE(ep.has_value());
    EXPECT_EQ(ep->host_header(), host);
    ep->host_header(reused);  // into a buffer that held another value: replaced whole
    EXPECT_EQ(reused, host);
  }
}

TEST(EndpointTest, PoolKeySeparatesSchemeHostAndPort) {
  auto a = Endpoint::parse("http://127.0.0.1:8000/v1");
  auto b = Endpoint::parse("http://127.0.0.1:8000/other");
  auto c = Endpoint::parse("https://127.0.0.1:8000/v1");
  auto d = Endpoint::parse("http://127.0.0.1:8001/v1");
  auto e = Endpoint::parse("http://[::1]:8000/v1");
  ASSERT_TRUE(a && b && c && d && e);
  EXPECT_EQ(a->pool_key(), "http://127.0.0.1:8000");
  EXPECT_EQ(a->pool_key(), b->pool_key());  // the path does not matter for a connection
  EXPECT_NE(a->pool_key(), c->pool_key());
  EXPECT_NE(a->pool_key(), d->pool_key());
  EXPECT_EQ(e->pool_key(), "http://[::1]:8000");
  EXPECT_EQ(Endpoint::parse("https://API.example.com/v1")->pool_key(),
            "https://api.example.com:443");
}

}  // namespace
}  // namespace sb::upstream
