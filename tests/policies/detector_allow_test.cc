// Detector allow-lists (policies/detector_allow.h): a value an `allow:` entry or the default list
// allows counts for nothing, and is reported by entry (never by value); the config syntax and its
// errors at FILE:LINE:COL; what explain shows.

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "policies/config.h"
#include "policies/detector.h"
#include "policies/detector_allow.h"
#include "policies/engine.h"
#include "tests/policies/fake_state.h"

namespace sb::policies {
namespace {

constexpr int kInternal = 1;
constexpr int kConfidential = 2;
constexpr int kRestricted = 3;

/// The loader's default levels, the default allow-list on.
config::SensitivitySettings defaults() {
  config::SensitivitySettings s;
  for (const std::string& name : config::builtin_entities()) {
    int level = kRestricted;
    if (name == "email" || name == "phone") {
      level = kConfidential;
    } else if (name == "ip_address") {
      level = kInternal;
    }
    s.entities.push_back(config::EntityLevel{name, level, {}});
  }
  return s;
}

config::EntityLevel& entity(config::SensitivitySettings& s, std::string_view name) {
  for (config::EntityLevel& e : s.entities) {
    if (e.entity == name) {
      return e;
    }
  }
  throw std::logic_error("no such entity");
}

config::AllowEntry value(std::string v) {
  return config::AllowEntry{std::move(v), {}};
}
config::AllowEntry pattern(std::string p) {
  return config::AllowEntry{{}, std::move(p)};
}

std::unique_ptr<Detector> compile(const config::SensitivitySettings& s) {
  std::string error;
  auto d = Detector::compile(s, error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

Detection scan(const Detector& d, std::string_view text) {
  return d.scan(std::vector<std::string_view>{text});
}

/// "email x2" for each entity found, in Detection order.
std::vector<std::string> found(const Detector& d, const Detection& r) {
  std::vector<std::string> out;
  for (const EntityCount& e : r.entities) {
    out.push_back(d.entity_names()[e.entity] + " x" + std::to_string(e.count));
  }
  return out;
}

/// "email x1 by defaults.noreply_anthropic (default)" for each allowed group.
std::vector<std::string> allowed(const Detector& d, const Detection& r) {
  std::vector<std::string> out;
  for (const AllowedCount& a : r.allowed) {
    const AllowEntryName& entry = d.allow_entries().at(a.entry);
    out.push_back(d.entity_names()[a.entity] + " x" + std::to_string(a.count) + " by " +
                  entry.name + (entry.from_defaults ? " (default)" : ""));
  }
  return out;
}

using Strings = std::vector<std::string>;

// -------------------------------------------------------------------------------------------------
// The default allow-list.

TEST(DetectorAllowTest, ClaudeCodeTrailerDoesNotRaiseTheLevel) {
  const auto d = compile(defaults());
  const Detection r = scan(*d,
                           "When you commit, end the message with:\n\n"
                           "   Co-Authored-By: Claude <noreply@anthropic.com>\n");
  EXPECT_EQ(r.level, -1);
  EXPECT_TRUE(r.entities.empty());
  EXPECT_EQ(allowed(*d, r), Strings{"email x1 by defaults.noreply_anthropic (default)"});
}

TEST(DetectorAllowTest, AllowedAddressPlusARealOneIsConfidential) {
  const auto d = compile(defaults());
  const Detection r = scan(*d,
                           "Co-Authored-By: Claude <noreply@anthropic.com>\n"
                           "and please mail the result to jane.doe@contoso.com");
  EXPECT_EQ(r.level, kConfidential);
  EXPECT_EQ(found(*d, r), Strings{"email x1"});
  EXPECT_EQ(allowed(*d, r), Strings{"email x1 by defaults.noreply_anthropic (default)"});
}

TEST(DetectorAllowTest, CodexAddressesAreAllowed) {
  const auto d = compile(defaults());
  const Detection r =
      scan(*d,
           "Co-authored-by: Codex <noreply@openai.com>\n"
           "GIT_AUTHOR_EMAIL=codex@openai.com GIT_COMMITTER_EMAIL=codex@openai.com");
  EXPECT_EQ(r.level, -1);
  EXPECT_EQ(allowed(*d, r), (Strings{"email x1 by defaults.noreply_openai (default)",
                                     "email x2 by defaults.codex_openai (default)"}));
}

TEST(DetectorAllowTest, DefaultsCompareAsTheDetectorReadsText) {
  const auto d = compile(defaults());
  // ASCII case ignored; a full-width at sign folded before matching, in the text as in the entry.
  for (std::string_view text : {"NoReply@Anthropic.COM", "noreply\uFF20anthropic.com",
                                "<noreply@anthropic.com>.", "\"noreply@anthropic.com\""}) {
    const Detection r = scan(*d, text);
    EXPECT_EQ(r.level, -1) << text;
    EXPECT_EQ(allowed(*d, r).size(), 1u) << text;
  }
  // Near misses are addresses like any other.
  for (std::string_view text :
       {"noreply@anthropic.co", "no-reply@anthropic.com", "noreply@anthropic.com.evil.io",
        "xnoreply@anthropic.com", "noreply@mail.anthropic.com", "noreply@openai.co.uk"}) {
    const Detection r = scan(*d, text);
    EXPECT_EQ(found(*d, r), Strings{"email x1"}) << text;
    EXPECT_TRUE(r.allowed.empty()) << text;
  }
}

TEST(DetectorAllowTest, ReservedExampleDomainsAreAllowed) {
  const auto d = compile(defaults());
  for (std::string_view text :
       {"alice@example.com", "bob@example.net", "carol@EXAMPLE.ORG", "dave@mail.example.com",
        "erin@a.b.example.org", "frank@corp.example", "grace@ci.test", "heidi@host.invalid",
        "ivan@app.localhost", "judy@example.com."}) {
    const Detection r = scan(*d, text);
    EXPECT_EQ(r.level, -1) << text;
    EXPECT_EQ(allowed(*d, r), Strings{"email x1 by defaults.reserved_domains (default)"}) << text;
  }
  for (std::string_view text :
       {"alice@example.co", "alice@myexample.com", "alice@example.com.evil.io",
        "alice@example-com.net", "alice@test.com", "alice@localhost.io", "alice@example.comx",
        "alice@examples.org"}) {
    EXPECT_EQ(found(*d, scan(*d, text)), Strings{"email x1"}) << text;
  }
}

TEST(DetectorAllowTest, EachAllowedValueCountsOnce) {
  const auto d = compile(defaults());
  const Detection r = scan(*d,
                           "noreply@anthropic.com, noreply@anthropic.com and a@example.com; "
                           "real: x@contoso.com y@contoso.com");
  EXPECT_EQ(found(*d, r), Strings{"email x2"});
  EXPECT_EQ(allowed(*d, r), (Strings{"email x2 by defaults.noreply_anthropic (default)",
                                     "email x1 by defaults.reserved_domains (default)"}));
}

TEST(DetectorAllowTest, DefaultsOffDetectEveryAddress) {
  auto s = defaults();
  s.allow_defaults = false;
  const auto d = compile(s);
  const Detection r = scan(*d, "Co-Authored-By: Claude <noreply@anthropic.com> a@example.com");
  EXPECT_EQ(r.level, kConfidential);
  EXPECT_EQ(found(*d, r), Strings{"email x2"});
  EXPECT_TRUE(r.allowed.empty());
  EXPECT_TRUE(d->allow_entries().empty());
}

TEST(DetectorAllowTest, DefaultsApplyToEmailUrlCredentialsAndCustomDetectorsOnly) {
  auto s = defaults();
  s.custom.push_back(config::CustomDetector{
      "url", R"(https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s]*)?)", {}, kInternal});
  const auto d = compile(s);
  EXPECT_EQ(scan(*d, "see https://api.example.com/v1/chat and http://ci.test:8080").level, -1);
  EXPECT_EQ(found(*d, scan(*d, "see https://api.contoso.com/v1/chat")), Strings{"url x1"});
  // Other built-in detectors have no defaults: the documentation prefix of IPv6 is still found.
  EXPECT_EQ(found(*d, scan(*d, "host 2001:db8::8a2e:370:7334")), Strings{"ip_address x1"});
}

TEST(DetectorAllowTest, CredentialsForAReservedHostCountForNothing) {
  auto s = defaults();
  const auto d = compile(s);
  const Detection r = scan(*d, "DATABASE_URL=postgres://app:Pr0dPassw0rd@db.example.com:5432/app");
  EXPECT_EQ(r.level, -1) << ::testing::PrintToString(found(*d, r));
  EXPECT_EQ(allowed(*d, r), Strings{"url_credentials x1 by defaults.reserved_domains (default)"});
  EXPECT_EQ(found(*d, scan(*d, "postgres://app:Pr0dPassw0rd@db.contoso.com:5432/app")),
            Strings{"url_credentials x1"});
  s.allow_defaults = false;
  const auto strict = compile(s);
  EXPECT_EQ(found(*strict, scan(*strict, "postgres://app:Pr0dPassw0rd@db.example.com/app")),
            Strings{"url_credentials x1"});
}

TEST(DetectorAllowTest, ReservedHostNeedsAnAddressUrlOrHostName) {
  EXPECT_TRUE(allow::reserved_host("a@example.com"));
  EXPECT_TRUE(allow::reserved_host("https://user@www.example.org:8443/x?y#z"));
  EXPECT_TRUE(allow::reserved_host("build.test"));
  EXPECT_TRUE(allow::reserved_host("Foo.Example"));
  EXPECT_FALSE(allow::reserved_host("test"));       // one label: a word, not a host
  EXPECT_FALSE(allow::reserved_host("localhost"));  // likewise
  EXPECT_FALSE(allow::reserved_host("see build.test"));
  EXPECT_FALSE(allow::reserved_host("a@b@example.com x"));
  EXPECT_FALSE(allow::reserved_host("example.com:http"));
  EXPECT_FALSE(allow::reserved_host(".example.com"));
  EXPECT_FALSE(allow::reserved_host("a..example.com"));
  EXPECT_FALSE(allow::reserved_host("example.com.au"));
  EXPECT_FALSE(allow::reserved_host(""));
}

// -------------------------------------------------------------------------------------------------
// Configured entries.

TEST(DetectorAllowTest, ConfiguredValueIsAllowedAndNamedByItsKeyPath) {
  auto s = defaults();
  entity(s, "email").allow = {value("Build-Bot@Contoso.com")};
  const auto d = compile(s);
  const Detection r = scan(*d, "from build-bot@contoso.com to ops@contoso.com");
  EXPECT_EQ(found(*d, r), Strings{"email x1"});
  EXPECT_EQ(allowed(*d, r), Strings{"email x1 by sensitivity.detectors.email.allow[0]"});
}

TEST(DetectorAllowTest, PatternMustMatchTheWholeValue) {
  auto s = defaults();
  entity(s, "email").allow = {value("nobody@contoso.com"),
                              pattern(R"([a-z0-9.-]+@ci\.contoso\.com)")};
  const auto d = compile(s);
  EXPECT_EQ(allowed(*d, scan(*d, "runner-7@CI.contoso.com")),
            Strings{"email x1 by sensitivity.detectors.email.allow[1]"});
  for (std::string_view text :
       {"runner@ci.contoso.com.evil.io", "runner@eu.ci.contoso.com", "runner+x@ci.contoso.com"}) {
    EXPECT_EQ(found(*d, scan(*d, text)), Strings{"email x1"}) << text;
  }
  // A pattern that matches only part of the value allows nothing.
  auto partial = defaults();
  entity(partial, "email").allow = {pattern(R"(ci\.contoso\.com)")};
  const auto p = compile(partial);
  EXPECT_EQ(found(*p, scan(*p, "runner@ci.contoso.com")), Strings{"email x1"});
}

TEST(DetectorAllowTest, NumbersCompareByTheirDigits) {
  auto s = defaults();
  entity(s, "credit_card").allow = {value("4111 1111 1111 1111")};
  entity(s, "phone").allow = {value("+1 (415) 555-2671")};
  entity(s, "iban").allow = {value("de89 3704 0044 0532 0130 00")};
  const auto d = compile(s);
  EXPECT_EQ(scan(*d, "test card 4111-1111-1111-1111, 4111111111111111").level, -1);
  EXPECT_EQ(scan(*d, "call +1 415 555 2671").level, -1);
  EXPECT_EQ(scan(*d, "IBAN DE89370400440532013000").level, -1);
  // The same numbers plus a real card still make the request restricted.
  const Detection r = scan(*d, "4111 1111 1111 1111 and 5555 5555 5555 4444");
  EXPECT_EQ(r.level, kRestricted);
  EXPECT_EQ(found(*d, r), Strings{"credit_card x1"});
  EXPECT_EQ(allowed(*d, r),
            Strings{"credit_card x1 by sensitivity.detectors.credit_card.allow[0]"});
}

TEST(DetectorAllowTest, KeysCompareByteForByte) {
  auto s = defaults();
  entity(s, "aws_access_key").allow = {value("AKIAIOSFODNN7EXAMPLE")};
  const auto d = compile(s);
  EXPECT_EQ(scan(*d, "aws_access_key_id = AKIAIOSFODNN7EXAMPLE").level, -1);
  auto lower = defaults();
  entity(lower, "aws_access_key").allow = {value("akiaiosfodnn7example"),
                                           pattern("akia[a-z0-9]{16}")};
  const auto l = compile(lower);
  EXPECT_EQ(found(*l, scan(*l, "AKIAIOSFODNN7EXAMPLE")), Strings{"aws_access_key x1"});
}

TEST(DetectorAllowTest, CustomDetectorAllowList) {
  auto s = defaults();
  s.custom.push_back(config::CustomDetector{"host",
                                            R"([a-z0-9-]+\.corp\.contoso\.com)",
                                            {},
                                            kConfidential,
                                            {value("WIKI.corp.contoso.com")}});
  s.custom.push_back(
      config::CustomDetector{"codename", {}, {"Falcon"}, kConfidential, {pattern("falcon")}});
  const auto d = compile(s);
  const Detection r = scan(*d, "see wiki.corp.contoso.com and db7.corp.contoso.com; FALCON");
  EXPECT_EQ(found(*d, r), Strings{"host x1"});
  EXPECT_EQ(allowed(*d, r),
            (Strings{"host x1 by sensitivity.detectors.custom[host].allow[0]",
                     "codename x1 by sensitivity.detectors.custom[codename].allow[0]"}));
}

TEST(DetectorAllowTest, AllowListOfADisabledDetectorIsIgnored) {
  auto s = defaults();
  entity(s, "phone").level = -1;
  entity(s, "phone").allow = {pattern("(unclosed")};  // never compiled: the detector is off
  const auto d = compile(s);
  EXPECT_EQ(scan(*d, "+1 415 555 2671").level, -1);
}

TEST(DetectorAllowTest, PatternsWorkOnEveryThread) {
  auto s = defaults();
  entity(s, "email").allow = {pattern(R"(.*@ci\.contoso\.com)")};
  const auto d = compile(s);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      const Detection r = scan(*d, "a@ci.contoso.com b@contoso.com");
      results[i] = found(*d, r).at(0) + "; " + allowed(*d, r).at(0);
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const std::string& r : results) {
    EXPECT_EQ(r, "email x1; email x1 by sensitivity.detectors.email.allow[0]");
  }
}

TEST(DetectorAllowTest, PatternThatDoesNotCompileNamesTheEntry) {
  auto s = defaults();
  entity(s, "email").allow = {value("a@contoso.com"), pattern("(unclosed")};
  std::string error;
  EXPECT_EQ(Detector::compile(s, error), nullptr);
  EXPECT_TRUE(error.starts_with("sensitivity.detectors.email.allow[1]: pattern does not compile: "))
      << error;
}

// -------------------------------------------------------------------------------------------------
// The config: syntax and errors at their position.

config::LoadResult load(std::string_view sensitivity) {
  const std::string yaml = std::string(R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
sensitivity:
)") + std::string(sensitivity);
  return config::load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
}

Strings errors(const config::LoadResult& r) {
  Strings out;
  for (const config::ConfigError& e : r.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

const config::EntityLevel& loaded(const config::LoadResult& r, std::string_view name) {
  for (const config::EntityLevel& e : r.config->sensitivity.entities) {
    if (e.entity == name) {
      return e;
    }
  }
  throw std::logic_error("no such entity");
}

TEST(DetectorAllowConfigTest, ReadsValuesAndPatterns) {
  const config::LoadResult r = load(R"(  detectors:
    email:
      level: internal
      allow:
        - build-bot@contoso.com
        - pattern: '[a-z0-9-]+@ci\.contoso\.com'
    phone: {allow: "+1 415 555 2671"}
    secret: confidential
    aws_access_key: {allow: [AKIAIOSFODNN7EXAMPLE]}
    custom:
      - {name: host, pattern: '[a-z]+\.corp', level: internal, allow: [wiki.corp]}
)");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors(r));
  const config::SensitivitySettings& s = r.config->sensitivity;
  EXPECT_TRUE(s.allow_defaults);
  EXPECT_EQ(loaded(r, "email").level, kInternal);
  EXPECT_EQ(loaded(r, "email").allow,
            (std::vector<config::AllowEntry>{value("build-bot@contoso.com"),
                                             pattern(R"([a-z0-9-]+@ci\.contoso\.com)")}));
  // Without `level`, a detector keeps its default level, or the `secret:` group's.
  EXPECT_EQ(loaded(r, "phone").level, kConfidential);
  EXPECT_EQ(loaded(r, "phone").allow, std::vector<config::AllowEntry>{value("+1 415 555 2671")});
  EXPECT_EQ(loaded(r, "aws_access_key").level, kConfidential);
  EXPECT_EQ(loaded(r, "github_token").level, kConfidential);
  EXPECT_TRUE(loaded(r, "github_token").allow.empty());
  ASSERT_EQ(s.custom.size(), 1u);
  EXPECT_EQ(s.custom[0].allow, std::vector<config::AllowEntry>{value("wiki.corp")});
}

TEST(DetectorAllowConfigTest, AllowDefaultsCanBeTurnedOff) {
  const config::LoadResult r = load("  allow_defaults: false\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(errors(r));
  EXPECT_FALSE(r.config->sensitivity.allow_defaults);
  EXPECT_EQ(errors(load("  allow_defaults: sometimes\n")),
            Strings{"t.yaml:4:19: sensitivity.allow_defaults: expected true or false"});
}

TEST(DetectorAllowConfigTest, BadPatternIsReportedAtThePattern) {
  EXPECT_EQ(errors(load(R"(  detectors:
    email:
      allow:
        - ok@contoso.com
        - pattern: '(unclosed'
)")),
            Strings{"t.yaml:8:20: sensitivity.detectors.email.allow[1].pattern: pattern does not "
                    "compile: Missing close parenthesis for group started at index 0."});
  EXPECT_EQ(
      errors(load(R"(  detectors:
    custom:
      - {name: host, pattern: 'h', level: internal, allow: [{pattern: 'a*'}]}
)")),
      Strings{
          "t.yaml:6:71: sensitivity.detectors.custom[0].allow[0].pattern: pattern does "
          "not compile: Pattern matches empty buffer; use HS_FLAG_ALLOWEMPTY to enable support."});
}

TEST(DetectorAllowConfigTest, AllowOnAnUnknownDetectorOrTheSecretGroupIsAnError) {
  const Strings unknown = errors(load("  detectors:\n    emial: {allow: [a@contoso.com]}\n"));
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_TRUE(
      unknown[0].starts_with("t.yaml:5:5: sensitivity.detectors: unknown key 'emial' "
                             "(expected one of: credit_card, "))
      << unknown[0];
  EXPECT_EQ(errors(load("  detectors:\n    secret: {allow: [AKIAIOSFODNN7EXAMPLE]}\n")),
            Strings{"t.yaml:5:13: sensitivity.detectors.secret: 'secret' takes a level name; set "
                    "allow: on each of its kinds"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {level: confidential, alow: [a@contoso.com]}\n")),
            Strings{"t.yaml:5:34: sensitivity.detectors.email: unknown key 'alow' (expected one "
                    "of: level, allow)"});
}

TEST(DetectorAllowConfigTest, WrongTypesAreReportedAtTheirPosition) {
  EXPECT_EQ(errors(load("  detectors:\n    email: {allow: {pattern: x}}\n")),
            Strings{"t.yaml:5:20: sensitivity.detectors.email.allow: expected a list of values and "
                    "{pattern: REGEX} entries"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {allow: [[a@contoso.com]]}\n")),
            Strings{"t.yaml:5:21: sensitivity.detectors.email.allow[0]: expected a value or "
                    "{pattern: REGEX}"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {allow: ['']}\n")),
            Strings{"t.yaml:5:21: sensitivity.detectors.email.allow[0]: must not be empty"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {allow: [{pattern: x, value: y}]}\n")),
            Strings{"t.yaml:5:34: sensitivity.detectors.email.allow[0]: unknown key 'value' "
                    "(expected one of: pattern)"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {allow: [\"a@contoso.com\\nb\"]}\n")),
            Strings{"t.yaml:5:21: sensitivity.detectors.email.allow[0]: an allowed value cannot "
                    "span lines (no detected value does)"});
  EXPECT_EQ(errors(load("  detectors:\n    email: {level: loud}\n")),
            Strings{"t.yaml:5:20: sensitivity.detectors.email.level: unknown level 'loud' "
                    "(levels: public, internal, confidential, restricted, or off)"});
}

TEST(DetectorAllowConfigTest, AllowOnAPatternWithoutAStartIsAnError) {
  // Hyperscan cannot tell where this pattern's matches start, so their values are unknown.
  const Strings e = errors(load(R"(  detectors:
    custom:
      - name: gap
        pattern: 'x[^y]{100,5000}z'
        level: internal
        allow: [x-z]
)"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(
      e[0].starts_with("t.yaml:9:16: sensitivity.detectors.custom[0].allow: allow cannot "
                       "apply: "))
      << e[0];
}

// -------------------------------------------------------------------------------------------------
// explain

TEST(DetectorAllowExplainTest, ShowsTheDetectorCountAndEntryNeverTheValue) {
  config::LoadResult loaded = config::load_string(
      R"(backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m, clearance: restricted}
models:
  default: {candidates: [local]}
sensitivity:
  detectors:
    email: {allow: [{pattern: '[a-z0-9-]+@ci\.contoso\.com'}]}
)",
      "t.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(errors(loaded));
  std::string error;
  const auto engine =
      Engine::build(std::make_shared<const config::Config>(std::move(*loaded.config)), error);
  ASSERT_NE(engine, nullptr) << error;
  testing::FakeState state;
  testing::Request request(0, "default");
  request.text("Co-Authored-By: Claude <noreply@anthropic.com>")
      .text("notify runner-3@ci.contoso.com and runner-4@ci.contoso.com");
  const Decision d = engine->decide(request.get(), state, true);
  ASSERT_EQ(d.outcome, Outcome::route);
  EXPECT_EQ(d.sensitivity, 0);
  const std::string text = engine->explain_json(d, request.get());
  EXPECT_EQ(text.find('@'), std::string::npos) << text;
  EXPECT_EQ(text.find("anthropic.com"), std::string::npos) << text;
  EXPECT_EQ(text.find("contoso"), std::string::npos) << text;
  EXPECT_EQ(text.find("runner"), std::string::npos) << text;

  const boost::json::value j = boost::json::parse(text);
  const auto& sensitivity = j.at("sensitivity");
  EXPECT_EQ(sensitivity.at("level"), "public");
  EXPECT_TRUE(sensitivity.at("entities").as_array().empty());
  EXPECT_EQ(sensitivity.at("allowed"), boost::json::parse(R"([
    {"type": "email", "count": 1, "entry": "defaults.noreply_anthropic", "default": true},
    {"type": "email", "count": 2, "entry": "sensitivity.detectors.email.allow[0]", "default": false}
  ])"));
}

TEST(DetectorAllowExplainTest, ClaudeCodeReachesAClosedBackendClearedForInternal) {
  // The shipped clearance of closed backends: a plain Claude Code request routes there, the same
  // request with a real address in it is refused.
  config::LoadResult loaded = config::load_string(
      R"(backends:
  closed: {provider: openai, base_url: "https://api.openai.com/v1", model: m, api_key: k,
           clearance: internal}
models:
  default: {candidates: [closed]}
)",
      "t.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(errors(loaded));
  std::string error;
  const auto engine =
      Engine::build(std::make_shared<const config::Config>(std::move(*loaded.config)), error);
  ASSERT_NE(engine, nullptr) << error;
  testing::FakeState state;
  testing::Request plain(0, "default");
  plain.text("Co-Authored-By: Claude Opus 5.5 <noreply@anthropic.com>").text("say hi");
  const Decision routed = engine->decide(plain.get(), state);
  EXPECT_EQ(routed.outcome, Outcome::route);
  EXPECT_EQ(routed.sensitivity, 0);
  testing::Request real(0, "default");
  real.text("Co-Authored-By: Claude Opus 5.5 <noreply@anthropic.com>")
      .text("mail jane.doe@contoso.com");
  const Decision refused = engine->decide(real.get(), state);
  EXPECT_EQ(refused.outcome, Outcome::forbidden);
  EXPECT_EQ(refused.sensitivity, kConfidential);
}

TEST(DetectorAllowExplainTest, AllowedIsEmptyWhenNothingWasAllowed) {
  config::LoadResult loaded = config::load_string(
      R"(backends:
  local: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m, clearance: restricted}
models:
  default: {candidates: [local]}
)",
      "t.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(loaded.ok()) << ::testing::PrintToString(errors(loaded));
  std::string error;
  const auto engine =
      Engine::build(std::make_shared<const config::Config>(std::move(*loaded.config)), error);
  ASSERT_NE(engine, nullptr) << error;
  testing::FakeState state;
  testing::Request request(0, "default");
  request.text("mail jane@contoso.com");
  const Decision d = engine->decide(request.get(), state, true);
  const boost::json::value j = boost::json::parse(engine->explain_json(d, request.get()));
  EXPECT_EQ(j.at("sensitivity").at("level"), "confidential");
  EXPECT_TRUE(j.at("sensitivity").at("allowed").as_array().empty());
}

}  // namespace
}  // namespace sb::policies
