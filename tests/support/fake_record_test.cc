// The fake upstream's record file (FakeUpstreamOptions::record_file, fake_upstream --record):
// one JSON line per request, written and flushed before the answer goes out.

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/fake_upstream.h"
#include "tests/support/http_test_client.h"

namespace sb::testing {
namespace {

using namespace client;
namespace fs = std::filesystem;

/// A file name of its own in the temporary directory, removed at the end of the test.
class ScratchFile {
 public:
  explicit ScratchFile(std::string_view tag)
      : path_(fs::temp_directory_path() /
              ("fake-record-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".jsonl")) {
    fs::remove(path_);
  }
  ~ScratchFile() {
    std::error_code ignored;
    fs::remove(path_, ignored);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  std::string path() const { return path_.string(); }
  std::vector<std::string> lines() const {
    std::ifstream in(path_, std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      out.push_back(line);
    }
    return out;
  }

 private:
  fs::path path_;
};

FakeUpstreamOptions recording(const ScratchFile& file) {
  FakeUpstreamOptions options;
  options.record_file = file.path();
  options.record_requests = false;  // the file is kept whatever the in-memory log does
  return options;
}

TEST(FakeRecordTest, AppendsOneJsonLinePerRequestBeforeAnswering) {
  ScratchFile file("lines");
  FakeUpstream fake(recording(file));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  // Quotes, a newline, a backslash and UTF-8 in the body; a header sent twice; mixed case.
  const std::string body = "{\"model\":\"c\",\"note\":\"say \\\"hi\\\"\\n\\\\ caf\xc3\xa9\"}\n";
  Reply first = client.request(
      post("/v1/messages?beta=true", body,
           {{"X-Api-Key", "sk-ant"}, {"anthropic-beta", "a-2025"}, {"Anthropic-Beta", "b-2026"}}));
  ASSERT_FALSE(first.ec);
  // Flushed before the answer: readable as soon as the reply is.
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 1u);
  json::value line = json::parse(lines[0]);
  EXPECT_EQ(line.at("method"), "POST");
  EXPECT_EQ(line.at("target"), "/v1/messages?beta=true");
  EXPECT_EQ(line.at("body").as_string(), body);
  const auto& headers = line.at("headers").as_object();
  EXPECT_EQ(headers.at("x-api-key"), "sk-ant");
  EXPECT_EQ(headers.at("anthropic-beta"), "a-2025, b-2026");
  EXPECT_EQ(headers.at("content-type"), "application/json");
  std::vector<std::string> names;
  for (const auto& h : headers) {
    names.emplace_back(h.key());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"host", "content-type", "x-api-key", "anthropic-beta",
                                             "content-length"}));
  EXPECT_TRUE(lines[0].starts_with(R"({"method":"POST","target":)"));

  Reply second = client.request(get("/v1/models"));
  ASSERT_FALSE(second.ec);
  lines = file.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[1]).at("method"), "GET");
  EXPECT_EQ(json::parse(lines[1]).at("body"), "");
  EXPECT_TRUE(fake.requests().empty());
  EXPECT_EQ(fake.request_count(), 2u);
}

TEST(FakeRecordTest, AppendsToWhatTheFileHolds) {
  ScratchFile file("append");
  { std::ofstream(file.path()) << "{\"earlier\":true}\n"; }
  FakeUpstream fake(recording(file));
  Client client;
  ASSERT_FALSE(client.connect(fake.port()));
  ASSERT_FALSE(client.request(get("/health")).ec);
  std::vector<std::string> lines = file.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
  EXPECT_EQ(json::parse(lines[1]).at("target"), "/health");
}

TEST(FakeRecordTest, UnwritableFileFailsConstruction) {
  FakeUpstreamOptions options;
  options.record_file = (fs::temp_directory_path() / "no-such-dir-for-fake" / "r.jsonl").string();
  EXPECT_THROW(FakeUpstream fake(options), std::runtime_error);
}

}  // namespace
}  // namespace sb::testing
