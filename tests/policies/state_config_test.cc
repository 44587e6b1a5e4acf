// The `state:` section: the Redis URL grammar, credentials (inline, from a file, from the URL),
// TLS, key prefix, timeouts, leases and the on_unavailable mode. One valid config, broken one way
// per case, with the exact message.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"
#include "policies/redis_url.h"

namespace sb::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Errors = std::vector<std::string>;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

Errors messages(const LoadResult& result) {
  Errors out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

class StateConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sb-state-config-test-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "secrets");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const fs::path& path, const std::string& text,
                    fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, mode);
  }

  /// Loads a config whose `state:` section (line 1) has `body` (lines from 2, indented by two
  /// spaces) and one backend after it.
  LoadResult load_state(const std::string& body, std::map<std::string, std::string> env = {}) {
    write(config_path(), "state:\n" + body +
                             "backends:\n"
                             "  local: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", "
                             "model: m}\n");
    return load_file(config_path(), env_of(std::move(env)));
  }

  /// The errors of a `state:` whose only key besides `store: redis` is `url: URL` (line 3,
  /// column 8).
  Errors url_errors(const std::string& url) {
    return messages(load_state("  store: redis\n  url: \"" + url + "\"\n"));
  }

  std::string config_path() const { return (dir_ / "switchboard.yaml").string(); }
  std::string at(int line, int column) const {
    return config_path() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  }

  fs::path dir_;
};

