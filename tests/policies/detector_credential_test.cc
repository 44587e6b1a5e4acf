// The `credential` detector: a value written after a name that says it is a password, a secret, a
// token or an API key, whatever its format (policies/detector_rules.h). Found as files, shells,
// headers and JSON write them; not found where the name is followed by code, a template's slot, a
// placeholder, a schema or prose.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"
#include "policies/cpu.h"
#include "policies/detector.h"
#include "policies/detector_rules_internal.h"
#include "tests/policies/every_entity.h"

namespace sb::policies {
namespace {

using testing::every_entity;

std::uint32_t count_in(const Detector& d, std::string_view text) {
  const Detection found = d.scan(std::vector<std::string_view>{text});
  for (const EntityCount& e : found.entities) {
    if (d.entity_names()[e.entity] == "credential") {
      return e.count;
    }
  }
  return 0;
}

class CredentialTest : public ::testing::Test {
 protected:
  void SetUp() override { detector_ = every_entity(); }
  std::unique_ptr<Detector> detector_;
};

TEST_F(CredentialTest, FindsValuesAfterNamesThatSaySo) {
  for (std::string_view text : {
           // .env files and shells
           "DB_PASSWORD=hunter2",
           "export GITHUB_TOKEN=a1b2c3d4e5f6a7b8c9d0",
           "SMTP_PASS=mail2024!",
           "REDIS_PWD='r3dis-pw'",
           "NEXTAUTH_SECRET=Zq8sL2vX9mKp4Rt7",
           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz3kv9",
           "STRIPE_WEBHOOK_SECRET=\"whsec_9f8e7d6c5b4a\"",
           "mysql --user=root --password=t0ps3cret shop",
           // YAML, TOML, INI, properties
           "  password: Sup3rS3cret",
           "password = \"correct-h0rse\"",
           "spring.datasource.password=Pr0dPass",
           "client_secret: 'k8Jd92hsQ0pL'",
           "api_key: 9f86d081884c7d659a2feaa0c55ad015",
           "access_key = AKIAQ4Z6XDEADBEEF00",
           // JSON and code
           "{\"password\": \"Tr0ub4dor&3\"}",
           "{\"apiKey\":\"3f2b9c1d-8e7a-4b6c-9d0e-1f2a3b4c5d6e\"}",
           "'db_password': 'sqlPass99'",
           "$config['smtp_pass'] => 'Mailer#2024'",
           "config[\"password\"] = \"hunter2\"",
           "const accessToken = \"ya29.a0AfH6SMBx7yZ\";",
           "private_key = `MIIEvQIBADANBgkqhkiG9w0B`",
           "if password == \"letmein42\":",
           "DbPassword: \"Winter2024\"",
           "password: MySecretPass1",
           // headers
           "curl -H 'Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543' https://api",
           "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l",
           "Authorization: Basic dXNlcjpwYXNzd29yZA==",
           "X-API-Key: 0a1b2c3d4e5f6a7b",
           "x-auth-token: tok_7Hq2Lm9Xc",
           "GET /cb?access_token=ya29a0AfH6SM&expires_in=3599",
           "password: hunter2 # the staging database",
           "  --api-key=0a1b2c3d4e5f6a7b --verbose",
           // options written with a space
           "docker login -u bob --password Sup3rS3cret registry.corp",
           "mycli --client-secret k8Jd92hsQ0pL --region eu",
           "tool --api-key '0a1b2c3d4e5f6a7b'",
           "az login --username svc --password P@ssw0rd!",
       }) {
    EXPECT_EQ(count_in(*detector_, text), 1u) << text;
  }
}

TEST_F(CredentialTest, NamesAloneOrFollowedByCodeFindNothing) {
  for (std::string_view text : {
           // code that reads a credential from somewhere
           "password = os.environ[\"DB_PASSWORD\"]",
           "password = getpass.getpass()",
           "token = self.token",
           "api_key: settings.OPENAI_API_KEY",
           "const token = req.headers.authorization;",
           "password = user_input",
           "secret_key = config.SECRET_KEY",
           "password: str",
           "password: Optional[str] = None",
           "fn login(password: &str) -> bool",
           "headers: {Authorization: `Bearer ${token}`}",
           "token: ${{ secrets.GITHUB_TOKEN }}",
           "password: {{ .Values.db.password }}",
           "DB_PASSWORD=${DB_PASSWORD}",
           "password = \"%s\" % pw",
           "password: !secret db_pass",
           "export declare function pbkdf2(password: Uint8Array, salt: Uint8Array): Uint8Array;",
           "const workSecret = opts?.workSecret || readEnv('ANTHROPIC_WORK_SECRET') || null;",
           "let hasApiKey = !isBearerToken;",
           "#cachedToken: CachedX509Token | undefined;",
           "password: SecretStr = Field(...)",
           "{password: hunter2, user: admin}",
           // minified JavaScript
           "socksProxyPort:Ae?Ff():void 0,proxyAuthToken:Ae?gi:void 0,caCertPath:x",
           "sessionId:e,sessionToken:W??_e.current,gitToken:W===void 0?void 0:W",
           "e.isAnthropicOAuthToken=e.getProviderLabel=e.DEFAULT_PROVIDER=void 0;",
           "isRefusalToken=Mn!==void 0&&H.x",
           "self.token = self.token.astOperand1",
           "imdsv2_session_token = imdsv2_session_token_response.data",
           "headers[\"X-aws-ec2-metadata-token\"] = imdsv2_session_token",
           "client_secret=\"clientSecret\"",
           "\"subject_token\": \"ACCESS_TOKEN_1\"",
           "AsmToken::TokenKind OperatorToken,",
           "\"AWS::ApiGateway::ApiKey\": \"48205d4ffd7feba3\",",
           "\"ClientToken\": \"1234abcd-1234-abcd-1234-d46a8903e9bc\",",
           "\"LockToken\":\"0674c84b-0304-47fe-8728-c6bff46af8fc\",",
           "--page-token=\"ala9glealanal908\"",
           "'service_account_token': 'V1ServiceAccountTokenProjection'",
           "'secret': 'V1SecretVolumeSource',",
           "headers[\"authorization\"] = 'WSSE profile=\"UsernameToken\"'",
           "\"nextForwardToken\": \"f/31961209122447488583055879464742346735121166569214640130\",",
           // options that are no credential's
           "docker login --password-stdin < pw.txt",
           "tool --token-file ./token.txt --password $PASS",
           "tool --password \"$(cat pw.txt)\" --no-password",
           "tool --password --verbose",
           "for (i = 0; i < n; --i) x--password;",
           "| --- | --password | ---- |",
           "-- password hunter2 (an SQL comment)",
           "x--password Sup3rS3cret",
           // references and URIs
           "\"ARN\": \"arn:aws:secretsmanager:us-west-2:123456789012:secret:MySecret1-a1b2c3\",",
           "const X509_SUBJECT_TOKEN = 'urn:openai:params:oauth:token-type:x509';",
           "password: vault:secret/data/db2#password",
           "api_key: op://Engineering/OpenAI2/credential",
           "secret = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:db\"",
           // placeholders and documentation
           "password: changeme",
           "password=<your password>",
           "API_KEY=your-api-key-here",
           "api_key = \"YOUR_API_KEY\"",
           "Authorization: Bearer $TOKEN",
           "Authorization: Bearer YOUR_TOKEN",
           "password: \"********\"",
           "token: xxxxxxxxxxxxxxxx",
           "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           "password: \"password\"",
           "secret: true",
           "password_file: /run/secrets/db_password",
           "token: ./token.txt",
           "credentials: 'include'",
           // schemas, counts, tokenizers, pagination
           "{\"password\": {\"type\": \"string\", \"minLength\": 8}}",
           "\"max_tokens\": 4096, \"total_tokens\": 1234567",
           "token: 12345678",
           "\"next_page_token\": \"CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA0\"",
           "\"nextToken\": \"eyJ2IjoxLCJjIjoiYWJjIn0x\"",
           "eos_token: \"</s>\"",
           "pad_token = \"<pad>\"",
           "\"cancellationToken\": \"ct_00000001\"",
           // prose and the shell's working directory
           "Your password: please choose one of at least 12 characters.",
           "The refresh token: it expires after 30 days.",
           "PWD=/home/dev/project",
           "bypass: on2023call",
           "password\nThe user's password, at least 8 characters\n",
           // a name and a value on lines of their own (a JSON member of the body as the scanned
           // text holds it) are not paired: JSON inside strings (tool arguments) keeps its colons
           "password\nhunter2\n",
       }) {
    EXPECT_EQ(count_in(*detector_, text), 0u) << text;
  }
}

TEST_F(CredentialTest, TheValueIsTheSpanFound) {
  // The value alone is the entity's value (what an allow-list names), not the name before it.
  EXPECT_EQ(count_in(*detector_, "DB_PASSWORD=hunter2\nREDIS_PASSWORD=r3d1s-pw\n"), 2u);
  config::SensitivitySettings s;
  s.allow_defaults = false;
  config::EntityLevel e{"credential", 3};
  e.allow.push_back(config::AllowEntry{"hunter2", {}});
  s.entities.push_back(e);
  std::string error;
  auto d = Detector::compile(s, error);
  ASSERT_NE(d, nullptr) << error;
  EXPECT_EQ(count_in(*d, "DB_PASSWORD=hunter2"), 0u);
  EXPECT_EQ(count_in(*d, "DB_PASSWORD=hunter3"), 1u);
}

TEST_F(CredentialTest, LongOrUnclosedValuesAndLongNamesAreBounded) {
  // A value past 256 bytes and a quote never closed on its line are not taken; a name is read by
  // its last 64 bytes: each operator walks a bounded number of bytes.
  EXPECT_EQ(count_in(*detector_, "password=" + std::string(300, 'a') + "1"), 0u);
  EXPECT_EQ(count_in(*detector_, "password=\"abc123\nmore\""), 0u);
  EXPECT_EQ(count_in(*detector_, std::string(70, 'x') + "_password=hunter2"), 1u);
  EXPECT_EQ(count_in(*detector_, std::string(5000, 'x') + "_password=hunter2"), 1u);
  // Values that run over the next operators are walked once: a text of nothing but assignments
  // whose values never end costs its length, not 256 bytes an operator.
  std::string chain;
  for (int i = 0; i < 100000; ++i) {
    chain += "_pass=";
  }
  EXPECT_EQ(count_in(*detector_, chain), 0u);
  // Many names in a row: each found once.
  std::string many;
  for (int i = 0; i < 1000; ++i) {
    many += "PASSWORD_" + std::to_string(i) + "_PASSWORD=pw" + std::to_string(100000 + i) + "\n";
  }
  EXPECT_EQ(count_in(*detector_, many), 1000u);
}

TEST_F(CredentialTest, ASecretOfAKnownFormatIsThatEntityAsWell) {
  const Detection found = detector_->scan(
      std::vector<std::string_view>{"GITHUB_TOKEN=ghp_a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8"});
  std::vector<std::string> names;
  for (const EntityCount& e : found.entities) {
    names.push_back(detector_->entity_names()[e.entity]);
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "github_token"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "credential"), names.end());
}

// The search (64-byte blocks of `:` and `=`, `::` dropped, a table filter before each check)
// finds exactly what checking every operator finds, both ways, on texts dense in names, operators,
// quotes and values, and with a credential at every offset across the blocks' edges.
TEST(CredentialSearchTest, FindsWhatCheckingEveryOperatorFinds) {
  using rules::Span;
  const auto plain = [](std::string_view buf) {
    std::vector<std::pair<std::size_t, std::size_t>> found;
    std::size_t next = 0;
    for (std::size_t op = 0; op < buf.size(); ++op) {
      Span value;
      if ((buf[op] == ':' || buf[op] == '=' || buf[op] == '-') && op >= next &&
          rules::credential_at_operator(buf, op, value, next)) {
        found.emplace_back(value.begin, value.end);
      }
    }
    return found;
  };
  std::vector<bool> ways = {false};  // SSE2, then AVX2 where the CPU has it
  if (cpu::has_avx2()) {
    ways.push_back(true);
  }
  const auto search = [](bool avx2, std::string_view buf) {
    std::vector<Span> spans;
    rules::credentials_with(buf, spans, avx2);
    std::vector<std::pair<std::size_t, std::size_t>> found;
    for (const Span& s : spans) {
      found.emplace_back(s.begin, s.end);
    }
    return found;
  };
  const std::vector<std::string> pieces = {"password",
                                           "DB_PASSWORD",
                                           "token",
                                           "api_key",
                                           "apiKey",
                                           "secret",
                                           "Authorization",
                                           "x_pass",
                                           "std",
                                           "a",
                                           ":",
                                           "=",
                                           "::",
                                           "==",
                                           "=>",
                                           ":=",
                                           " ",
                                           "\t",
                                           "\n",
                                           "\"",
                                           "'",
                                           "]",
                                           "[",
                                           "hunter2",
                                           "Bearer ",
                                           "k8Jd92hsQ0pL",
                                           "${X}",
                                           "self.x",
                                           ",",
                                           ";",
                                           "#",
                                           "Sup3rS3cret",
                                           "9f86d081884c7d65",
                                           "-",
                                           "//"};
  std::mt19937 rng(20261206);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 120);
    for (int k = 0; k < n; ++k) {
      text += pieces[rng() % pieces.size()];
    }
    const auto expected = plain(text);
    for (const auto way : ways) {
      ASSERT_EQ(search(way, text), expected) << text;
    }
  }
  // One credential at every offset of 200 bytes of filler, and `::` and `--` pairs across the
  // blocks' edges; an option's value too.
  for (const std::string_view credential : {"DB_PASSWORD=hunter2\n", " --password hunter2 "}) {
    for (const char filler : {'x', ':', ' ', '=', '-'}) {
      for (std::size_t at = 0; at < 200; ++at) {
        std::string text(at, filler);
        text += credential;
        text.append(200 - at, filler);
        const auto expected = plain(text);
        if (filler == ' ' || (filler == 'x' && credential[0] != ' ')) {
          EXPECT_EQ(expected.size(), 1u) << at << filler;  // `xxxDB_PASSWORD` is a name too
        }
        for (const auto way : ways) {
          ASSERT_EQ(search(way, text), expected) << at << " " << filler;
        }
      }
    }
  }
}

}  // namespace
}  // namespace sb::policies
