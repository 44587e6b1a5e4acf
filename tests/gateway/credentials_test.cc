// The one Bearer parser, shared by the data plane (tenant API keys) and the admin plane (the admin
// token).

#include "gateway/net/credentials.h"

#include <gtest/gtest.h>

namespace sb::gateway {
namespace {

TEST(CredentialsTest, BearerTokenTakesTheTokenAfterTheScheme) {
  EXPECT_EQ(bearer_token("Bearer sk-abc"), "sk-abc");
}

TEST(CredentialsTest, BearerSchemeIsCaseInsensitive) {
  EXPECT_EQ(bearer_token("bearer sk-abc"), "sk-abc");
  EXPECT_EQ(bearer_token("BEARER sk-abc"), "sk-abc");
}

TEST(CredentialsTest, SpacesAfterTheSchemeAreSkipped) {
  EXPECT_EQ(bearer_token("Bearer    sk-abc"), "sk-abc");
}

TEST(CredentialsTest, NoTokenWithoutABearerScheme) {
  EXPECT_EQ(bearer_token(""), "");
  EXPECT_EQ(bearer_token("Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(bearer_token("Bearersk-abc"), "");
  EXPECT_EQ(bearer_token("sk-abc"), "");
}

TEST(CredentialsTest, NoTokenWhenTheSchemeStandsAlone) {
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token("Bearer "), "");
  EXPECT_EQ(bearer_token("Bearer     "), "");
}

TEST(CredentialsTest, ApiKeyPrefersTheBearerToken) {
  EXPECT_EQ(api_key_from("Bearer from-authorization", "from-x-api-key"), "from-authorization");
}

TEST(CredentialsTest, ApiKeyFallsBackToXApiKeyBesideANonBearerAuthorization) {
  EXPECT_EQ(api_key_from("Basic dXNlcjpwYXNz", "from-x-api-key"), "from-x-api-key");
  EXPECT_EQ(api_key_from("", "from-x-api-key"), "from-x-api-key");
  EXPECT_EQ(api_key_from("", ""), "");
}

}  // namespace
}  // namespace sb::gateway
