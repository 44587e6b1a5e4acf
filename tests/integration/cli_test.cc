// The switchboard command line as a user runs it: check every shipped config, report errors with
// their position, explain a decision, hash a key.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

// `env` is a list of NAME=value words set for the command (empty: the test's environment).
CliRun run(const std::string& args, const std::string& env = {}) {
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") +
                          std::string(SB_SWITCHBOARD_BIN) + " " + args + " 2>&1";
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

// A problem found while the gateway builds its runtime (here a CA file that holds no certificate,
// which only OpenSSL refuses) is placed at the key it names, like the loader's own errors.
TEST(CliTest, CheckPlacesRuntimeErrorsAtTheirKey) {
  const std::string ca = temp_file("not-a-ca.pem", "this is not a certificate\n");
  const std::string path =
      temp_file("bad-ca.yaml",
                "backends:\n  a:\n    provider: vllm\n    base_url: \"https://127.0.0.1:1/v1\"\n"
                "    model: m\n    tls:\n      ca_file: \"" +
                    ca + "\"\n");
  const CliRun r = run("check --config " + path);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(path + ":7:7: backends.a.tls: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(":0:0:"), std::string::npos) << r.out;
}

// `check` says where the data plane will listen and why: the default config serves no keys, so
// only this machine may connect until tenants with api_keys exist or server.listen is set.
TEST(CliTest, CheckSaysWhereTheDataPlaneListensAndWhy) {
  const std::string config = std::string(SB_SOURCE_DIR) + "/config/switchboard.yaml";
  const CliRun local = run("check --config " + config);
  EXPECT_EQ(local.code, 0) << local.out;
  EXPECT_NE(local.out.find(config +
                           ": data plane listens on 127.0.0.1:8080: server.listen is not set and "
                           "no tenant has api_keys: only this machine can connect"),
            std::string::npos)
      << local.out;
  EXPECT_NE(local.out.find(config + ": admin plane listens on 127.0.0.1:9090: no admin token"),
            std::string::npos)
      << local.out;

  const CliRun env_open = run("check --config " + config, "SWITCHBOARD_LISTEN=0.0.0.0:8080");
  EXPECT_NE(env_open.out.find(config +
                              ": data plane listens on 0.0.0.0:8080: set by server.listen; no API "
                              "key is required, so anyone who can reach this address is served"),
            std::string::npos)
      << env_open.out;

  const std::string keyed = temp_file(
      "keyed.yaml",
      "backends:\n  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n"
      "tenants:\n  t: {api_keys: "
      "[\"sha256:7d8828bb3da29dd8df70ebec6b32c0e913a52ca07e4b30b87ce53228c35ae725\"]}\n");
  const CliRun k = run("check --config " + keyed);
  EXPECT_EQ(k.code, 0) << k.out;
  EXPECT_NE(k.out.find(": data plane listens on 0.0.0.0:8080: server.listen is not set and every "
                       "request needs an API key"),
            std::string::npos)
      << k.out;
}

// The README's try-it path points the closed backend at an http:// stand-in: `check` refuses it
// unless OPENAI_ALLOW_INSECURE=true says it is a stand-in.
TEST(CliTest, DefaultConfigTakesAnHttpStandInOnlyWhenAllowed) {
  const std::string config = std::string(SB_SOURCE_DIR) + "/config/switchboard.yaml";
  const CliRun refused =
      run("check --config " + config, "OPENAI_BASE_URL=http://127.0.0.1:8001/v1");
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("backends.openai.base_url: plain http:// to closed provider openai"),
            std::string::npos)
      << refused.out;
  const CliRun allowed = run("check --config " + config,
                             "OPENAI_BASE_URL=http://127.0.0.1:8001/v1 OPENAI_ALLOW_INSECURE=true");
  EXPECT_EQ(allowed.code, 0) << allowed.out;
  EXPECT_NE(allowed.out.find(": OK"), std::string::npos) << allowed.out;
}

TEST(CliTest, CheckRefusesAnAdminPlaneBeyondLoopbackWithoutAToken) {
  const std::string path = temp_file(
      "open-admin.yaml",
      "admin: {listen: \"0.0.0.0:9090\"}\n"
      "backends:\n  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n");
  const CliRun r = run("check --config " + path);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(path + ":1:17: admin.listen: '0.0.0.0:9090' is not a loopback address: "
                              "set admin.token or admin.token_file"),
            std::string::npos)
      << r.out;
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
  EXPECT_EQ(r.out.find("4111 1111"), std::string::npos) << r.out;

  const CliRun raised = run("explain --config " + config + " --request " + req +
                            " --header 'x-data-classification: restricted'");
  EXPECT_EQ(raised.code, 0) << raised.out;
}

// A spill rule's engines are scraped by a running gateway only: explain (and check) build the
// same runtime and must not connect to them. A listening socket nobody accepts on would still
// complete a connection, which poll() then reports.
TEST(CliTest, ExplainDoesNotScrapeTheEngines) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  const std::string config = temp_file("spill.yaml", R"(
backends:
  gpus:
    provider: vllm
    endpoints: [")" + url + R"("]
    model: m
    load: {interval: 10ms}
  closed:
    provider: openai
    base_url: "https://api.openai.com/v1"
    model: gpt-4o-mini
policies:
  - name: fill
    route: {to: [gpus, closed], strategy: spill}
)");
  const std::string req =
      temp_file("hello.json", R"({"model":"gpus","messages":[{"role":"user","content":"hello"}]})");
  const CliRun r = run("explain --config " + config + " --request " + req);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"source\":\"stale\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("load scrape"), std::string::npos) << r.out;
  const CliRun c = run("check --config " + config);
  EXPECT_EQ(c.code, 0) << c.out;
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 200), 0) << "explain or check connected to the engine";
  ::close(fd);
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
  const std::string plain =
      temp_file("plain.json", R"({"model":"default","messages":[{"role":"user","content":"hi"}]})");
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
      // Offline, the pool's signals are stale: the card stays on the GPUs, never the closed model.
      {"capacity.yaml", &card, nullptr, "\"rule\":\"fill-gpus-first\"", "openai-mini"},
      {"capacity.yaml", &plain, nullptr, "\"source\":\"stale\"", nullptr},
  };
  for (const Case& c : cases) {
    const CliRun r = run("explain --config " + dir + c.config + " --request " + *c.request +
                         (c.key != nullptr ? std::string(" --api-key ") + c.key : ""));
    EXPECT_EQ(r.code, 0) << c.config << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.config << "\n" << r.out;
    if (c.absent != nullptr) {
      const auto backends = r.out.find("\"backends\":[");
      const auto end = r.out.find(']', backends);
      ASSERT_NE(backends, std::string::npos) << r.out;
      EXPECT_EQ(r.out.substr(backends, end - backends).find(c.absent), std::string::npos)
          << c.config << ": " << r.out;
    }
    EXPECT_EQ(r.out.find("4111 1111"), std::string::npos);
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
