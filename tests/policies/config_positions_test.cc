// Every config error carries FILE:LINE:COL and its key path: errors of one value, errors across
// sections (a rule naming an unknown backend, a rule no request reaches), detector patterns that
// do not compile, URLs, and the errors found after loading that locate() places at their key.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

LoadResult load(std::string_view yaml) {
  return load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
}

// Line 1 is `backends:`; the custom detector's pattern is on line 9, column 18.
constexpr std::string_view kDetector = R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
sensitivity:
  detectors:
    email: internal
    custom:
      - name: codename
        level: confidential
        pattern: PATTERN
)";

LoadResult with_pattern(std::string_view pattern) {
  std::string yaml(kDetector);
  yaml.replace(yaml.find("PATTERN"), 7, pattern);
  return load(yaml);
}

TEST(ConfigPositionsTest, DetectorPatternThatDoesNotCompileIsReportedAtThePattern) {
  const LoadResult r = with_pattern("\"(unclosed\"");
  ASSERT_EQ(r.errors.size(), 1u) << ::testing::PrintToString(messages(r));
  const ConfigError& e = r.errors[0];
  EXPECT_EQ(e.line, 9);
  EXPECT_EQ(e.column, 18);
  EXPECT_EQ(e.path, "sensitivity.detectors.custom[0].pattern");
  EXPECT_TRUE(e.message.starts_with("pattern does not compile: ")) << e.message;
  EXPECT_GT(e.message.size(), std::string_view("pattern does not compile: ").size());
}

TEST(ConfigPositionsTest, DetectorPatternWithANulByteIsReportedAtThePattern) {
  EXPECT_EQ(messages(with_pattern(R"("a\0b")")),
            std::vector<std::string>{"t.yaml:9:18: sensitivity.detectors.custom[0].pattern: "
                                     "pattern does not compile: pattern contains a NUL byte"});
}

TEST(ConfigPositionsTest, DetectorPatternThatCompilesLoads) {
  const LoadResult r = with_pattern(R"("\\bPROJECT-(ATLAS|ORION)\\b")");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->sensitivity.custom.at(0).pattern, R"(\bPROJECT-(ATLAS|ORION)\b)");
}

TEST(ConfigPositionsTest, RuleRoutingToAnUnknownBackendIsReportedAtTheName) {
  const LoadResult r = load(R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
policies:
  - name: default
    route: {to: [a, nope]}
)");
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "t.yaml:5:21: policies[0].route.to[1]: unknown backend 'nope'"});
}

TEST(ConfigPositionsTest, CandidateNamingABackendDeclaredNowhereIsReportedAtTheName) {
  const LoadResult r = load(R"(models:
  chat:
    candidates: [a, ghost]
backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
)");
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "t.yaml:3:21: models.chat.candidates[1]: unknown backend 'ghost'"});
}

TEST(ConfigPositionsTest, RuleAfterACatchAllIsReportedAtTheRule) {
  const LoadResult r = load(R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
policies:
  - name: default
    route: {to: a}
  - name: late
    when: {features: {tools: true}}
    route: {to: a}
)");
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "t.yaml:6:5: policies[1]: unreachable: rule 'late' comes after "
                             "catch-all rule 'default'"});
}

TEST(ConfigPositionsTest, RuleThatCanNeverRouteIsReportedAtItsTo) {
  const LoadResult r = load(R"(backends:
  cloud: {provider: openai, base_url: "https://api.openai.com/v1", model: m}
egress: none
policies:
  - name: default
    route:
      to: cloud
)");
  EXPECT_EQ(messages(r), std::vector<std::string>{
                             "t.yaml:7:11: policies[0].route.to: can never route: every backend "
                             "is excluded (closed, and egress is none)"});
}

