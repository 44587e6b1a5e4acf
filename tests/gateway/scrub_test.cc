#include "gateway/pipeline/scrub.h"

#include <gtest/gtest.h>

namespace sb::gateway {
namespace {

TEST(ScrubTest, RemovesTheBackendKeyAndHost) {
  const std::string body =
      R"({"error":{"message":"key sk-backend-0123456789abcdef rejected by llm.internal.corp:8443"}})";
  const std::string s =
      scrub_upstream_text(body, "sk-backend-0123456789abcdef", "llm.internal.corp");
  EXPECT_EQ(s, R"({"error":{"message":"key [redacted] rejected by [upstream]:8443"}})");
}

TEST(ScrubTest, RemovesKeyShapedTokensAndBearerCredentials) {
  const std::string s = scrub_upstream_text(
      "Incorrect API key provided: sk-proj-abcdefghijklmnop. Authorization: Bearer eyJhbGc.x.y; "
      "aws AKIAIOSFODNN7EXAMPLE google AIzaSyA1234567890abcdef",
      {}, {});
  EXPECT_EQ(s,
            "Incorrect API key provided: sk-[redacted]. Authorization: Bearer [redacted]; aws "
            "AKIA[redacted] google AIza[redacted]");
}

TEST(ScrubTest, LeavesOrdinaryTextAlone) {
  const std::string text = R"({"error":{"message":"max_tokens is too large: 9000","type":"x"}})";
  EXPECT_EQ(scrub_upstream_text(text, "", ""), text);
  EXPECT_EQ(scrub_upstream_text("task-list and sk-short", "", ""), "task-list and sk-short");
}

}  // namespace
}  // namespace sb::gateway