TEST_F(StateConfigTest, DefaultsWithoutTheSection) {
  write(config_path(),
        "backends:\n  local: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n");
  LoadResult result = load_file(config_path(), env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const StateSettings& s = result.config->state;
  EXPECT_EQ(s.store, StateSettings::Store::memory);
  EXPECT_EQ(s.prefix, "switchboard");
  EXPECT_EQ(s.connect_timeout, 1s);
  EXPECT_EQ(s.command_timeout, 250ms);
  EXPECT_EQ(s.reconnect_min, 100ms);
  EXPECT_EQ(s.reconnect_max, 5s);
  EXPECT_EQ(s.on_unavailable, StateUnavailable::self_hosted_only);
  EXPECT_EQ(s.lease_ttl, 10s);
  EXPECT_EQ(s.lease_horizon, 2s);
  EXPECT_EQ(s.sync_interval, 200ms);
  EXPECT_TRUE(result.config->notices.empty());
}

TEST_F(StateConfigTest, LoadsEveryKey) {
  write(dir_ / "ca.pem", "not parsed at load\n", fs::perms::owner_read | fs::perms::others_read);
  LoadResult result = load_state(
      "  store: redis\n"
      "  url: \"rediss://user:p%40ss@redis.internal:6380/2\"\n"
      "  username: switchboard\n"
      "  password: \"${REDIS_PASSWORD}\"\n"
      "  database: 3\n"
      "  tls: {ca_file: ca.pem, server_name: redis.example.com}\n"
      "  prefix: sb.prod:eu-1\n"
      "  connect_timeout: 2s\n"
      "  command_timeout: 50ms\n"
      "  reconnect: {min: 10ms, max: 1s}\n"
      "  on_unavailable: reject\n"
      "  lease: {ttl: 30s, horizon: 5s}\n"
      "  sync_interval: 1s\n",
      {{"REDIS_PASSWORD", "from-the-environment"}});
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const StateSettings& s = result.config->state;
  EXPECT_EQ(s.store, StateSettings::Store::redis);
  EXPECT_EQ(s.url, "rediss://user:***@redis.internal:6380/2");  // the password never kept here
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.host, "redis.internal");
  EXPECT_EQ(s.port, 6380);
  EXPECT_EQ(s.database, 3u);                      // database: overrides /2
  EXPECT_EQ(s.username, "switchboard");           // username: overrides user
  EXPECT_EQ(s.password, "from-the-environment");  // password: overrides the URL's
  EXPECT_EQ(s.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(s.server_name, "redis.example.com");
  EXPECT_EQ(s.prefix, "sb.prod:eu-1");
  EXPECT_EQ(s.connect_timeout, 2s);
  EXPECT_EQ(s.command_timeout, 50ms);
  EXPECT_EQ(s.reconnect_min, 10ms);
  EXPECT_EQ(s.reconnect_max, 1s);
  EXPECT_EQ(s.on_unavailable, StateUnavailable::reject);
  EXPECT_EQ(s.lease_ttl, 30s);
  EXPECT_EQ(s.lease_horizon, 5s);
  EXPECT_EQ(s.sync_interval, 1s);
  EXPECT_TRUE(result.config->notices.empty());
}

TEST_F(StateConfigTest, UrlPartsAreUsedWhenNoKeyOverridesThem) {
  LoadResult result =
      load_state("  store: redis\n  url: \"redis://app%3Aone:s%2Fcr%3At@[::1]:7000/15\"\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const StateSettings& s = result.config->state;
  EXPECT_FALSE(s.tls);
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 7000);
  EXPECT_EQ(s.database, 15u);
  EXPECT_EQ(s.username, "app:one");
  EXPECT_EQ(s.password, "s/cr:t");
  EXPECT_EQ(s.url, "redis://app%3Aone:***@[::1]:7000/15");
}

TEST_F(StateConfigTest, PasswordOnlyUrlAndDefaultPort) {
  LoadResult result = load_state("  store: redis\n  url: \"REDIS://:secret@cache/\"\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  const StateSettings& s = result.config->state;
  EXPECT_EQ(s.host, "cache");
  EXPECT_EQ(s.port, 6379);
  EXPECT_EQ(s.database, 0u);
  EXPECT_EQ(s.username, "");
  EXPECT_EQ(s.password, "secret");
}

TEST_F(StateConfigTest, EmptyPasswordFromAnUnsetVariableMeansNone) {
  LoadResult result =
      load_state("  store: redis\n  url: \"redis://127.0.0.1\"\n  password: \"${PW:-}\"\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_TRUE(result.config->state.password.empty());
}

TEST_F(StateConfigTest, PasswordIsReadFromAPrivateFile) {
  write(dir_ / "secrets" / "redis", "file-secret\n");
  LoadResult result =
      load_state("  store: redis\n  url: \"redis://127.0.0.1\"\n  password_file: secrets/redis\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->state.password, "file-secret");
  EXPECT_EQ(result.config->state.password_file, (dir_ / "secrets" / "redis").string());
}

TEST_F(StateConfigTest, WorldReadablePasswordFileIsRefused) {
  write(dir_ / "secrets" / "redis", "shared\n",
        fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  EXPECT_EQ(
      messages(load_state(
          "  store: redis\n  url: \"redis://127.0.0.1\"\n  password_file: secrets/redis\n")),
      Errors{at(4, 18) + "state.password_file: file '" + (dir_ / "secrets" / "redis").string() +
             "' is readable by group or others (mode 0604): make it readable by its owner "
             "only (chmod 600)"});
}

TEST_F(StateConfigTest, EmptyPasswordFileIsRefused) {
  write(dir_ / "secrets" / "redis", "\n");
  EXPECT_EQ(messages(load_state(
                "  store: redis\n  url: \"redis://127.0.0.1\"\n  password_file: secrets/redis\n")),
            Errors{at(4, 18) + "state.password_file: password file is empty"});
}

TEST_F(StateConfigTest, PasswordAndPasswordFileTogetherAreRefused) {
  write(dir_ / "secrets" / "redis", "x\n");
  EXPECT_EQ(messages(load_state("  store: redis\n  url: \"redis://127.0.0.1\"\n  password: a\n"
                                "  password_file: secrets/redis\n")),
            Errors{at(5, 18) + "state.password_file: only one of password and password_file may "
                               "be set"});
}

TEST_F(StateConfigTest, UserWithoutPasswordIsRefused) {
  EXPECT_EQ(messages(load_state(
                "  store: redis\n  url: \"redis://127.0.0.1\"\n  username: switchboard\n")),
            Errors{at(4, 13) + "state.username: a user name needs a password (AUTH takes both): "
                               "set password or password_file"});
}

TEST_F(StateConfigTest, BadUrls) {
  struct Case {
    std::string url;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"http://cache:6379", "expected a redis:// or rediss:// URL, got 'http://cache:6379'"},
      {"redis://", "URL has no host"},
      {"redis://:6379/0", "URL has no host"},
      {"redis://u:pw@/1", "URL has no host"},
      {"redis://cache:0", "invalid port '0' in URL (expected 1-65535)"},
      {"redis://cache:65536", "invalid port '65536' in URL (expected 1-65535)"},
      {"redis://cache:63a9", "invalid port '63a9' in URL (expected 1-65535)"},
      {"redis://cache:", "invalid port '' in URL (expected 1-65535)"},
      {"redis://cache/1024", "invalid database '1024' in URL (expected /0 to /1023)"},
      {"redis://cache/db1", "invalid database 'db1' in URL (expected /0 to /1023)"},
      {"redis://cache/1/2", "invalid database '1/2' in URL (expected /0 to /1023)"},
      {"redis://cache/+1", "invalid database '+1' in URL (expected /0 to /1023)"},
      {"redis://u:p%zz@cache",
       "URL password has an invalid percent-encoding (expected %XX with hex digits)"},
      {"redis://u:p%4@cache",
       "URL password has an invalid percent-encoding (expected %XX with hex digits)"},
      {"redis://u%@cache",
       "URL user name has an invalid percent-encoding (expected %XX with hex digits)"},
      {"redis://cache?db=1", "URL must not contain a query or fragment"},
      {"redis://cache/1#x", "URL must not contain a query or fragment"},
      {"redis://ca che", "URL must not contain spaces or control characters"},
      {"redis://::1:6379",
       "URL host has several ':' (write an IPv6 address in brackets: "
       "[::1]:6379)"},
      {"redis://[::1", "URL has an unterminated IPv6 address (missing ']')"},
      {"redis://[::g]:1", "invalid IPv6 address '::g' in URL"},
      {"redis://[::1]x", "URL has unexpected characters after the IPv6 address"},
      {"redis://ca$he", "invalid host 'ca$he' in URL"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(url_errors(c.url), Errors{at(3, 8) + "state.url: " + c.message}) << c.url;
  }
}

TEST_F(StateConfigTest, MessagesNeverShowTheUrlPassword) {
  Errors errors = url_errors("http://user:hunter22@cache:6379");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], at(3, 8) +
                           "state.url: expected a redis:// or rediss:// URL, got "
                           "'http://user:***@cache:6379'");
  EXPECT_EQ(redact_redis_url("redis://:pw@h/1"), "redis://:***@h/1");
  EXPECT_EQ(redact_redis_url("redis://user@h"), "redis://user@h");
  EXPECT_EQ(redact_redis_url("redis://h:1/0"), "redis://h:1/0");
}

TEST_F(StateConfigTest, TlsNeedsARedissUrl) {
  EXPECT_EQ(messages(load_state("  store: redis\n  url: \"redis://cache\"\n"
                                "  tls: {server_name: cache}\n")),
            Errors{at(4, 8) + "state.tls: tls needs a rediss:// url (the url is redis://, "
                              "without TLS)"});
}

TEST_F(StateConfigTest, TlsCaFileMustBeReadable) {
  EXPECT_EQ(messages(load_state("  store: redis\n  url: \"rediss://cache\"\n"
                                "  tls: {ca_file: missing.pem}\n")),
            Errors{at(4, 18) + "state.tls.ca_file: cannot read file '" +
                   (dir_ / "missing.pem").string() + "': No such file or directory"});
}

TEST_F(StateConfigTest, TlsServerNameAndUnknownKey) {
  EXPECT_EQ(messages(load_state("  store: redis\n  url: \"rediss://cache\"\n"
                                "  tls: {server_name: \"a b\", verify: false}\n")),
            (Errors{at(4, 22) + "state.tls.server_name: invalid server name 'a b'",
                    at(4, 29) + "state.tls: unknown key 'verify' (expected one of: ca_file, "
                                "server_name)"}));
}

TEST_F(StateConfigTest, BadScalarsAndDurations) {
  struct Case {
    std::string line;  // one line after store and url, at line 4
    std::string message;
  };
  const std::vector<Case> cases = {
      {"  database: 1024", at(4, 13) + "state.database: expected a database index from 0 to 1023"},
      {"  database: -1", at(4, 13) + "state.database: expected a database index from 0 to 1023"},
      {"  prefix: \"a{b}\"",
       at(4, 11) + "state.prefix: invalid prefix 'a{b}' (1 to 64 of letters, digits, '_', '.', "
                   "':' and '-')"},
      {"  prefix: \"\"",
       at(4, 11) + "state.prefix: invalid prefix '' (1 to 64 of letters, digits, '_', '.', "
                   "':' and '-')"},
      {"  prefix: " + std::string(65, 'p'),
       at(4, 11) + "state.prefix: invalid prefix '" + std::string(65, 'p') +
           "' (1 to 64 of letters, digits, '_', '.', ':' and '-')"},
      {"  connect_timeout: 0s", at(4, 20) + "state.connect_timeout: must be greater than zero"},
      {"  command_timeout: soon",
       at(4, 20) + "state.command_timeout: invalid duration 'soon' (expected e.g. 500ms, 2s, "
                   "1.5s, 5m, 1h)"},
      {"  reconnect: {min: 2s, max: 1s}",
       at(4, 29) + "state.reconnect.max: reconnect.max (1000ms) must not be less than "
                   "reconnect.min (2000ms)"},
      {"  reconnect: {min: 0ms}", at(4, 20) + "state.reconnect.min: must be greater than zero"},
      {"  on_unavailable: fail-open",
       at(4, 19) + "state.on_unavailable: unknown mode 'fail-open' (expected one of: "
                   "self-hosted-only, local, reject)"},
      {"  lease: {ttl: 500ms}", at(4, 16) + "state.lease.ttl: must be at least 1s"},
      {"  lease: {ttl: 2s, horizon: 2s}",
       at(4, 29) + "state.lease.horizon: lease.horizon (2000ms) must be less than lease.ttl "
                   "(2000ms)"},
      {"  lease: {ttl: 1s}",
       at(4, 16) + "state.lease.ttl: lease.horizon (2000ms) must be less than lease.ttl "
                   "(1000ms)"},
      {"  sync_interval: 5s",
       at(4, 18) + "state.sync_interval: must be less than half of lease.ttl (10000ms)"},
      {"  username: \"a b\"",
       at(4, 13) + "state.username: must be at most 256 visible ASCII characters (no spaces or "
                   "control characters)"},
      {"  password: \"a\\nb\"", at(4, 13) + "state.password: must not contain control characters"},
      {"  timeout: 1s", at(4, 3) +
                            "state: unknown key 'timeout' (expected one of: store, url, username, "
                            "password, password_file, database, tls, prefix, connect_timeout, "
                            "command_timeout, reconnect, on_unavailable, lease, sync_interval)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(
        messages(load_state("  store: redis\n  url: \"redis://127.0.0.1\"\n" + c.line + "\n")),
        Errors{c.message})
        << c.line;
  }
}

TEST_F(StateConfigTest, RedisKeysWithTheMemoryStoreAreANotice) {
  LoadResult result = load_state("  store: memory\n  url: \"redis://127.0.0.1\"\n  prefix: x\n");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(messages(result));
  EXPECT_EQ(result.config->notices,
            Errors{"state: url, prefix unused: they apply to store 'redis' only (store is "
                   "'memory')"});
}

}  // namespace
}  // namespace sb::config
