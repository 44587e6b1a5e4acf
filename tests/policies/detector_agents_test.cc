// The default allow-list against what coding agents send on their own: a plain Claude Code or
// Codex session is classified by what the user typed, not by the agent's boilerplate.
//
// tests/fixtures/detector/agent_boilerplate.txt holds the lines of recorded requests that any
// detector could look at. To check whole recorded requests instead, point SB_AGENT_CAPTURES_DIR at
// a directory of them (any depth; each file a JSON object with `headers` and `body`, as a
// recording proxy writes them): every one must classify as public.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/chat_facts.h"
#include "policies/config.h"
#include "policies/detector.h"

namespace sb::policies {
namespace {

/// Lines of the fixture by agent.
std::map<std::string, std::vector<std::string>> boilerplate() {
  std::ifstream in(std::string(SB_SOURCE_DIR) + "/tests/fixtures/detector/agent_boilerplate.txt",
                   std::ios::binary);
  EXPECT_TRUE(in.good());
  std::map<std::string, std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.starts_with("#")) {
      continue;
    }
    const std::size_t tab = line.find('\t');
    EXPECT_NE(tab, std::string::npos) << line;
    if (tab != std::string::npos) {
      lines[line.substr(0, tab)].push_back(line.substr(tab + 1));
    }
  }
  return lines;
}

/// The sensitivity settings of a config that says nothing about sensitivity: the shipped defaults.
config::SensitivitySettings shipped(bool allow_defaults = true) {
  const config::LoadResult r = config::load_string(
      R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: m}
)",
      "t.yaml", [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(r.ok());
  config::SensitivitySettings s = r.config->sensitivity;
  s.allow_defaults = allow_defaults;
  return s;
}

std::unique_ptr<Detector> compile(const config::SensitivitySettings& s) {
  std::string error;
  auto d = Detector::compile(s, error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

std::string describe(const Detector& d, const Detection& r) {
  std::string out = "level " + std::to_string(r.level) + ";";
  for (const EntityCount& e : r.entities) {
    out += " " + d.entity_names()[e.entity] + " x" + std::to_string(e.count);
  }
  for (const AllowedCount& a : r.allowed) {
    out += " allowed " + d.entity_names()[a.entity] + " x" + std::to_string(a.count) + " by " +
           d.allow_entries()[a.entry].name;
  }
  return out;
}

Detection scan(const Detector& d, const std::vector<std::string>& lines,
               std::string_view extra = {}) {
  std::vector<std::string_view> texts(lines.begin(), lines.end());
  if (!extra.empty()) {
    texts.push_back(extra);
  }
  return d.scan(texts);
}

TEST(DetectorAgentsTest, PlainSessionsArePublic) {
  const auto d = compile(shipped());
  const auto lines = boilerplate();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(describe(*d, scan(*d, lines.at("claude"))),
            "level -1; allowed email x1 by defaults.noreply_anthropic");
  EXPECT_EQ(describe(*d, scan(*d, lines.at("codex"))), "level -1;");
}

TEST(DetectorAgentsTest, WithoutTheDefaultsEveryClaudeCodeRequestIsConfidential) {
  const auto d = compile(shipped(false));
  const auto lines = boilerplate();
  EXPECT_EQ(describe(*d, scan(*d, lines.at("claude"))), "level 2; email x1");
}

TEST(DetectorAgentsTest, WhatTheUserTypesStillCounts) {
  const auto d = compile(shipped());
  const auto lines = boilerplate();
  EXPECT_EQ(describe(*d, scan(*d, lines.at("claude"), "mail the summary to jane.doe@contoso.com")),
            "level 2; email x1 allowed email x1 by defaults.noreply_anthropic");
  EXPECT_EQ(describe(*d, scan(*d, lines.at("codex"), "charge card 4111 1111 1111 1111")),
            "level 3; credit_card x1");
  EXPECT_EQ(describe(*d, scan(*d, lines.at("codex"), "call me on +44 20 7946 0958")),
            "level 2; phone x1");
}

/// Every text the gateway scans in a recorded request: the whole body, and the headers that may
/// be forwarded (credentials and `host` never are).
std::vector<std::string> recorded_texts(const boost::json::object& request) {
  std::vector<std::string> texts;
  if (const auto* body = request.if_contains("body"); body != nullptr && body->is_object()) {
    adapters::ChatFacts facts;
    adapters::collect_body_facts(body->as_object(), facts);
    texts.assign(facts.texts.begin(), facts.texts.end());
  }
  if (const auto* headers = request.if_contains("headers");
      headers != nullptr && headers->is_object()) {
    for (const auto& h : headers->as_object()) {
      const std::string_view name(h.key().data(), h.key().size());
      if (name != "host" && name != "authorization" && name != "x-api-key" &&
          h.value().is_string()) {
        texts.push_back(std::string(name) + ": " + std::string(h.value().as_string()));
      }
    }
  }
  return texts;
}

TEST(DetectorAgentsTest, RecordedRequestsArePublic) {
  const char* dir = std::getenv("SB_AGENT_CAPTURES_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "set SB_AGENT_CAPTURES_DIR to a directory of recorded agent requests";
  }
  const auto d = compile(shipped());
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code ec;
    const boost::json::value request = boost::json::parse(text.str(), ec);
    if (ec || !request.is_object() || !request.as_object().contains("body")) {
      continue;
    }
    ++files;
    const Detection r = scan(*d, recorded_texts(request.as_object()));
    EXPECT_EQ(r.level, -1) << entry.path() << ": " << describe(*d, r);
  }
  EXPECT_GT(files, 0);
  std::printf("[ agents   ] %d recorded requests scanned\n", files);
}

}  // namespace
}  // namespace sb::policies
