// Provider-specific backend settings: `api_version` (Azure OpenAI, Anthropic), `aws` (Bedrock)
// and `api_key_file`. One valid config, broken one way per case, with the exact message.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

namespace fs = std::filesystem;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

// Line 1 is `backends:`.
constexpr std::string_view kValid = R"(backends:
  azure:
    provider: azure-openai
    base_url: "https://res.openai.azure.com/openai"
    model: gpt-4o
    api_key: "${AZURE_KEY}"
    api_version: "2024-10-21"
  bedrock:
    provider: bedrock
    base_url: "https://bedrock-runtime.us-east-1.amazonaws.com"
    model: "anthropic.claude-3-5-sonnet-20240620-v1:0"
    aws:
      region: us-east-1
      access_key_id: "${AWS_ACCESS_KEY_ID}"
      secret_access_key: "${AWS_SECRET_ACCESS_KEY}"
      session_token: "${AWS_SESSION_TOKEN:-}"
  claude:
    provider: anthropic
    base_url: "https://api.anthropic.com/v1"
    model: claude-3-5-sonnet-latest
    api_version: "2023-06-01"
  local:
    provider: vllm
    base_url: "http://127.0.0.1:8000/v1"
    model: m
)";

constexpr std::string_view kAwsBlock = R"(    aws:
      region: us-east-1
      access_key_id: "${AWS_ACCESS_KEY_ID}"
      secret_access_key: "${AWS_SECRET_ACCESS_KEY}"
      session_token: "${AWS_SESSION_TOKEN:-}"
)";

std::map<std::string, std::string> full_env() {
  return {{"AZURE_KEY", "az-key"},
          {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
          {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
          {"AWS_SESSION_TOKEN", "session-token"}};
}

/// kValid with `from` replaced by `to`; `from` must occur exactly once.
std::string with(std::string_view from, std::string_view to) {
  std::string text(kValid);
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

LoadResult load(std::string_view yaml, std::map<std::string, std::string> env = full_env()) {
  return load_string(yaml, "p.yaml", env_of(std::move(env)));
}

std::vector<std::string> errors_of(std::string_view yaml,
                                   std::map<std::string, std::string> env = full_env()) {
  return messages(load(yaml, std::move(env)));
}

using Errors = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Valid configs.

TEST(ProviderConfigTest, AzureAndBedrockSettingsAreParsedFieldByField) {
  LoadResult result = load(kValid);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Config& c = *result.config;

  const Backend* azure = c.find_backend("azure");
  ASSERT_NE(azure, nullptr);
  EXPECT_EQ(azure->provider, Provider::azure_openai);
  EXPECT_EQ(azure->hosting, Hosting::closed);
  EXPECT_EQ(azure->base_url, "https://res.openai.azure.com/openai");
  EXPECT_EQ(azure->model, "gpt-4o");
  EXPECT_EQ(azure->api_key, "az-key");
  EXPECT_EQ(azure->api_key_file, "");
  EXPECT_EQ(azure->api_version, "2024-10-21");
  EXPECT_EQ(azure->aws_region, "");
  EXPECT_EQ(azure->aws_access_key_id, "");
  EXPECT_EQ(azure->aws_secret_access_key, "");
  EXPECT_EQ(azure->aws_session_token, "");

  const Backend* bedrock = c.find_backend("bedrock");
  ASSERT_NE(bedrock, nullptr);
  EXPECT_EQ(bedrock->provider, Provider::bedrock);
  EXPECT_EQ(bedrock->hosting, Hosting::closed);
  EXPECT_EQ(bedrock->model, "anthropic.claude-3-5-sonnet-20240620-v1:0");
  EXPECT_EQ(bedrock->api_key, "");
  EXPECT_EQ(bedrock->api_version, "");
  EXPECT_EQ(bedrock->aws_region, "us-east-1");
  EXPECT_EQ(bedrock->aws_access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(bedrock->aws_secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(bedrock->aws_session_token, "session-token");

  const Backend* claude = c.find_backend("claude");
  ASSERT_NE(claude, nullptr);
  EXPECT_EQ(claude->api_version, "2023-06-01");

  const Backend* local = c.find_backend("local");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->api_version, "");
  EXPECT_EQ(local->aws_region, "");
}

TEST(ProviderConfigTest, UnsetSessionTokenDefaultsToNone) {
  std::map<std::string, std::string> env = full_env();
  env.erase("AWS_SESSION_TOKEN");
  LoadResult result = load(kValid, env);
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->find_backend("bedrock")->aws_session_token, "");
}

TEST(ProviderConfigTest, SessionTokenMayBeLeftOut) {
  LoadResult result = load(with("      session_token: \"${AWS_SESSION_TOKEN:-}\"\n", ""));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->find_backend("bedrock")->aws_session_token, "");
}

TEST(ProviderConfigTest, AnthropicApiVersionIsOptional) {
  LoadResult result = load(with("    api_version: \"2023-06-01\"\n", ""));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->find_backend("claude")->api_version, "");
}

TEST(ProviderConfigTest, PreviewApiVersionsAreAccepted) {
  LoadResult result = load(with("\"2024-10-21\"", "\"2025-01-01-preview\""));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->find_backend("azure")->api_version, "2025-01-01-preview");
}

