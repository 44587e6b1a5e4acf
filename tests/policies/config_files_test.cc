#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policies/config.h"

#ifndef SB_SOURCE_DIR
#error "SB_SOURCE_DIR must name the source tree"
#endif

namespace sb::config {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> empty_env(const std::string&) {
  return std::nullopt;
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry :
       fs::recursive_directory_iterator(fs::path(SB_SOURCE_DIR) / "config")) {
    if (entry.is_regular_file() &&
        (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ConfigFilesTest, EveryShippedConfigLoadsWithAnEmptyEnvironment) {
  std::vector<fs::path> files = shipped_configs();
  ASSERT_FALSE(files.empty());
  for (const fs::path& file : files) {
    LoadResult result = load_file(file.string(), empty_env);
    EXPECT_TRUE(result.ok()) << file << "\n" << ::testing::PrintToString(messages(result));
  }
}

// The README's try-it path: the closed backend pointed at a local http:// stand-in needs
// OPENAI_ALLOW_INSECURE=true, and SWITCHBOARD_LISTEN opens the data plane (the container image
// sets it).
TEST(ConfigFilesTest, DefaultConfigTakesAnHttpStandInOnlyWhenAllowed) {
  const std::string path = (fs::path(SB_SOURCE_DIR) / "config" / "switchboard.yaml").string();
  const auto env = [](std::map<std::string, std::string> vars) {
    return [vars](const std::string& name) -> std::optional<std::string> {
      const auto it = vars.find(name);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  LoadResult refused = load_file(path, env({{"OPENAI_BASE_URL", "http://127.0.0.1:8001/v1"}}));
  ASSERT_EQ(refused.errors.size(), 1u);
  EXPECT_NE(refused.errors[0].message.find("plain http:// to closed provider openai"),
            std::string::npos)
      << refused.errors[0].to_string();
  LoadResult allowed = load_file(path, env({{"OPENAI_BASE_URL", "http://127.0.0.1:8001/v1"},
                                            {"OPENAI_ALLOW_INSECURE", "true"},
                                            {"SWITCHBOARD_LISTEN", "0.0.0.0:8080"},
                                            {"SWITCHBOARD_ADMIN_TOKEN", "0123456789abcdef"}}));
  ASSERT_TRUE(allowed.ok()) << ::testing::PrintToString(messages(allowed));
  EXPECT_EQ(allowed.config->find_backend("openai")->base_url, "http://127.0.0.1:8001/v1");
  EXPECT_EQ(allowed.config->server.listen, "0.0.0.0:8080");
  EXPECT_EQ(allowed.config->admin.token, "0123456789abcdef");
}

TEST(ConfigFilesTest, DefaultConfigIsTheDocumentedOne) {
  LoadResult result =
      load_file((fs::path(SB_SOURCE_DIR) / "config" / "switchboard.yaml").string(), empty_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;
  // No tenant has api_keys, so the open gateway is served to this machine only, and the admin
  // plane needs no token on loopback.
  EXPECT_EQ(c.server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.admin.listen, "127.0.0.1:9090");
  EXPECT_EQ(c.admin.token, "");
  EXPECT_EQ(c.state.store, config::StateSettings::Store::memory);
  EXPECT_FALSE(c.server.tls.has_value());

  const Backend* local = c.find_backend("local-llama");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->provider, Provider::vllm);
  EXPECT_EQ(local->hosting, Hosting::self_hosted);
  EXPECT_EQ(local->base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(local->model, "meta-llama/Llama-3.1-8B-Instruct");
  EXPECT_EQ(local->tier, "standard");
  EXPECT_EQ(local->clearance, "restricted");
  EXPECT_EQ(local->max_in_flight, 64u);
  EXPECT_DOUBLE_EQ(local->price.gpu_hour_usd, 2.10);
  EXPECT_DOUBLE_EQ(local->price.tokens_per_second, 1800);

  const Backend* openai = c.find_backend("openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->provider, Provider::openai);
  EXPECT_EQ(openai->hosting, Hosting::closed);
  EXPECT_EQ(openai->base_url, "https://api.openai.com/v1");
  EXPECT_EQ(openai->api_key, "");
  EXPECT_EQ(openai->model, "gpt-4o");
  EXPECT_EQ(openai->tier, "frontier");
  EXPECT_EQ(openai->clearance, "internal");
  EXPECT_DOUBLE_EQ(openai->price.input_per_mtok, 2.50);
  EXPECT_DOUBLE_EQ(openai->price.output_per_mtok, 10.00);
  EXPECT_DOUBLE_EQ(openai->price.cached_input_per_mtok, 1.25);

  ASSERT_NE(c.find_model("default"), nullptr);
  EXPECT_EQ(c.find_model("default")->candidates,
            (std::vector<std::string>{"local-llama", "openai"}));
  ASSERT_NE(c.find_model("llama"), nullptr);
  EXPECT_EQ(c.find_model("llama")->candidates, (std::vector<std::string>{"local-llama"}));
  ASSERT_NE(c.find_model("gpt-4o"), nullptr);
  EXPECT_EQ(c.find_model("gpt-4o")->candidates, (std::vector<std::string>{"openai"}));
  EXPECT_EQ(c.find_model("gpt-4o")->tier, "frontier");
}

TEST(ConfigFilesTest, DefaultConfigTakesUrlsAndKeysFromTheEnvironment) {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SWITCHBOARD_LOCAL_URL") {
      return "http://gpu-1:8000/v1";
    }
    if (name == "OPENAI_API_KEY") {
      return "sk-from-env";
    }
    return std::nullopt;
  };
  LoadResult result =
      load_file((fs::path(SB_SOURCE_DIR) / "config" / "switchboard.yaml").string(), env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->find_backend("local-llama")->base_url, "http://gpu-1:8000/v1");
  EXPECT_EQ(result.config->find_backend("openai")->api_key, "sk-from-env");
}

class LoadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sb-config-files-test-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "tls");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

  fs::path dir_;
};

TEST_F(LoadFileTest, MissingFileIsOneError) {
  std::string path = (dir_ / "absent.yaml").string();
  EXPECT_EQ(messages(load_file(path, empty_env)),
            std::vector<std::string>{path + ":0:0: cannot read file: No such file or directory"});
}

TEST_F(LoadFileTest, DirectoryIsOneError) {
  std::string path = dir_.string();
  EXPECT_EQ(messages(load_file(path, empty_env)),
            std::vector<std::string>{path + ":0:0: cannot read file: Is a directory"});
}

TEST_F(LoadFileTest, ErrorsNameTheFile) {
  std::string path = (dir_ / "bad.yaml").string();
  write(path, "backends:\n  a: {provider: vllm, base_url: \"http://h\", model: m, tier: xl}\n");
  EXPECT_EQ(
      messages(load_file(path, empty_env)),
      std::vector<std::string>{path + ":2:61: backends.a.tier: unknown tier 'xl' (expected one of: "
                                      "small, standard, frontier)"});
}

TEST_F(LoadFileTest, RelativeFilePathsAreTakenFromTheConfigDirectory) {
  write(dir_ / "tls" / "server.crt", "cert");
  write(dir_ / "tls" / "server.key", "key");
  write(dir_ / "tls" / "ca.pem", "ca");
  std::string path = (dir_ / "switchboard.yaml").string();
  write(path,
        "server:\n"
        "  tls: {cert: tls/server.crt, key: tls/server.key}\n"
        "backends:\n"
        "  a:\n"
        "    provider: vllm\n"
        "    base_url: \"https://h\"\n"
        "    model: m\n"
        "    tls: {ca_file: tls/ca.pem}\n");
  LoadResult result = load_file(path, empty_env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->source, path);
  ASSERT_TRUE(result.config->server.tls.has_value());
  EXPECT_EQ(result.config->server.tls->cert_file, (dir_ / "tls" / "server.crt").string());
  EXPECT_EQ(result.config->server.tls->key_file, (dir_ / "tls" / "server.key").string());
  EXPECT_EQ(result.config->backends[0].ca_file, (dir_ / "tls" / "ca.pem").string());
}

}  // namespace
}  // namespace sb::config