// Each broken base URL, on line 2 column 33, with the message its part gets.
TEST(ConfigPositionsTest, BadBaseUrlsAreReportedAtTheUrl) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ftp://h", "expected an http:// or https:// URL, got 'ftp://h'"},
      {"http://h st", "URL must not contain spaces or control characters"},
      {"http://h/v1?x=1", "URL must not contain a query or fragment"},
      {"http://u:p@h", "URL must not contain credentials (use api_key or headers)"},
      {"http:///v1", "URL has no host"},
      {"http://[::1", "URL has an invalid host '[::1'"},
      {"http://[zz]:80", "URL has an invalid host '[zz]:80'"},
      {"http://[::1]x", "URL has an invalid host '[::1]x'"},
      {"http://h!:80", "URL has an invalid host 'h!'"},
      {"http://h:0", "URL has an invalid port '0'"},
      {"http://h:65536", "URL has an invalid port '65536'"},
      {"http://h:1:2", "URL has an invalid port '1:2'"},
  };
  for (const auto& [url, message] : cases) {
    const LoadResult r =
        load("backends:\n  a: {provider: vllm, base_url: \"" + url + "\", model: m}\n");
    EXPECT_EQ(messages(r), std::vector<std::string>{"t.yaml:2:33: backends.a.base_url: " + message})
        << url;
  }
}

TEST(ConfigPositionsTest, BaseUrlIsNormalised) {
  const LoadResult r =
      load("backends:\n  a: {provider: vllm, base_url: \"HTTPS://[::1]:8443/v1//\", model: m}\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(r.config->backends.at(0).base_url, "https://[::1]:8443/v1");
}

TEST(ConfigPositionsTest, BadStateUrlIsReportedAtTheUrl) {
  const LoadResult r = load(R"(state:
  store: redis
  url: "redis://[::1"
backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
)");
  EXPECT_EQ(messages(r),
            std::vector<std::string>{"t.yaml:3:8: state.url: URL has an unterminated IPv6 address "
                                     "(missing ']')"});
}

// ---------------------------------------------------------------------------------------------
// Errors found after loading (the gateway's TLS contexts, the detector compiler) name a key path;
// locate() gives them the key's position.

constexpr std::string_view kLocated = R"(backends:
  a:
    provider: vllm
    base_url: "https://127.0.0.1:8443/v1"
    model: m
    tls:
      verify: true
sensitivity:
  detectors:
    email: internal
    custom:
      - {name: codename, level: confidential, keywords: [atlas]}
)";

TEST(ConfigPositionsTest, LocatePlacesAnErrorAtTheKeyItNames) {
  const LoadResult r = load(kLocated);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_EQ(locate(*r.config, "backends.a.tls: cannot read CA file").to_string(),
            "t.yaml:7:7: backends.a.tls: cannot read CA file");
  EXPECT_EQ(locate(*r.config, "backends.a.base_url: invalid URL 'x'").to_string(),
            "t.yaml:4:15: backends.a.base_url: invalid URL 'x'");
  EXPECT_EQ(locate(*r.config, "sensitivity.custom[codename]: does not compile").to_string(),
            "t.yaml:12:9: sensitivity.custom[codename]: does not compile");
  EXPECT_EQ(locate(*r.config, "sensitivity.detectors.email: too large").to_string(),
            "t.yaml:10:12: sensitivity.detectors.email: too large");
}

TEST(ConfigPositionsTest, LocateFallsBackToTheNearestKnownKey) {
  const LoadResult r = load(kLocated);
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  // Below a known key: that key's position, the full path kept.
  EXPECT_EQ(locate(*r.config, "backends.a.tls.ca_file: bad").to_string(),
            "t.yaml:7:7: backends.a.tls.ca_file: bad");
  EXPECT_EQ(locate(*r.config, "backends.a.timeouts: bad").to_string(),
            "t.yaml:3:5: backends.a.timeouts: bad");
  EXPECT_EQ(locate(*r.config, "sensitivity.detectors.jwt: bad").to_string(),
            "t.yaml:10:5: sensitivity.detectors.jwt: bad");
  // A backend the file does not declare: the section.
  EXPECT_EQ(locate(*r.config, "backends.zz.tls: bad").to_string(),
            "t.yaml:2:3: backends.zz.tls: bad");
  // Nothing known: the file, no position, the message whole.
  EXPECT_EQ(locate(*r.config, "cost.savings_reference: bad").to_string(),
            "t.yaml:0:0: cost.savings_reference: bad");
  EXPECT_EQ(locate(*r.config, "no key path here").to_string(), "t.yaml:0:0: no key path here");
}

}  // namespace
}  // namespace sb::config
