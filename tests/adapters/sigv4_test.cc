#include "adapters/sigv4.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace sb::adapters {
namespace {

// The AWS Signature Version 4 test suite (2015 edition): service "service", region us-east-1,
// credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z.
// https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html (the vectors are
// vendored by the AWS SDKs, e.g. aws-c-auth tests/aws-signing-test-suite/v4 and
// aws-sdk-js-v3 packages/signature-v4/src/suite.fixture.ts).
constexpr std::string_view kKeyId = "AKIDEXAMPLE";
constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kDate = "20150830T123600Z";
constexpr std::string_view kHost = "example.amazonaws.com";
constexpr std::string_view kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kStsToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSP"
    "fIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYw"
    "T7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKml"
    "zm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

struct Vector {
  std::string name;
  std::string method;
  std::string path;   // wire form
  std::string query;  // wire form
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
  std::string session_token;
  bool normalize = true;
  std::string signed_headers;
  std::string signature;
};

std::string authorization(const Vector& v) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         v.signed_headers + ", Signature=" + v.signature;
}

SigV4Result sign(const Vector& v) {
  SigV4Request req;
  req.method = v.method;
  req.path = v.path;
  req.query = v.query;
  req.host = kHost;
  req.headers = v.headers;
  req.payload = v.payload;
  SigV4Options opt;
  opt.region = "us-east-1";
  opt.service = "service";
  opt.normalize_path = v.normalize;
  auto r = sigv4_sign(req, {kKeyId, kSecret, v.session_token}, opt, kDate);
  EXPECT_TRUE(r.has_value()) << v.name;
  return r ? *r : SigV4Result{};
}

std::string VectorName(const ::testing::TestParamInfo<Vector>& param_info) {
  return param_info.param.name;
}

class SigV4SuiteTest : public ::testing::TestWithParam<Vector> {};

TEST_P(SigV4SuiteTest, MatchesPublishedAuthorization) {
  const Vector& v = GetParam();
  const SigV4Result r = sign(v);
  EXPECT_EQ(r.authorization, authorization(v));
  EXPECT_EQ(r.signed_headers, v.signed_headers);
  EXPECT_EQ(r.amz_date, kDate);
}

const std::string kHx = "host;x-amz-date";
const std::string kHmx = "host;my-header1;x-amz-date";
const std::string kUnreserved =
    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

