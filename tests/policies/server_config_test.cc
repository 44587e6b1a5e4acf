// The server section's resource limits: max_connections and max_buffered_body_bytes.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policies/config.h"

namespace sb::config {
namespace {

LoadResult load_server(const std::string& server) {
  return load_string("server:\n" + server + R"(backends:
  a: {provider: vllm, base_url: "http://127.0.0.1:11434/v1", model: m}
)",
                     "server.yaml",
                     [](const std::string&) { return std::optional<std::string>(); });
}

std::string first_error(const LoadResult& r) {
  return r.errors.empty() ? std::string() : r.errors.front().to_string();
}

TEST(ServerConfigTest, LimitsDefaultToDerivedConnectionsAnd256MiBOfBodies) {
  const LoadResult r = load_server("  threads: 1\n");
  ASSERT_TRUE(r.ok()) << first_error(r);
  EXPECT_EQ(r.config->server.max_connections, 0u);  // derived from RLIMIT_NOFILE at start
  EXPECT_EQ(r.config->server.max_buffered_body_bytes, 256ull << 20);
}

TEST(ServerConfigTest, BufferedBodyDefaultNeverFallsBelowOneBody) {
  const LoadResult r = load_server("  max_body_bytes: 512MiB\n");
  ASSERT_TRUE(r.ok()) << first_error(r);
  EXPECT_EQ(r.config->server.max_buffered_body_bytes, 512ull << 20);
}

TEST(ServerConfigTest, LimitsAreRead) {
  const LoadResult r = load_server("  max_connections: 5000\n  max_buffered_body_bytes: 1GiB\n");
  ASSERT_TRUE(r.ok()) << first_error(r);
  EXPECT_EQ(r.config->server.max_connections, 5000u);
  EXPECT_EQ(r.config->server.max_buffered_body_bytes, 1ull << 30);
}

TEST(ServerConfigTest, BufferedBodyBelowMaxBodyIsAnError) {
  const LoadResult r = load_server("  max_body_bytes: 8MiB\n  max_buffered_body_bytes: 4MiB\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(
      first_error(r).find("max_buffered_body_bytes: must be at least max_body_bytes (8388608)"),
      std::string::npos)
      << first_error(r);
}

TEST(ServerConfigTest, MaxConnectionsMustBeAnInteger) {
  const LoadResult r = load_server("  max_connections: lots\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(first_error(r).find("expected 0 (auto) or a positive integer"), std::string::npos)
      << first_error(r);
}

}  // namespace
}  // namespace sb::config
