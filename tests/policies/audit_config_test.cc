// The `audit:` section: the trail's directory and HMAC key file, rotation, batching. Defaults
// first, then one valid config broken one way per case, with the exact message at FILE:LINE:COL.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"

namespace sb::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> messages(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) {
    out.push_back(e.to_string());
  }
  return out;
}

class AuditConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sb-audit-config-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    write_key("audit.key", std::string(40, 'k') + "\n", 0600);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_key(const std::string& name, const std::string& bytes, mode_t mode) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    ::chmod(path.c_str(), mode);
  }

  // Line 1 is `backends:`, line 3 `audit:`, its keys from line 4 on.
  LoadResult load(std::string_view audit) {
    std::string yaml =
        "backends:\n"
        "  a: {provider: vllm, base_url: \"http://127.0.0.1:8000/v1\", model: m}\n";
    yaml += "audit:\n";
    yaml += audit;
    const std::string path = (dir_ / "c.yaml").string();
    std::ofstream(path, std::ios::binary) << yaml;
    return load_file(path, [](const std::string&) { return std::nullopt; });
  }
  std::string file() const { return (dir_ / "c.yaml").string(); }

  fs::path dir_;
};

TEST_F(AuditConfigTest, AbsentSectionMeansNoTrail) {
  const LoadResult r =
      load_string("backends:\n  a: {provider: vllm, base_url: \"http://h:1/v1\", model: m}\n",
                  "t.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  EXPECT_FALSE(r.config->audit.enabled());
  EXPECT_TRUE(r.config->audit.key.empty());
}

TEST_F(AuditConfigTest, ConfigKeepsTheTextItWasLoadedFrom) {
  const std::string yaml =
      "backends:\n  a: {provider: vllm, base_url: \"http://h:1/v1\", model: m}\n";
  const LoadResult r = load_string(yaml, "t.yaml", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->text, yaml);
}

TEST_F(AuditConfigTest, DefaultsAndRelativePathsResolvedAgainstTheConfig) {
  const LoadResult r = load("  path: trail\n  key_file: audit.key\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const AuditSettings& a = r.config->audit;
  EXPECT_TRUE(a.enabled());
  EXPECT_EQ(a.path, (dir_ / "trail").string());
  EXPECT_EQ(a.key_file, (dir_ / "audit.key").string());
  EXPECT_EQ(std::string_view(a.key), std::string(40, 'k'));  // one newline trimmed
  EXPECT_EQ(a.rotate_size, 64ull << 20);
  EXPECT_EQ(a.rotate_age, 24h);
  EXPECT_EQ(a.flush_interval, 50ms);
  EXPECT_EQ(a.queue, 65536u);
  EXPECT_TRUE(a.fsync);
}

TEST_F(AuditConfigTest, EveryKeyRead) {
  const LoadResult r = load(
      "  path: /var/lib/sb/audit\n  key_file: audit.key\n"
      "  rotate: {size: 8MiB, age: 1h}\n  flush_interval: 200ms\n  queue: 1024\n  fsync: false\n");
  ASSERT_TRUE(r.ok()) << ::testing::PrintToString(messages(r));
  const AuditSettings& a = r.config->audit;
  EXPECT_EQ(a.path, "/var/lib/sb/audit");
  EXPECT_EQ(a.rotate_size, 8ull << 20);
  EXPECT_EQ(a.rotate_age, 1h);
  EXPECT_EQ(a.flush_interval, 200ms);
  EXPECT_EQ(a.queue, 1024u);
  EXPECT_FALSE(a.fsync);
  const LoadResult bytes = load("  path: t\n  key_file: audit.key\n  rotate: {size: 100000}\n");
  ASSERT_TRUE(bytes.ok()) << ::testing::PrintToString(messages(bytes));
  EXPECT_EQ(bytes.config->audit.rotate_size, 100000u);
}

TEST_F(AuditConfigTest, PathAndKeyFileRequired) {
  EXPECT_EQ(messages(load("  key_file: audit.key\n")),
            std::vector<std::string>{file() + ":4:3: audit: missing required key 'path'"});
  EXPECT_EQ(messages(load("  path: t\n")),
            std::vector<std::string>{file() + ":4:3: audit: missing required key 'key_file'"});
}

TEST_F(AuditConfigTest, KeyShorterThan32BytesRefused) {
  write_key("short.key", std::string(31, 'k') + "\n", 0600);
  EXPECT_EQ(messages(load("  path: t\n  key_file: short.key\n")),
            std::vector<std::string>{file() +
                                     ":5:13: audit.key_file: key file must hold at least 32 bytes "
                                     "(found 31)"});
}

TEST_F(AuditConfigTest, KeyReadableByOthersRefused) {
  write_key("open.key", std::string(40, 'k'), 0644);
  const std::vector<std::string> m = messages(load("  path: t\n  key_file: open.key\n"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NE(m[0].find(":5:13: audit.key_file: file '"), std::string::npos) << m[0];
  EXPECT_NE(m[0].find("is readable by group or others (mode 0644)"), std::string::npos) << m[0];
}

TEST_F(AuditConfigTest, MissingOrEmptyKeyFileRefused) {
  std::vector<std::string> m = messages(load("  path: t\n  key_file: nope.key\n"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NE(m[0].find(":5:13: audit.key_file: cannot read file '"), std::string::npos) << m[0];
  write_key("empty.key", "\n", 0600);
  EXPECT_EQ(messages(load("  path: t\n  key_file: empty.key\n")),
            std::vector<std::string>{file() + ":5:13: audit.key_file: key file is empty"});
}

TEST_F(AuditConfigTest, BadValuesRefusedAtTheirPosition) {
  EXPECT_EQ(messages(load("  path: t\n  key_file: audit.key\n  rotate: {size: 100}\n")),
            std::vector<std::string>{file() + ":6:18: audit.rotate.size: must be at least 4KiB"});
  EXPECT_EQ(
      messages(load("  path: t\n  key_file: audit.key\n  flush_interval: 1m\n")),
      std::vector<std::string>{file() + ":6:19: audit.flush_interval: must be at most 10s (a crash "
                                        "loses up to one interval of lines)"});
  EXPECT_EQ(messages(load("  path: t\n  key_file: audit.key\n  queue: 3\n")),
            std::vector<std::string>{file() +
                                     ":6:10: audit.queue: expected an integer from 16 to 4194304"});
  EXPECT_EQ(messages(load("  path: \"\"\n  key_file: audit.key\n")).size(), 1u);
  const std::vector<std::string> unknown =
      messages(load("  path: t\n  key_file: audit.key\n  rotation: {size: 1MiB}\n"));
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_NE(unknown[0].find(":6:3: audit: unknown key 'rotation'"), std::string::npos)
      << unknown[0];
}

}  // namespace
}  // namespace sb::config