INSTANTIATE_TEST_SUITE_P(
    AwsSuite, SigV4SuiteTest,
    ::testing::Values(
        Vector{"get_vanilla",
               "GET",
               "/",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_vanilla_empty_query_key",
               "GET",
               "/",
               "Param1=value1",
               {},
               "",
               "",
               true,
               kHx,
               "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
        Vector{"get_vanilla_query_order_key_case",
               "GET",
               "/",
               "Param2=value2&Param1=value1",
               {},
               "",
               "",
               true,
               kHx,
               "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
        Vector{"get_vanilla_query_unreserved",
               "GET",
               "/",
               kUnreserved + "=" + kUnreserved,
               {},
               "",
               "",
               true,
               kHx,
               "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
        Vector{"get_vanilla_utf8_query",
               "GET",
               "/",
               "%E1%88%B4=bar",
               {},
               "",
               "",
               true,
               kHx,
               "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
        Vector{"get_vanilla_utf8_query_raw",
               "GET",
               "/",
               "\xE1\x88\xB4=bar",
               {},
               "",
               "",
               true,
               kHx,
               "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
        Vector{"get_header_key_duplicate",
               "GET",
               "/",
               "",
               {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
               "",
               "",
               true,
               kHmx,
               "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
        Vector{"get_header_value_order",
               "GET",
               "/",
               "",
               {{"My-Header1", "value4"},
                {"My-Header1", "value1"},
                {"My-Header1", "value3"},
                {"My-Header1", "value2"}},
               "",
               "",
               true,
               kHmx,
               "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
        Vector{"get_header_value_trim",
               "GET",
               "/",
               "",
               {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}},
               "",
               "",
               true,
               "host;my-header1;my-header2;x-amz-date",
               "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
        Vector{"get_unreserved",
               "GET",
               "/" + kUnreserved,
               "",
               {},
               "",
               "",
               true,
               kHx,
               "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
        Vector{"get_utf8",
               "GET",
               "/\xE1\x88\xB4",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
        Vector{"get_space_normalized",
               "GET",
               "/example space/",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
        Vector{"get_space_unnormalized",
               "GET",
               "/example space/",
               "",
               {},
               "",
               "",
               false,
               kHx,
               "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
        Vector{"get_slash_normalized",
               "GET",
               "//",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_slash_unnormalized",
               "GET",
               "//",
               "",
               {},
               "",
               "",
               false,
               kHx,
               "c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e"},
        Vector{"get_slashes_normalized",
               "GET",
               "//example//",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
        Vector{"get_slashes_unnormalized",
               "GET",
               "//example//",
               "",
               {},
               "",
               "",
               false,
               kHx,
               "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
        Vector{"get_slash_dot_slash_normalized",
               "GET",
               "/./",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_slash_pointless_dot_normalized",
               "GET",
               "/./example",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
        Vector{"get_relative_relative_normalized",
               "GET",
               "/example1/example2/../..",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_vanilla_with_session_token",
               "GET",
               "/",
               "",
               {},
               "",
               "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
               true,
               "host;x-amz-date;x-amz-security-token",
               "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
        Vector{"post_vanilla",
               "POST",
               "/",
               "",
               {},
               "",
               "",
               true,
               kHx,
               "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
        Vector{"post_header_key_sort",
               "POST",
               "/",
               "",
               {{"My-Header1", "value1"}},
               "",
               "",
               true,
               kHmx,
               "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
        Vector{"post_header_value_case",
               "POST",
               "/",
               "",
               {{"My-Header1", "VALUE1"}},
               "",
               "",
               true,
               kHmx,
               "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
        Vector{"post_vanilla_empty_query_value",
               "POST",
               "/",
               "Param1=value1",
               {},
               "",
               "",
               true,
               kHx,
               "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
        Vector{"post_vanilla_query_nonunreserved",
               "POST",
               "/",
               "%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D",
               {},
               "",
               "",
               true,
               kHx,
               "66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"},
        Vector{"post_vanilla_query_space",
               "POST",
               "/",
               "p=",
               {},
               "",
               "",
               true,
               kHx,
               "e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b"},
        Vector{"post_x_www_form_urlencoded",
               "POST",
               "/",
               "",
               {{"Content-Type", "application/x-www-form-urlencoded"}},
               "Param1=value1",
               "",
               true,
               "content-type;host;x-amz-date",
               "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
        Vector{"post_x_www_form_urlencoded_parameters",
               "POST",
               "/",
               "",
               {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
               "Param1=value1",
               "",
               true,
               "content-type;host;x-amz-date",
               "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
        Vector{"post_sts_header_before",
               "POST",
               "/",
               "",
               {},
               "",
               std::string(kStsToken),
               true,
               "host;x-amz-date;x-amz-security-token",
               "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"}),
    VectorName);

TEST(SigV4Test, GetVanillaCanonicalRequestAndStringToSign) {
  const SigV4Result r = sign(Vector{"get_vanilla", "GET", "/"});
  EXPECT_EQ(r.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(r.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

TEST(SigV4Test, PostVanillaStringToSign) {
  const SigV4Result r = sign(Vector{"post_vanilla", "POST", "/"});
  EXPECT_EQ(r.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87");
}

TEST(SigV4Test, SessionTokenIsSignedAndReturnedAsHeader) {
  Vector v{"sts", "POST", "/"};
  v.session_token = std::string(kStsToken);
  const SigV4Result r = sign(v);
  EXPECT_EQ(r.canonical_request,
            "POST\n/\n\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\nx-amz-security-token:" +
                std::string(kStsToken) + "\n\nhost;x-amz-date;x-amz-security-token\n" +
                std::string(kEmptyHash));
  EXPECT_EQ(r.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6");
  const std::vector<std::pair<std::string, std::string>> want{
      {"x-amz-date", "20150830T123600Z"},
      {"x-amz-security-token", std::string(kStsToken)},
      {"authorization", r.authorization}};
  EXPECT_EQ(r.headers, want);
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndInnerSpacesCollapsed) {
  Vector v{"trim", "GET", "/"};
  v.headers = {{"My-Header1", "  value1  "}, {"My-Header2", "\"a   b \t  c\""}};
  const SigV4Result r = sign(v);
  EXPECT_NE(r.canonical_request.find("\nmy-header1:value1\nmy-header2:\"a b c\"\n"),
            std::string::npos)
      << r.canonical_request;
}

TEST(SigV4Test, SignerOwnedHeadersFromCallerAreReplaced) {
  Vector v{"owned", "GET", "/"};
  v.headers = {{"X-Amz-Date", "19990101T000000Z"}, {"Host", "evil.example"}};
  const SigV4Result r = sign(v);
  EXPECT_EQ(r.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, ContentSha256HeaderIsSignedWhenAsked) {
  SigV4Request req;
  req.method = "POST";
  req.host = kHost;
  req.payload = "{}";
  SigV4Options opt{"us-east-1", "service", true};
  const auto r = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signed_headers, "host;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(r->payload_sha256, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  ASSERT_EQ(r->headers.size(), 3u);
  EXPECT_EQ(r->headers[1],
            (std::pair<std::string, std::string>{"x-amz-content-sha256", r->payload_sha256}));
  EXPECT_NE(r->canonical_request.find("\nx-amz-content-sha256:" + r->payload_sha256 + "\n"),
            std::string::npos);
}

// Every service but S3 encodes the wire path once more in the canonical request
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, "Each path
// segment must be URI-encoded twice" except for S3).
TEST(SigV4Test, BedrockModelIdColonIsDoubleEncodedInCanonicalUri) {
  const std::string model = "anthropic.claude-3-5-sonnet-20240620-v1:0";
  const std::string wire = "/model/" + sigv4_uri_encode(model, false) + "/converse";
  EXPECT_EQ(wire, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  SigV4Request req;
  req.method = "POST";
  req.path = wire;
  req.host = "bedrock-runtime.us-east-1.amazonaws.com";
  req.headers = {{"content-type", "application/json"}};
  req.payload = R"({"messages":[]})";
  SigV4Options opt{"us-east-1", "bedrock", true};
  const auto r = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->canonical_request.substr(0, r->canonical_request.find('\n', 5)),
            "POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse");
  EXPECT_EQ(r->signed_headers, "content-type;host;x-amz-content-sha256;x-amz-date");
  EXPECT_TRUE(r->authorization.starts_with(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="))
      << r->authorization;
}

TEST(SigV4Test, S3StyleSigningKeepsWirePathAsIs) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/a%20b/%C3%BC";
  req.host = kHost;
  SigV4Options opt{"us-east-1", "s3"};
  opt.double_encode_path = false;
  opt.normalize_path = false;
  const auto r = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->canonical_request.substr(0, 18), "GET\n/a%20b/%C3%BC\n");
  opt.double_encode_path = true;
  const auto d = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->canonical_request.substr(0, 24), "GET\n/a%2520b/%25C3%25BC\n");
}

TEST(SigV4Test, QueryIsDecodedReencodedAndSortedByNameThenValue) {
  SigV4Request req;
  req.method = "GET";
  req.host = kHost;
  req.query = "key=a%20b&key=A&tilde=~&flag&b=%2b+";
  SigV4Options opt{"us-east-1", "service"};
  const auto r = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  ASSERT_TRUE(r);
  EXPECT_NE(r->canonical_request.find("\nb=%2B%2B&flag=&key=A&key=a%20b&tilde=~\n"),
            std::string::npos)
      << r->canonical_request;
}

TEST(SigV4Test, RejectsMalformedDateAndMissingInputs) {
  SigV4Request req;
  req.host = kHost;
  SigV4Options opt{"us-east-1", "service"};
  EXPECT_FALSE(sigv4_sign(req, {kKeyId, kSecret, {}}, opt, "2015-08-30T12:36:00Z"));
  EXPECT_FALSE(sigv4_sign(req, {kKeyId, kSecret, {}}, opt, "20150830T123600"));
  EXPECT_FALSE(sigv4_sign(req, {{}, kSecret, {}}, opt, kDate));
  req.host = {};
  EXPECT_FALSE(sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate));
}

TEST(SigV4Test, FormatsAmzDateFromUnixSeconds) {
  EXPECT_EQ(format_amz_date(1440938160), "20150830T123600Z");
  EXPECT_EQ(format_amz_date(0), "19700101T000000Z");
  EXPECT_EQ(format_amz_date(951782400), "20000229T000000Z");
  EXPECT_EQ(format_amz_date(-1), "19691231T235959Z");
}

TEST(SigV4Test, DifferentDayGivesDifferentSignature) {
  SigV4Request req;
  req.method = "GET";
  req.host = kHost;
  SigV4Options opt{"us-east-1", "service"};
  const auto a = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, kDate);
  const auto b = sigv4_sign(req, {kKeyId, kSecret, {}}, opt, "20150831T123600Z");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->signature, b->signature);
  EXPECT_EQ(sha256_hex(""), kEmptyHash);
}

}  // namespace
}  // namespace sb::adapters