// ---------------------------------------------------------------------------------------------
// api_version.

TEST(ProviderConfigTest, AzureWithoutApiVersionIsAnError) {
  EXPECT_EQ(errors_of(with("    api_version: \"2024-10-21\"\n", "")),
            Errors{"p.yaml:3:5: backends.azure.api_version: required for provider azure-openai"});
}

TEST(ProviderConfigTest, ApiVersionOnAnotherProviderIsAnError) {
  EXPECT_EQ(
      errors_of(with("    model: m\n", "    model: m\n    api_version: v1\n")),
      Errors{"p.yaml:26:18: backends.local.api_version: only for azure-openai and anthropic"});
}

TEST(ProviderConfigTest, EmptyApiVersionIsAnError) {
  EXPECT_EQ(errors_of(with("\"2024-10-21\"", "\"${AZURE_API_VERSION:-}\"")),
            Errors{"p.yaml:7:18: backends.azure.api_version: must not be empty"});
}

TEST(ProviderConfigTest, ApiVersionWithCharactersToEscapeIsAnError) {
  EXPECT_EQ(errors_of(with("\"2024-10-21\"", "\"2024-10-21&x=1\"")),
            Errors{"p.yaml:7:18: backends.azure.api_version: expected a version like 2024-10-21 "
                   "(letters, digits, '.', '-' and '_')"});
}

TEST(ProviderConfigTest, UnknownProviderReportsOnlyTheProvider) {
  EXPECT_EQ(errors_of(with("provider: azure-openai", "provider: azure")),
            Errors{"p.yaml:3:15: backends.azure.provider: unknown provider 'azure' (expected one "
                   "of: vllm, llamacpp, ollama, tgi, sglang, openai-compatible, openai, anthropic, "
                   "gemini, azure-openai, bedrock)"});
}

// ---------------------------------------------------------------------------------------------
// aws.

TEST(ProviderConfigTest, BedrockWithoutAwsIsAnError) {
  EXPECT_EQ(errors_of(with(kAwsBlock, "")),
            Errors{"p.yaml:9:5: backends.bedrock.aws: required for provider bedrock"});
}

TEST(ProviderConfigTest, AwsOnAnotherProviderIsAnError) {
  EXPECT_EQ(errors_of(with("    model: m\n", "    model: m\n    aws: {region: us-east-1}\n")),
            Errors{"p.yaml:26:10: backends.local.aws: only for provider bedrock"});
}

TEST(ProviderConfigTest, AwsRegionIsRequired) {
  EXPECT_EQ(errors_of(with("      region: us-east-1\n", "")),
            Errors{"p.yaml:13:7: backends.bedrock.aws: missing required key 'region'"});
}

