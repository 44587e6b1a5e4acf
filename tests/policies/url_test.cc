// The one URL grammar (policies/url.h) and the provider table (policies/providers.h).

#include "policies/url.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "policies/providers.h"

namespace sb::config {
namespace {

constexpr std::string_view kHttp[] = {"http", "https"};

TEST(UrlTest, SplitsEveryPart) {
  const Parsed<Url> p = parse_url("HTTPS://user:pw@[::1]:8443/v1/x", kHttp, true);
  ASSERT_TRUE(p.value);
  EXPECT_EQ(p.value->scheme, "HTTPS");
  ASSERT_TRUE(p.value->userinfo);
  EXPECT_EQ(*p.value->userinfo, "user:pw");
  EXPECT_EQ(p.value->authority, "user:pw@[::1]:8443");
  EXPECT_EQ(p.value->host.host, "::1");
  EXPECT_TRUE(p.value->host.ipv6);
  EXPECT_EQ(p.value->port, 8443);
  EXPECT_EQ(p.value->path, "/v1/x");
}

TEST(UrlTest, NamesTheProblemAndThePart) {
  struct Case {
    std::string_view url;
    UrlProblem problem;
    std::string_view part;
  };
  const Case cases[] = {
      {"ftp://h", UrlProblem::scheme, "ftp://h"},
      {"http//h", UrlProblem::scheme, "http//h"},
      {"http://h\x01", UrlProblem::control, "http://h\x01"},
      {"http://h#f", UrlProblem::query, "http://h#f"},
      {"http://u@h", UrlProblem::userinfo, "u"},
      {"http://", UrlProblem::no_host, ""},
      {"http://:80", UrlProblem::no_host, ":80"},
      {"http://[::1", UrlProblem::ipv6_unterminated, "[::1"},
      {"http://[::1]8", UrlProblem::ipv6_trailing, "8"},
      {"http://[::g]", UrlProblem::ipv6_invalid, "::g"},
      {"http://a:1:2", UrlProblem::host_colons, "1:2"},
      {"http://a*b", UrlProblem::host_invalid, "a*b"},
      {"http://a:", UrlProblem::port_invalid, ""},
      {"http://a:99999", UrlProblem::port_invalid, "99999"},
  };
  for (const Case& c : cases) {
    const Parsed<Url> p = parse_url(c.url, kHttp, false);
    EXPECT_FALSE(p.value) << c.url;
    EXPECT_EQ(p.problem, c.problem) << c.url;
    EXPECT_EQ(p.part, c.part) << c.url;
  }
}

TEST(UrlTest, QueryCharactersInsideTheUserinfoAreNotAQuery) {
  constexpr std::string_view kRedis[] = {"redis", "rediss"};
  const Parsed<Url> p = parse_url("redis://:p?#w@h:6380/2", kRedis, true);
  ASSERT_TRUE(p.value);
  EXPECT_EQ(*p.value->userinfo, ":p?#w");
  EXPECT_EQ(p.value->port, 6380);
  EXPECT_EQ(p.value->path, "/2");
}

TEST(UrlTest, HostPortLeavesThePortRangeToTheCaller) {
  const Parsed<HostPort> zero = parse_host_port("0.0.0.0:0", true);
  ASSERT_TRUE(zero.value);
  EXPECT_EQ(zero.value->host, "0.0.0.0");
  EXPECT_EQ(zero.value->port, "0");
  EXPECT_EQ(parse_host_port("localhost", true).problem, UrlProblem::port_missing);
  EXPECT_EQ(parse_host_port("[::1]", true).problem, UrlProblem::port_missing);
  EXPECT_TRUE(parse_host_port("[::1]", false).value);
}

TEST(UrlTest, PercentDecodingNeedsTwoHexDigits) {
  EXPECT_EQ(percent_decode("a%2Fb%2f"), "a/b/");
  EXPECT_FALSE(percent_decode("a%2"));
  EXPECT_FALSE(percent_decode("a%zz"));
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('\0'), -1);
}

TEST(ProviderTableTest, EveryProviderHasOneRowFoundByItsName) {
  for (const ProviderInfo& info : providers()) {
    EXPECT_EQ(&provider_info(info.provider), &info) << info.name;
    EXPECT_EQ(find_provider(info.name), &info) << info.name;
    EXPECT_EQ(to_string(info.provider), info.name);
    EXPECT_EQ(info.required_keys & ~info.allowed_keys, 0u) << info.name;
  }
  EXPECT_EQ(providers().size(), static_cast<std::size_t>(Provider::bedrock) + 1);
  EXPECT_EQ(find_provider("nope"), nullptr);
}

TEST(ProviderTableTest, KeyMessagesNameTheProvidersThatTakeTheKey) {
  EXPECT_EQ(providers_accepting(kKeyApiVersion), "only for azure-openai and anthropic");
  EXPECT_EQ(providers_accepting(kKeyAws), "only for provider bedrock");
  EXPECT_EQ(providers_accepting(kKeyOpenAiIds), "only for provider openai");
  EXPECT_EQ(providers_accepting(kKeyWireApi), "only for provider ollama");
}

TEST(ProviderTableTest, ClosedProvidersAreTheHostedApis) {
  for (const ProviderInfo& info : providers()) {
    const bool hosted = info.provider == Provider::openai || info.provider == Provider::anthropic ||
                        info.provider == Provider::gemini ||
                        info.provider == Provider::azure_openai ||
                        info.provider == Provider::bedrock;
    EXPECT_EQ(info.hosting == Hosting::closed, hosted) << info.name;
  }
}

}  // namespace
}  // namespace sb::config
