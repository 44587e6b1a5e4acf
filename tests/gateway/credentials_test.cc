// The one Bearer parser, shared by the data plane (tenant API keys) and the admin plane (the admin
// token).

#include "gateway/net/credentials.h"
#include "gateway/net/header_name.h"

#include <gtest/gtest.h>
#include <boost/beast/http/fields.hpp>

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

TEST(CredentialsTest, ApiKeyInHeaderFieldsFollowsTheSameRule) {
  namespace http = boost::beast::http;
  http::fields both;
  both.set(http::field::authorization, "Bearer from-authorization");
  both.set("X-Api-Key", "from-x-api-key");
  EXPECT_EQ(api_key_in(both), "from-authorization");
  http::fields basic;
  basic.set(http::field::authorization, "Basic dXNlcjpwYXNz");
  basic.set("x-api-key", "from-x-api-key");
  EXPECT_EQ(api_key_in(basic), "from-x-api-key");
  http::fields only_x;
  only_x.set("X-API-KEY", "from-x-api-key");
  EXPECT_EQ(api_key_in(only_x), "from-x-api-key");
  EXPECT_EQ(api_key_in(http::fields{}), "");
}

TEST(HeaderNameTest, NamesCompareAsciiCaseInsensitively) {
  EXPECT_TRUE(is_name("Content-Type", "content-type"));
  EXPECT_TRUE(is_name("X-API-KEY", "x-api-key"));
  EXPECT_FALSE(is_name("x-api-keys", "x-api-key"));
  EXPECT_FALSE(is_name("x-api-ke", "x-api-key"));
  // Only A-Z fold: `^` and `~` differ by the case bit but are not letters.
  EXPECT_FALSE(is_name("a^b", "a~b"));
  EXPECT_FALSE(is_name("x_api_key", "x-api-key"));
}

TEST(HeaderNameTest, FieldValueIsTheFirstFieldOfThatName) {
  namespace http = boost::beast::http;
  http::fields f;
  f.insert("X-Trace", "first");
  f.insert("Accept", "*/*");
  f.insert("x-trace", "second");
  EXPECT_EQ(field_value(f, "x-trace"), "first");
  EXPECT_EQ(field_value(f, "x-trace"), f["X-Trace"]) << "as Beast's own lookup";
  EXPECT_EQ(field_value(f, "accept"), "*/*");
  EXPECT_EQ(field_value(f, "missing"), "");
}

}  // namespace
}  // namespace sb::gateway