TEST(ProviderConfigTest, AwsAccessKeyIdIsRequired) {
  EXPECT_EQ(errors_of(with("      access_key_id: \"${AWS_ACCESS_KEY_ID}\"\n", "")),
            Errors{"p.yaml:13:7: backends.bedrock.aws: missing required key 'access_key_id'"});
}

TEST(ProviderConfigTest, AwsSecretAccessKeyIsRequired) {
  EXPECT_EQ(errors_of(with("      secret_access_key: \"${AWS_SECRET_ACCESS_KEY}\"\n", "")),
            Errors{"p.yaml:13:7: backends.bedrock.aws: missing required key 'secret_access_key'"});
}

TEST(ProviderConfigTest, EmptyAwsCredentialsAreErrors) {
  std::map<std::string, std::string> env = full_env();
  env["AWS_ACCESS_KEY_ID"] = "";
  env["AWS_SECRET_ACCESS_KEY"] = "";
  EXPECT_EQ(errors_of(kValid, env),
            (Errors{"p.yaml:14:22: backends.bedrock.aws.access_key_id: must not be empty",
                    "p.yaml:15:26: backends.bedrock.aws.secret_access_key: must not be empty"}));
}

TEST(ProviderConfigTest, UnsetAwsCredentialIsAnError) {
  std::map<std::string, std::string> env = full_env();
  env.erase("AWS_ACCESS_KEY_ID");
  EXPECT_EQ(errors_of(kValid, env),
            Errors{"p.yaml:14:22: backends.bedrock.aws.access_key_id: environment variable "
                   "'AWS_ACCESS_KEY_ID' is not set"});
}

TEST(ProviderConfigTest, EmptyAwsRegionIsAnError) {
  EXPECT_EQ(errors_of(with("region: us-east-1", "region: \"\"")),
            Errors{"p.yaml:13:15: backends.bedrock.aws.region: must not be empty"});
}

TEST(ProviderConfigTest, MalformedAwsRegionIsAnError) {
  EXPECT_EQ(errors_of(with("region: us-east-1", "region: US East 1")),
            Errors{"p.yaml:13:15: backends.bedrock.aws.region: expected an AWS region like "
                   "us-east-1 (a-z, 0-9 and '-')"});
}

TEST(ProviderConfigTest, AwsCredentialsWithControlCharactersAreErrors) {
  std::map<std::string, std::string> env = full_env();
  env["AWS_SESSION_TOKEN"] = "token\r\nX-Injected: 1";
  EXPECT_EQ(errors_of(kValid, env),
            Errors{"p.yaml:16:22: backends.bedrock.aws.session_token: must not contain control "
                   "characters"});
}

TEST(ProviderConfigTest, UnknownAwsKeyIsAnError) {
  EXPECT_EQ(errors_of(with("      region: us-east-1\n",
                           "      region: us-east-1\n      profile: default\n")),
            Errors{"p.yaml:14:7: backends.bedrock.aws: unknown key 'profile' (expected one "
                   "of: region, access_key_id, secret_access_key, session_token)"});
}

TEST(ProviderConfigTest, AwsMustBeAMapping) {
  EXPECT_EQ(errors_of(with(kAwsBlock, "    aws: us-east-1\n")),
            Errors{"p.yaml:12:10: backends.bedrock.aws: expected a mapping"});
}

// ---------------------------------------------------------------------------------------------
// api_key_file.

class ApiKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sb-provider-config-test-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "keys");
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Writes a secret file readable by its owner only (the mode loading requires).
  static void write(const fs::path& path, const std::string& text,
                    fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, mode);
  }

  /// Writes a config whose one backend is `extra` lines into an openai backend, and loads it.
  /// Line 5 is the first of `extra`, indented by four spaces.
  LoadResult load_with(const std::string& extra, std::map<std::string, std::string> env = {}) {
    std::string path = config_path();
    write(path,
          "backends:\n"
          "  gpt:\n"
          "    provider: openai\n"
          "    base_url: \"https://api.openai.com/v1\"\n" +
              extra + "    model: gpt-4o\n");
    return load_file(path, env_of(std::move(env)));
  }

  std::string config_path() const { return (dir_ / "switchboard.yaml").string(); }

  fs::path dir_;
};

