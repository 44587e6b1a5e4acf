// The switchboard command line as a user runs it: check every shipped config, report errors with
// their position, explain a decision, hash a key.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sb::testing {
namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(SB_SWITCHBOARD_BIN) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    r.out.append(buf, n);
  }
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Files written by a test, removed when the test program exits.
struct TempFiles {
  std::vector<std::filesystem::path> paths;
  ~TempFiles() {
    for (const auto& p : paths) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  }
};

std::string temp_file(const std::string& name, const std::string& content) {
  static TempFiles files;
  const auto path = std::filesystem::temp_directory_path() /
                    ("switchboard-cli-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << content;
  files.paths.push_back(path);
  return path.string();
}

TEST(CliTest, EveryShippedConfigPassesCheck) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(SB_SOURCE_DIR) + "/config")) {
    if (entry.path().extension() != ".yaml") {
      continue;
    }
    const CliRun r = run("check --config '" + entry.path().string() + "'");
    EXPECT_EQ(r.code, 0) << entry.path() << "\n" << r.out;
    EXPECT_NE(r.out.find(": OK"), std::string::npos) << r.out;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

TEST(CliTest, CheckPrintsEveryErrorWithItsPosition) {
  const std::string path = temp_file("broken.yaml",
                                     "server:\n  thread: 2\nbackends:\n  a:\n    provider: vllm\n"
                                     "    base_url: \"ftp://x\"\n    model: m\n");
  const CliRun r = run("check --config " + path);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(path + ":2:3: server: unknown key 'thread'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(path + ":6:15: backends.a.base_url:"), std::string::npos) << r.out;
}

TEST(CliTest, ExplainPrintsTheDecisionAndSendsNothing) {
  const std::string config = std::string(SB_SOURCE_DIR) + "/config/switchboard.yaml";
  const std::string req = temp_file(
      "req.json",
      R"({"model":"default","messages":[{"role":"user","content":"my card is 4111 1111 1111 1111"}]})");
  const CliRun r = run("explain --config " + config + " --request " + req);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("credit_card"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"rule\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("4111"), std::string::npos) << r.out;

  const CliRun raised = run("explain --config " + config + " --request " + req +
                            " --header 'x-data-classification: restricted'");
  EXPECT_EQ(raised.code, 0) << raised.out;
}

// The shipped examples decide as their comments promise.
TEST(CliTest, ExplainOnTheExampleConfigs) {
  const std::string dir = std::string(SB_SOURCE_DIR) + "/config/examples/";
  const std::string card = temp_file(
      "card.json",
      R"({"model":"default","messages":[{"role":"user","content":"card 4111 1111 1111 1111"}]})");
  const std::string news = temp_file(
      "news.json",
      R"({"model":"frontier","messages":[{"role":"user","content":"summarize the news"}]})");
  const std::string research = temp_file(
      "research.json", R"({"model":"research","messages":[{"role":"user","content":"hi"}]})");
  struct Case {
    const char* config;
    const std::string* request;
    const char* key;
    const char* expect;  // substring of the explanation
    const char* absent;  // must not appear in "backends"
  };
  const Case cases[] = {
      {"regulated.yaml", &card, "sk-demo-payments", "\"rule\":\"sensitive-stays-home\"",
       "anthropic"},
      {"regulated.yaml", &news, "sk-demo-analytics", "\"outcome\":\"route\"", nullptr},
      {"cost-control.yaml", &card, "sk-demo-search", "\"outcome\":\"route\"", "openai"},
      {"air-gapped.yaml", &research, "sk-demo-payments", "\"outcome\":\"forbidden\"", nullptr},
      {"air-gapped.yaml", &research, "sk-demo-research", "\"outcome\":\"route\"", nullptr},
  };
  for (const Case& c : cases) {
    const CliRun r = run("explain --config " + dir + c.config + " --request " + *c.request +
                         " --api-key " + c.key);
    EXPECT_EQ(r.code, 0) << c.config << " " << c.key << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.config << " " << c.key << "\n" << r.out;
    if (c.absent != nullptr) {
      const auto backends = r.out.find("\"backends\":[");
      const auto end = r.out.find(']', backends);
      ASSERT_NE(backends, std::string::npos) << r.out;
      EXPECT_EQ(r.out.substr(backends, end - backends).find(c.absent), std::string::npos)
          << c.config << ": " << r.out;
    }
    EXPECT_EQ(r.out.find("4111"), std::string::npos);
  }
  const CliRun wrong = run("explain --config " + dir + "regulated.yaml --request " + card +
                           " --api-key sk-not-a-key");
  EXPECT_EQ(wrong.code, 1);
  EXPECT_NE(wrong.out.find("invalid_api_key"), std::string::npos) << wrong.out;
}

TEST(CliTest, HashKeyPrintsTheConfigForm) {
  const CliRun r = run("hash-key sk-test-payments");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "sha256:6e7619f899e820b5223eb451459f973b0bbdd8239bc2e2a85acb2bbc1ac5482c\n");
}

TEST(CliTest, UnknownCommandIsAUsageError) {
  const CliRun r = run("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown command"), std::string::npos);
}

}  // namespace
}  // namespace sb::testing