TEST_F(ApiKeyFileTest, KeyIsReadRelativeToTheConfigDirectory) {
  write(dir_ / "keys" / "openai.key", "sk-from-file\n");
  LoadResult result = load_with("    api_key_file: keys/openai.key\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const Backend& b = result.config->backends.at(0);
  EXPECT_EQ(b.api_key, "sk-from-file");
  EXPECT_EQ(b.api_key_file, (dir_ / "keys" / "openai.key").string());
}

TEST_F(ApiKeyFileTest, AbsolutePathsAreKept) {
  std::string key = (dir_ / "keys" / "openai.key").string();
  write(key, "sk-absolute");
  LoadResult result = load_with("    api_key_file: \"${KEY_FILE}\"\n", {{"KEY_FILE", key}});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends.at(0).api_key, "sk-absolute");
  EXPECT_EQ(result.config->backends.at(0).api_key_file, key);
}

TEST_F(ApiKeyFileTest, OneTrailingCrlfIsTrimmed) {
  write(dir_ / "keys" / "openai.key", "sk-windows\r\n");
  LoadResult result = load_with("    api_key_file: keys/openai.key\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends.at(0).api_key, "sk-windows");
}

TEST_F(ApiKeyFileTest, KeyWithoutTrailingNewlineIsKeptWhole) {
  write(dir_ / "keys" / "openai.key", "sk-exact ");
  LoadResult result = load_with("    api_key_file: keys/openai.key\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends.at(0).api_key, "sk-exact ");
}

TEST_F(ApiKeyFileTest, EmptyInlineKeyBesideAKeyFileIsAllowed) {
  write(dir_ / "keys" / "openai.key", "sk-from-file\n");
  LoadResult result =
      load_with("    api_key: \"${OPENAI_API_KEY:-}\"\n    api_key_file: keys/openai.key\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->backends.at(0).api_key, "sk-from-file");
}

TEST_F(ApiKeyFileTest, MissingFileIsAnError) {
  EXPECT_EQ(messages(load_with("    api_key_file: keys/absent.key\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: cannot read file '" +
                   (dir_ / "keys" / "absent.key").string() + "': No such file or directory"});
}

TEST_F(ApiKeyFileTest, DirectoryIsAnError) {
  EXPECT_EQ(messages(load_with("    api_key_file: keys\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: cannot read file '" +
                   (dir_ / "keys").string() + "': Is a directory"});
}

TEST_F(ApiKeyFileTest, EmptyFileIsAnError) {
  write(dir_ / "keys" / "openai.key", "\n");
  EXPECT_EQ(messages(load_with("    api_key_file: keys/openai.key\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: key file is empty"});
}

TEST_F(ApiKeyFileTest, KeyOverSeveralLinesIsAnError) {
  write(dir_ / "keys" / "openai.key", "sk-one\nsk-two\n");
  EXPECT_EQ(messages(load_with("    api_key_file: keys/openai.key\n")),
            Errors{config_path() +
                   ":5:19: backends.gpt.api_key_file: key file must hold the key on one line "
                   "(control characters found)"});
}

TEST_F(ApiKeyFileTest, OversizedFileIsAnError) {
  write(dir_ / "keys" / "openai.key", std::string(64 * 1024 + 1, 'k'));
  EXPECT_EQ(messages(load_with("    api_key_file: keys/openai.key\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: file '" +
                   (dir_ / "keys" / "openai.key").string() + "' is larger than 65536 bytes"});
}

TEST_F(ApiKeyFileTest, InlineKeyAndKeyFileAreExclusive) {
  write(dir_ / "keys" / "openai.key", "sk-from-file\n");
  EXPECT_EQ(messages(load_with("    api_key: sk-inline\n    api_key_file: keys/openai.key\n")),
            Errors{config_path() +
                   ":6:19: backends.gpt.api_key_file: only one of api_key and api_key_file may "
                   "be set"});
}

TEST_F(ApiKeyFileTest, EmptyPathIsAnError) {
  EXPECT_EQ(messages(load_with("    api_key_file: \"\"\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: must not be empty"});
}

TEST_F(ApiKeyFileTest, OwnerOnlyModesAreAccepted) {
  for (fs::perms mode : {fs::perms::owner_read, fs::perms::owner_read | fs::perms::owner_write}) {
    write(dir_ / "keys" / "openai.key", "sk-private\n", mode);
    LoadResult result = load_with("    api_key_file: keys/openai.key\n");
    ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
    EXPECT_EQ(result.config->backends.at(0).api_key, "sk-private");
  }
}

TEST_F(ApiKeyFileTest, FileReadableByOthersIsRefused) {
  write(dir_ / "keys" / "openai.key", "sk-shared\n",
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
            fs::perms::others_read);
  EXPECT_EQ(messages(load_with("    api_key_file: keys/openai.key\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: file '" +
                   (dir_ / "keys" / "openai.key").string() +
                   "' is readable by group or others (mode 0644): make it readable by its owner "
                   "only (chmod 600)"});
}

TEST_F(ApiKeyFileTest, FileReadableByItsGroupIsRefused) {
  write(dir_ / "keys" / "openai.key", "sk-group\n", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_EQ(messages(load_with("    api_key_file: keys/openai.key\n")),
            Errors{config_path() + ":5:19: backends.gpt.api_key_file: file '" +
                   (dir_ / "keys" / "openai.key").string() +
                   "' is readable by group or others (mode 0440): make it readable by its owner "
                   "only (chmod 600)"});
}

// ---------------------------------------------------------------------------------------------
// admin.token_file: read like api_key_file, with the same rule on its mode.

class AdminTokenFileTest : public ApiKeyFileTest {
 protected:
  LoadResult load_admin(const std::string& admin) {
    std::string path = config_path();
    std::ofstream(path, std::ios::binary) << "admin:\n" + admin +
                                                 "backends:\n"
                                                 "  local: {provider: vllm, base_url: "
                                                 "\"http://127.0.0.1:8000/v1\", model: m}\n";
    return load_file(path, env_of({}));
  }
};

TEST_F(AdminTokenFileTest, TokenIsReadFromAnOwnerOnlyFile) {
  write(dir_ / "admin.token", "0123456789abcdef-admin\n");
  LoadResult result = load_admin("  listen: \"0.0.0.0:9090\"\n  token_file: admin.token\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->admin.token, "0123456789abcdef-admin");
  EXPECT_EQ(result.config->admin.token_file, (dir_ / "admin.token").string());
}

TEST_F(AdminTokenFileTest, FileReadableByOthersIsRefused) {
  write(dir_ / "admin.token", "0123456789abcdef-admin\n",
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  EXPECT_EQ(
      messages(load_admin("  listen: \"0.0.0.0:9090\"\n  token_file: admin.token\n")),
      Errors{config_path() + ":3:15: admin.token_file: file '" + (dir_ / "admin.token").string() +
             "' is readable by group or others (mode 0604): make it readable by its owner "
             "only (chmod 600)"});
}

TEST_F(AdminTokenFileTest, ShortTokenInAFileIsRefused) {
  write(dir_ / "admin.token", "short\n");
  EXPECT_EQ(messages(load_admin("  token_file: admin.token\n")),
            Errors{config_path() + ":2:15: admin.token_file: must be at least 16 characters"});
}

TEST_F(AdminTokenFileTest, EmptyFileIsRefused) {
  write(dir_ / "admin.token", "\n");
  EXPECT_EQ(messages(load_admin("  token_file: admin.token\n")),
            Errors{config_path() + ":2:15: admin.token_file: token file is empty"});
}

TEST_F(AdminTokenFileTest, TokenAndTokenFileAreExclusive) {
  write(dir_ / "admin.token", "0123456789abcdef-admin\n");
  EXPECT_EQ(messages(load_admin("  token: 0123456789abcdef-inline\n  token_file: admin.token\n")),
            Errors{config_path() +
                   ":3:15: admin.token_file: only one of token and token_file may be set"});
}

}  // namespace
}  // namespace sb::config
