#include "policies/detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policies/config.h"
#include "policies/validators.h"

namespace sb::policies {
namespace {

constexpr int kPublic = 0;
constexpr int kInternal = 1;
constexpr int kConfidential = 2;
constexpr int kRestricted = 3;

/// The default levels: cards, SSNs, IBANs and secrets restricted; email and phone confidential;
/// IP addresses internal. Without the default allow-list: the format cases below write addresses
/// in the reserved example domains as stand-ins for real ones (detector_allow_test.cc covers it).
config::SensitivitySettings default_settings() {
  config::SensitivitySettings s;
  s.allow_defaults = false;
  for (const std::string& name : config::builtin_entities()) {
    int level = kRestricted;
    if (name == "email" || name == "phone") {
      level = kConfidential;
    } else if (name == "ip_address") {
      level = kInternal;
    }
    s.entities.push_back(config::EntityLevel{name, level});
  }
  return s;
}

std::unique_ptr<Detector> compile_or_die(const config::SensitivitySettings& s) {
  std::string error;
  auto d = Detector::compile(s, error);
  EXPECT_NE(d, nullptr) << error;
  EXPECT_EQ(error, "");
  return d;
}

/// How many `entity` values the detector finds in `texts` (0 when not found).
std::uint32_t count_in_texts(const Detector& d, std::string_view entity,
                             const std::vector<std::string_view>& texts) {
  const Detection found = d.scan(texts);
  for (const EntityCount& e : found.entities) {
    if (d.entity_names()[e.entity] == entity) {
      return e.count;
    }
  }
  return 0;
}

std::uint32_t count_of(const Detector& d, std::string_view entity, std::string_view text) {
  return count_in_texts(d, entity, std::vector<std::string_view>{text});
}

/// Names of the entities found, in Detection order.
std::vector<std::string> found_names(const Detector& d, const Detection& found) {
  std::vector<std::string> names;
  for (const EntityCount& e : found.entities) {
    names.push_back(d.entity_names()[e.entity]);
  }
  return names;
}

struct Case {
  std::string_view entity;
  std::string text;
  std::uint32_t expected;  ///< occurrences of `entity` in `text`
};

class DetectorTest : public ::testing::Test {
 protected:
  void SetUp() override { detector_ = compile_or_die(default_settings()); }

  void run_table(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      EXPECT_EQ(count_of(*detector_, c.entity, c.text), c.expected)
          << c.entity << " in \"" << c.text << "\"";
    }
  }

  std::unique_ptr<Detector> detector_;
};

// -----------------------------------------------------------------------------------------------
// Entities: valid values, near misses, context.

TEST_F(DetectorTest, FindsValidCardNumbersInEveryLayout) {
  run_table({
      {"credit_card", "4111111111111111", 1},                 // Visa 16
      {"credit_card", "4222222222222", 1},                    // Visa 13
      {"credit_card", "4000000000000000006", 1},              // Visa 19
      {"credit_card", "5500000000000004", 1},                 // Mastercard 51-55
      {"credit_card", "2221000000000009", 1},                 // Mastercard 2-series
      {"credit_card", "378282246310005", 1},                  // Amex
      {"credit_card", "6011111111111117", 1},                 // Discover
      {"credit_card", "6440000000000005", 1},                 // Discover 644
      {"credit_card", "3530111333300000", 1},                 // JCB
      {"credit_card", "30569309025904", 1},                   // Diners 14
      {"credit_card", "6200000000000005", 1},                 // UnionPay
      {"credit_card", "4111 1111 1111 1111", 1},              // spaces
      {"credit_card", "4111-1111-1111-1111", 1},              // dashes
      {"credit_card", "3782 822463 10005", 1},                // Amex 4-6-5
      {"credit_card", "4000 0000 0000 0000 006", 1},          // 4-4-4-4-3
      {"credit_card", "pay with card:4111111111111111.", 1},  // punctuation around
      {"credit_card", "(4111 1111 1111 1111)", 1},            //
      {"credit_card", "card 4111-1111-1111-1111, exp 12/27", 1},
      {"credit_card", "4111 1111 1111 1111 12/27 123", 1},    // expiry and CVV follow
      {"credit_card", "\"number\":\"5555555555554444\"", 1},  // inside JSON
  });
}

TEST_F(DetectorTest, RejectsCardNearMisses) {
  run_table({
      {"credit_card", "4111111111111112", 0},        // bad Luhn
      {"credit_card", "4111 1111 1111 1112", 0},     // bad Luhn, grouped
      {"credit_card", "1234567812345670", 0},        // Luhn-valid, no network starts with 1
      {"credit_card", "7000000000000007", 0},        // no network starts with 7
      {"credit_card", "411111111111111111111", 0},   // part of a longer digit run (21)
      {"credit_card", "94111111111111111", 0},       // 17 digits, IIN 9
      {"credit_card", "41111111111111110", 0},       // Visa with 17 digits
      {"credit_card", "5500 0000 0000 004", 0},      // Mastercard with 15 digits
      {"credit_card", "4111 1111-1111 1111", 0},     // mixed separators
      {"credit_card", "4111  1111  1111  1111", 0},  // double spaces
      {"credit_card", "a1x4111111111111111", 0},     // inside a mixed token (hash-like)
      {"credit_card", "4111111111111111abc9", 0},    //
      {"credit_card", "94111111111111111x", 0},      // glued to more digits
      {"credit_card", "0.4111111111111111", 0},      // a decimal fraction
      {"credit_card", "4111111111111111.5", 0},      //
      {"credit_card", "order 20240115123456 shipped", 0},
  });
}

TEST_F(DetectorTest, FindsSocialSecurityNumbers) {
  run_table({
      {"us_ssn", "123-45-6789", 1},
      {"us_ssn", "123 45 6789", 1},
      {"us_ssn", "my ssn is 078-05-1120.", 1},
      {"us_ssn", "SSN: 123456789", 1},
      {"us_ssn", "ssn#123456789", 1},
      {"us_ssn", "Social Security Number 123456789", 1},
      {"us_ssn", "soc. sec. no. 899999999", 1},
      {"us_ssn", "(123-45-6789)", 1},
  });
}

TEST_F(DetectorTest, RejectsSsnNearMisses) {
  run_table({
      {"us_ssn", "000-12-3456", 0},              // area 000
      {"us_ssn", "666-12-3456", 0},              // area 666
      {"us_ssn", "900-12-3456", 0},              // area 9xx
      {"us_ssn", "987-65-4321", 0},              //
      {"us_ssn", "123-00-4567", 0},              // group 00
      {"us_ssn", "123-45-0000", 0},              // serial 0000
      {"us_ssn", "SSN: 000123456", 0},           // area 000 after a keyword
      {"us_ssn", "123456789", 0},                // 9 digits without a keyword
      {"us_ssn", "order 123456789 shipped", 0},  //
      {"us_ssn", "SSN: 1234567890", 0},          // 10 digits
      {"us_ssn", "123-45-67890", 0},             // longer run
      {"us_ssn", "1123-45-6789", 0},             //
      {"us_ssn", "123-45-6789-1", 0},            // continued: another identifier
      {"us_ssn", "123-45 6789", 0},              // mixed separators
      {"us_ssn", "ssn\n123456789", 0},           // the keyword is on another line
      {"us_ssn", "Assn. 123456789", 0},          // `ssn` inside a word
  });
}

TEST_F(DetectorTest, FindsIbansContiguousAndGrouped) {
  run_table({
      {"iban", "DE89370400440532013000", 1},
      {"iban", "DE89 3704 0044 0532 0130 00", 1},
      {"iban", "GB29 NWBK 6016 1331 9268 19", 1},
      {"iban", "FR1420041010050500013M02606", 1},
      {"iban", "NL91ABNA0417164300", 1},
      {"iban", "NO93 8601 1117 947", 1},  // shortest (15)
      {"iban", "LC55HEMM000100010012001200023015", 1},
      {"iban", "MT84 MALT 0110 0001 2345 MTLC AST0 01S", 1},
      {"iban", "BE68539007547034", 1},
      {"iban", "IBAN: DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX", 1},
      {"iban", "to DE89370400440532013000.", 1},
  });
}

TEST_F(DetectorTest, RejectsIbanNearMisses) {
  run_table({
      {"iban", "DE89370400440532013001", 0},       // checksum
      {"iban", "GB29 NWBK 6016 1331 9268 18", 0},  // checksum, grouped
      {"iban", "DE5137040044053201300", 0},        // valid mod-97, wrong length for DE
      {"iban", "XX46370400440532013000", 0},       // valid mod-97, no such country
      {"iban", "de89370400440532013000", 0},       // lower case
      {"iban", "XDE89370400440532013000", 0},      // glued to a word
      {"iban", "DE89 3704 0044 0532 0130 0", 0},   // a character short
      {"iban", "DE89 37040 044 0532 0130 00", 0},  // not in groups of 4
  });
}

TEST_F(DetectorTest, FindsEmailAddresses) {
  run_table({
      {"email", "alice@example.com", 1},
      {"email", "bob.smith+tag@mail.example.co.uk", 1},
      {"email", "x_y-z%1@sub-domain.example.io", 1},
      {"email", "<carol@example.org>", 1},
      {"email", "mailto:dave@example.net.", 1},
      {"email", "write to eve@example.com, or eve@example.com", 2},
      {"email", "a@b.cd", 1},
      {"email", "x@example.com_", 0},
      {"email", "first@example.com@second", 0},
      {"email", "a@b@example.com", 0},  // a local part right after another `@`
  });
}

TEST_F(DetectorTest, RejectsEmailNearMisses) {
  run_table({
      {"email", "alice@localhost", 0},         // no dot in the domain
      {"email", "alice@example", 0},           //
      {"email", "alice@example.c", 0},         // one-letter TLD
      {"email", "alice@example.123", 0},       // numeric TLD
      {"email", "@example.com", 0},            // no local part
      {"email", "alice..bob@example.com", 0},  // double dot
      {"email", "alice.@example.com", 0},      // trailing dot
      {"email", "alice@-example.com", 0},      // label starts with a dash
      {"email", "alice@example..com", 0},      // empty label
      {"email", "user at example dot com", 0},
      {"email", "@decorator.method_name", 0},
  });
}

TEST_F(DetectorTest, FindsPhoneNumbers) {
  run_table({
      {"phone", "+1 415 555 2671", 1},
      {"phone", "+14155552671", 1},
      {"phone", "+44 20 7946 0958", 1},
      {"phone", "+1 (415) 555-2671", 1},
      {"phone", "+44 (0)20 7946 0958", 1},
      {"phone", "+49-30-1234567", 1},
      {"phone", "(415) 555-2671", 1},
      {"phone", "(415)555-2671", 1},
      {"phone", "415-555-2671", 1},
      {"phone", "415.555.2671", 1},
      {"phone", "415 555 2671", 1},
      {"phone", "1-415-555-2671", 1},
      {"phone", "020 7946 0958", 1},
      {"phone", "01 23 45 67 89", 1},
      {"phone", "030-12345678", 1},
      {"phone", "call me at 415-555-2671.", 1},
      {"phone", "tel:+14155552671;", 1},
  });
}

TEST_F(DetectorTest, RejectsPhoneShapedNonPhones) {
  run_table({
      {"phone", "2024-01-15", 0},             // ISO date
      {"phone", "12/25/2024", 0},             // US date
      {"phone", "01.02.2024", 0},             // European date
      {"phone", "15.01.2024 10:30", 0},       //
      {"phone", "version 1.2.3.4", 0},        // version
      {"phone", "v2.15.3", 0},                //
      {"phone", "1234567890", 0},             // bare run of digits
      {"phone", "4155552671", 0},             //
      {"phone", "3.14159265358979", 0},       //
      {"phone", "123-456-7890", 0},           // area code cannot start with 1
      {"phone", "415-155-2671", 0},           // nor the exchange
      {"phone", "555-2671", 0},               // 7 digits
      {"phone", "+1 23", 0},                  // too short
      {"phone", "+1234567", 0},               // 7 digits
      {"phone", "+1234567890123456", 0},      // 16 digits
      {"phone", "x1+14155552671", 0},         // inside a mixed token
      {"phone", "415-555-2671-99", 0},        // continued
      {"phone", "99 415 555 2671", 0},        // part of a longer number
      {"phone", "0 800 1234", 0},             //
      {"phone", "the ratio 3-4 of 12", 0},    //
      {"phone", "build 2023.11.05.1234", 0},  //
  });
}

TEST_F(DetectorTest, FindsIpAddresses) {
  run_table({
      {"ip_address", "192.168.1.10", 1},
      {"ip_address", "host 10.0.0.1:8080", 1},
      {"ip_address", "at 10.0.0.1.", 1},
      {"ip_address", "255.255.255.255", 1},
      {"ip_address", "0.0.0.0/0", 1},
      {"ip_address", "2001:db8::1", 1},
      {"ip_address", "::1", 1},
      {"ip_address", "fe80::1ff:fe23:4567:890a%eth0", 1},
      {"ip_address", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", 1},
      {"ip_address", "::ffff:192.0.2.128", 1},
      {"ip_address", "[2001:db8::1]:443", 1},
      {"ip_address", "from 8.8.8.8 and 8.8.4.4", 2},
      {"ip_address", "route via fe80::", 1},        // `::` at the end
      {"ip_address", "1:2:3:4:5:6:7:8", 1},         // full form, no `::`
      {"ip_address", "fe80::1, then fe80::2.", 2},  //
  });
}

TEST_F(DetectorTest, RejectsIpNearMisses) {
  run_table({
      {"ip_address", "256.1.1.1", 0},          // octet > 255
      {"ip_address", "1.2.3.999", 0},          //
      {"ip_address", "1.2.3.4.5", 0},          // a longer dotted run (version)
      {"ip_address", "a.1.2.3.4", 0},          //
      {"ip_address", "192.168.1", 0},          // three octets
      {"ip_address", "01.02.03.04", 0},        // leading zeros
      {"ip_address", "v1.2.3.4", 0},           // glued to a word
      {"ip_address", "1234.1.1.1", 0},         //
      {"ip_address", "std::vector<int>", 0},   // C++
      {"ip_address", "ns::detail::", 0},       //
      {"ip_address", "12:30:45", 0},           // time
      {"ip_address", "00:1a:2b:3c:4d:5e", 0},  // MAC address
      {"ip_address", "2001:db8::g1", 0},       //
      {"ip_address", "1:2:3:4:5:6:7:8:9", 0},  // nine groups
      {"ip_address", "a :: b", 0},             //
      {"ip_address", "1::2::3", 0},            // two `::`
      {"ip_address", "fe80:::1", 0},           // three colons
  });
}

TEST_F(DetectorTest, FindsSecrets) {
  const std::string pat = "github_pat_" + std::string(22, 'A') + "_" + std::string(59, 'b');
  const std::string openai_legacy =
      "sk-" + std::string(20, 'a') + "T3BlbkFJ" + std::string(20, 'Z');
  const std::string openai_project =
      "sk-proj-" + std::string(60, 'x') + "-_" + std::string(60, 'Y');
  const std::string anthropic = "sk-ant-api03-" + std::string(90, 'q') + "-AA";
  const std::string jwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  run_table({
      {"aws_access_key", "AKIAIOSFODNN7EXAMPLE", 1},
      {"aws_access_key", "aws_access_key_id = ASIAY34FZKBOKMUTVV7A\n", 1},
      {"github_token", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", 1},
      {"github_token", "token: gho_" + std::string(36, 'z'), 1},
      {"github_token", "ghs_" + std::string(36, '7') + ".", 1},
      {"github_token", pat, 1},
      {"openai_key", "OPENAI_API_KEY=" + openai_legacy, 1},
      {"openai_key", "sk-" + std::string(48, 'k'), 1},
      {"openai_key", "Bearer " + openai_project, 1},
      {"anthropic_key", "x-api-key: " + anthropic, 1},
      {"slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", 1},
      {"slack_token", "xoxp-1234-5678-9012-abcdef0123456789", 1},
      {"private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----",
       1},
      {"private_key", "-----BEGIN PRIVATE KEY-----", 1},
      {"private_key", "-----BEGIN OPENSSH PRIVATE KEY-----", 1},
      {"private_key", "-----BEGIN PGP PRIVATE KEY BLOCK-----", 1},
      {"private_key", "-----BEGIN ENCRYPTED PRIVATE KEY-----", 1},
      {"jwt", jwt, 1},
      {"jwt", "Authorization: Bearer " + jwt + ".", 1},
      {"jwt",  // {"typ":"JWT","alg":"HS256"}
       "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", 1},
      {"jwt",  // {"kid":"abc","alg":"RS256"}
       "eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", 1},
  });
}

TEST_F(DetectorTest, RejectsSecretNearMisses) {
  run_table({
      {"aws_access_key", "AKIAIOSFODNN7EXAMPL", 0},    // 19
      {"aws_access_key", "AKIAIOSFODNN7EXAMPLEX", 0},  // 21
      {"aws_access_key", "AKIAiosfodnn7example", 0},   // lower case
      {"aws_access_key", "XAKIAIOSFODNN7EXAMPLE", 0},  // glued
      {"github_token", "ghp_" + std::string(35, 'a'), 0},
      {"github_token", "ghp_" + std::string(37, 'a'), 0},
      {"github_token", "ghx_" + std::string(36, 'a'), 0},
      {"github_token", "github_pat_" + std::string(22, 'A') + "_" + std::string(58, 'b'), 0},
      {"openai_key", "sk-abc", 0},
      {"openai_key", "sk-" + std::string(47, 'k'), 0},            // legacy length is 48
      {"openai_key", "sk-" + std::string(49, 'k'), 0},            //
      {"openai_key", "sk-proj-" + std::string(20, 'x'), 0},       // too short
      {"openai_key", "sk-ant-api03-" + std::string(93, 'q'), 0},  // Anthropic's
      {"openai_key", "risk-" + std::string(48, 'k'), 0},          // `sk-` inside a word
      {"anthropic_key", "sk-ant-" + std::string(10, 'q'), 0},
      {"anthropic_key", "sk-ant-api03-" + std::string(20, 'q'), 0},
      {"slack_token", "xoxz-123456789012-1234567890123-AbCdEfGh", 0},  // unknown kind
      {"slack_token", "xoxb-abcdefghijkl-1234567890123-AbCdEfGh", 0},  // first part not digits
      {"slack_token", "xoxb-12345", 0},                                // too short
      {"private_key", "-----BEGIN PUBLIC KEY-----", 0},
      {"private_key", "-----BEGIN CERTIFICATE-----", 0},
      {"jwt",  // {"foo":"bar"} is not a JOSE header
       "eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ", 0},
      {"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0", 0},       // two segments
      {"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", 0},  // short signature
      {"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ.eHh4", 0},
  });
}

TEST_F(DetectorTest, FindsServiceTokens) {
  const std::string google = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY";
  const std::string stripe = "sk_live_51H8xYzAbCdEfGhIjKlMnOpQrStUvWxYz0123456789";
  const std::string gitlab = "glpat-xYz12AbC-dEf_34GhIjK";
  const std::string routable = "glpat-" + std::string(27, 'R') + "_payload.01" + "a1b2c3d";
  const std::string hf = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567";
  const std::string openrouter = "sk-or-v1-" + std::string(32, 'a') + std::string(32, '0');
  run_table({
      {"google_api_key", google, 1},
      {"google_api_key", "GEMINI_API_KEY=" + google + "\n", 1},
      {"google_api_key", "\"key\": \"" + google + "\"", 1},
      {"google_api_key", "https://maps.googleapis.com/maps/api/js?key=" + google + "&v=3", 1},
      {"stripe_key", stripe, 1},
      {"stripe_key", "STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc", 1},
      {"stripe_key", "rk_live_" + std::string(99, 'r') + ".", 1},
      {"gitlab_token", "PRIVATE-TOKEN: " + gitlab, 1},
      {"gitlab_token", routable, 1},
      {"gitlab_token", "token " + routable + ".", 1},
      {"huggingface_token", "HF_TOKEN=" + hf, 1},
      {"openrouter_key", openrouter, 1},
  });
}

TEST_F(DetectorTest, RejectsServiceTokenNearMisses) {
  run_table({
      {"google_api_key", "AIza" + std::string(34, 'a'), 0},         // short
      {"google_api_key", "AIza" + std::string(36, 'a'), 0},         // long
      {"google_api_key", "xAIza" + std::string(35, 'a'), 0},        // inside a word
      {"google_api_key", "aiza" + std::string(35, 'a'), 0},         // case
      {"stripe_key", "pk_live_" + std::string(24, 'p'), 0},         // publishable: public
      {"stripe_key", "sk_live_abc", 0},                             // short
      {"stripe_key", "ask_live_" + std::string(24, 'k'), 0},        // inside a word
      {"stripe_key", "sk_live_" + std::string(12, 'k') + "_x", 0},  // `_` in the body
      {"stripe_key", "sk_prod_" + std::string(24, 'k'), 0},         // no such mode
      {"gitlab_token", "glpat-" + std::string(19, 'g'), 0},         // short
      {"gitlab_token", "myglpat-" + std::string(20, 'g'), 0},       // inside a word
      {"huggingface_token", "hf_" + std::string(33, 'h'), 0},       // short
      {"huggingface_token", "hf_" + std::string(35, 'h'), 0},       // long
      {"huggingface_token", "use_hf_" + std::string(34, 'h'), 0},   // inside an identifier
      {"openrouter_key", "sk-or-v1-" + std::string(64, 'G'), 0},    // not hexadecimal
      {"openrouter_key", "sk-or-v1-" + std::string(63, 'a'), 0},    //
  });
}

TEST_F(DetectorTest, FindsDeepSeekKeys) {
  const std::string key = "sk-" + std::string(16, 'a') + "0123456789abcdef";
  run_table({
      {"deepseek_key", key, 1},
      {"deepseek_key", "DEEPSEEK_API_KEY=" + key + "\n", 1},
      {"deepseek_key", "\"api_key\": \"" + key + "\"", 1},
      {"deepseek_key", "sk-" + std::string(31, 'a'), 0},                       // short
      {"deepseek_key", "sk-" + std::string(33, 'a'), 0},                       // long
      {"deepseek_key", "sk-" + std::string(31, 'a') + "G", 0},                 // not hexadecimal
      {"deepseek_key", "sk-" + std::string(16, 'A') + "0123456789ABCDEF", 0},  // upper case
      {"deepseek_key", "risk-" + std::string(32, 'a'), 0},                     // inside a word
      {"openai_key", key, 0},
  });
}

// npm, Groq, xAI and Perplexity tokens are found from the runs of digits their bodies hold, not by
// Hyperscan (detector_rules.h): a token without any digit is the one miss, and says so.
TEST_F(DetectorTest, FindsServiceTokensFromTheirDigits) {
  const std::string npm = "npm_" + std::string("a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8");
  const std::string groq = "gsk_" + std::string(26, 'g') + "0123456789abcdefABCDEFxyzw";
  const std::string xai = "xai-" + std::string(40, 'x') + std::string(40, '7');
  const std::string pplx = "pplx-" + std::string(47, 'p') + "9";
  ASSERT_EQ(npm.size(), 40u);
  ASSERT_EQ(groq.size(), 56u);
  run_table({
      {"npm_token", npm, 1},
      {"npm_token", "//registry.npmjs.org/:_authToken=" + npm + "\n", 1},
      {"npm_token", "NPM_TOKEN=" + npm, 1},
      {"npm_token", npm + "-suffix", 1},  // a dash ends an npm token
      {"groq_key", "GROQ_API_KEY=\"" + groq + "\"", 1},
      {"xai_key", "Authorization: Bearer " + xai, 1},
      {"perplexity_key", "key: " + pplx + ".", 1},
      {"npm_token", npm + " and " + npm + "\n" + npm, 3},     // each mention counts
      {"npm_token", "npm_" + std::string(36, 'a'), 0},        // no digit: the documented miss
      {"npm_token", "npm_" + std::string(35, '1'), 0},        // short
      {"npm_token", "npm_" + std::string(37, '1'), 0},        // long
      {"npm_token", "my" + npm, 0},                           // inside a word
      {"npm_token", "x-" + npm, 0},                           // inside a token run
      {"npm_token", "npm_" + std::string(35, '1') + "_", 0},  // `_` in the body
      {"groq_key", "gsk_" + std::string(51, '5'), 0},
      {"xai_key", "xai-" + std::string(79, '5'), 0},
      {"xai_key", xai + "-x", 0},  // the dash continues an xAI key
      {"perplexity_key", "pplx-" + std::string(49, '5'), 0},
      {"perplexity_key", "PPLX-" + std::string(48, '5'), 0},  // case
  });
}

TEST_F(DetectorTest, TokenRunsAreWalkedOnceWhateverTheirDigits) {
  // One long run of token characters dense in digits, and numbers standing alone: each run is
  // walked once, and nothing is found in either.
  std::string run = "npm_";
  while (run.size() < (1u << 20)) {
    run += "a1";
  }
  std::string numbers;
  while (numbers.size() < (1u << 20)) {
    numbers += "12 ";
  }
  for (const std::string& text : {run, numbers, "gsk_" + std::string(1 << 20, '9')}) {
    EXPECT_EQ(detector_->scan(std::vector<std::string_view>{text}).level, -1);
  }
}

TEST_F(DetectorTest, FindsPasswordsInUrls) {
  run_table({
      {"url_credentials", "DATABASE_URL=postgres://admin:Sup3rS3cret@db.prod.internal:5432/app", 1},
      {"url_credentials", "mongodb+srv://svc:p4ssw0rdXYZ@cluster0.abcde.mongodb.net/prod", 1},
      {"url_credentials", "REDIS_URL=redis://:hunter2secret@cache:6379/0", 1},  // no user
      {"url_credentials", "jdbc:mysql://root:t0psecret@10.0.0.5:3306/shop", 1},
      {"url_credentials", "git clone https://deploy:ghx8Y2kLm@git.corp.lan/repo.git", 1},
      {"url_credentials", "amqp://guest:Gu3st!pw@[fd00::1]:5672/", 1},
      {"url_credentials", "postgres://app:p@ss:w0rd@db:5432/x", 1},  // a raw `@` and `:`
      {"url_credentials", "\"dsn\": \"postgresql://u:%40bc%2Fd@db.local/app\"", 1},
      {"url_credentials", "ftp://anonymous@ftp.site.org/pub", 0},       // a user alone
      {"url_credentials", "https://user:@host.org/", 0},                // an empty password
      {"url_credentials", "postgres://user:password@localhost/db", 0},  // placeholders
      {"url_credentials", "postgres://user:PASSWORD@localhost/db", 0},
      {"url_credentials", "mysql://root:****@db/x", 0},
      {"url_credentials", "redis://:${REDIS_PASSWORD}@cache:6379", 0},
      {"url_credentials", "postgres://$USER:$PGPASS@db/x", 0},
      {"url_credentials", "amqp://u:<your password>@mq/", 0},
      {"url_credentials", "postgres://u:{{ db_pass }}@db/x", 0},
      {"url_credentials", "f\"postgres://{user}:{pw}@{host}/db\"", 0},
      {"url_credentials", "\"postgres://%s:%s@%s/db\"", 0},
      {"url_credentials", "user:Sup3rS3cret@db.prod.internal", 0},  // no scheme
      {"url_credentials", "see mailto:jane:x@corp.com", 0},         // not `scheme://`
      {"url_credentials", "postgres://admin:Sup3rS3cret@/tmp", 0},  // no host
  });
}

TEST_F(DetectorTest, AUrlsUserinfoIsNotAnEmailAddress) {
  run_table({
      {"email", "postgres://admin:Sup3rS3cret@db.prod.internal:5432/app", 0},
      {"email", "https://jane.doe@bitbucket.org/team/repo.git", 0},
      {"email", "mailto:jane.doe@corp.com", 1},
      {"email", "write to jane.doe@corp.com or see https://corp.com", 1},
  });
}

TEST_F(DetectorTest, CleanProseFindsNothing) {
  const std::string prose =
      "Please summarise the attached quarterly report. Revenue grew 12% to $4.5M in Q3 2024, "
      "versus 3.9M a year earlier; see section 2.1.3 and pages 10-12. The meeting is on "
      "2024-11-05 at 10:30 (room 4B). Use std::vector<int> and call foo::bar() twice. Ratio "
      "3:2, score 98.6, build 1.22.0, ticket #48213, ISBN 978-3-16-148410-0. Thanks!";
  const Detection found = detector_->scan(std::vector<std::string_view>{prose});
  EXPECT_EQ(found.level, -1) << ::testing::PrintToString(found_names(*detector_, found));
  EXPECT_TRUE(found.entities.empty());
}

// -----------------------------------------------------------------------------------------------
// Text as people paste it: each case below was missed before texts were normalised and numbers
// could be glued to words or separated by dots and slashes.

TEST_F(DetectorTest, FindsNumbersGroupedWithNoBreakOrThinSpaces) {
  for (const char* space : {"\u00A0", "\u2009", "\u202F", "\u2007", "\u3000", "\u2002"}) {
    const std::string sp = space;
    EXPECT_EQ(count_of(*detector_, "credit_card", "4111" + sp + "1111" + sp + "1111" + sp + "1111"),
              1u)
        << space;
    EXPECT_EQ(count_of(*detector_, "us_ssn", "078" + sp + "05" + sp + "1120"), 1u) << space;
    EXPECT_EQ(count_of(*detector_, "iban",
                       "DE89" + sp + "3704" + sp + "0044" + sp + "0532" + sp + "0130" + sp + "00"),
              1u)
        << space;
    EXPECT_EQ(count_of(*detector_, "phone", "+44" + sp + "20" + sp + "7946" + sp + "0958"), 1u)
        << space;
  }
}

TEST_F(DetectorTest, FindsNumbersWithEveryUnicodeHyphen) {
  for (const char* dash : {"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212",
                           "\uFE58", "\uFE63", "\uFF0D"}) {
    const std::string d = dash;
    EXPECT_EQ(count_of(*detector_, "credit_card", "4111" + d + "1111" + d + "1111" + d + "1111"),
              1u)
        << dash;
    EXPECT_EQ(count_of(*detector_, "us_ssn", "ssn 078" + d + "05" + d + "1120."), 1u) << dash;
    EXPECT_EQ(count_of(*detector_, "phone", "call 415" + d + "555" + d + "2671"), 1u) << dash;
  }
}

TEST_F(DetectorTest, FindsFullWidthDigitsAndAtSign) {
  run_table({
      {"credit_card",
       "\uFF14\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11\uFF11"
       "\uFF11\uFF11\uFF11",
       1},
      {"credit_card",
       "\uFF14\uFF11\uFF11\uFF11\u3000\uFF11\uFF11\uFF11\uFF11\u3000\uFF11\uFF11\uFF11"
       "\uFF11\u3000\uFF11\uFF11\uFF11\uFF11",
       1},
      {"us_ssn", "\uFF10\uFF17\uFF18\uFF0D\uFF10\uFF15\uFF0D\uFF11\uFF11\uFF12\uFF10", 1},
      {"email", "alice\uFF20example.com", 1},
      {"email",
       "\uFF41\uFF4C\uFF49\uFF43\uFF45\uFF20\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0E"
       "\uFF43\uFF4F\uFF4D",
       1},
      {"email", "bob\uFE6Bmail.example.org", 1},
      {"iban",
       "\uFF24\uFF25\uFF18\uFF19\uFF13\uFF17\uFF10\uFF14\uFF10\uFF10\uFF14\uFF14\uFF10\uFF15"
       "\uFF13\uFF12\uFF10\uFF11\uFF13\uFF10\uFF10\uFF10",
       1},
      {"credit_card", "\u0664\u0661\u0661\u0661 1111 1111 1111", 1},  // Arabic-Indic digits
  });
}

TEST_F(DetectorTest, FindsValuesWithZeroWidthCharactersInside) {
  for (const char* zw : {"\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD", "\uFE0F"}) {
    const std::string z = zw;
    EXPECT_EQ(count_of(*detector_, "credit_card",
                       "41" + z + "11" + z + "1111" + z + "1111" + z + "11" + z + "11"),
              1u)
        << zw;
    EXPECT_EQ(count_of(*detector_, "credit_card", "4111 " + z + "1111 1111 1111"), 1u) << zw;
    EXPECT_EQ(count_of(*detector_, "email", "ali" + z + "ce@exam" + z + "ple.com"), 1u) << zw;
    EXPECT_EQ(count_of(*detector_, "email", "alice" + z + "@" + z + "example.com"), 1u) << zw;
    EXPECT_EQ(count_of(*detector_, "us_ssn", "078-" + z + "05-11" + z + "20"), 1u) << zw;
  }
}

TEST_F(DetectorTest, FindsNumbersGluedToWords) {
  run_table({
      {"credit_card", "card4111111111111111", 1},
      {"credit_card", "4111111111111111exp", 1},
      {"credit_card", "cc4111-1111-1111-1111x", 1},
      {"credit_card", "Karte4111 1111 1111 1111bitte", 1},
      {"credit_card", "card_4111111111111111", 1},
      {"us_ssn", "ssn078-05-1120x", 1},
      {"us_ssn", "SSN078 05 1120", 1},
      {"us_ssn", "ssn078051120", 1},
      {"iban", "ibanDE89370400440532013000", 1},
      {"iban", "IBANDE89370400440532013000", 1},
      {"iban", "DE89370400440532013000thanks", 1},
      {"phone", "tel+14155552671", 1},
      {"credit_card", "VISA4111111111111111", 1},
      {"credit_card", "\u043A\u0430\u0440\u0442\u04304111111111111111", 1},  // Cyrillic word
      {"credit_card", "\u5361\u53F74111111111111111", 1},                    // CJK word
      // Glued to digits, or inside a token that mixes letters and digits: not a value.
      {"credit_card", "94111111111111111", 0},
      {"credit_card", "ab3c4111111111111111", 0},
      {"credit_card", "4111111111111111de2", 0},
      {"us_ssn", "x9078-05-1120", 0},
      {"iban", "XDE89370400440532013000", 0},
      {"iban", "DE8937040044053201300012", 0},
      {"credit_card", "JD4111111111111111", 0},        // a tracking-number prefix
      {"credit_card", "7775 4111 1111 1111 1111", 0},  // inside a run of 4-digit groups
      {"credit_card", "4111 1111 1111 1111 7775", 0},  //
      {"credit_card", "badge 7775-4111 1111 1111 1111", 0},
      {"phone", "fcca0635-5203-4898-af8d", 0},  // a UUID fragment
  });
}

TEST_F(DetectorTest, FindsNumbersWithDotsAndSlashesAsSeparators) {
  run_table({
      {"credit_card", "4111.1111.1111.1111", 1},
      {"credit_card", "4111/1111/1111/1111", 1},
      {"credit_card", "3782.822463.10005", 1},
      {"us_ssn", "078.05.1120", 1},
      {"us_ssn", "078/05/1120", 1},
      {"iban", "DE89.3704.0044.0532.0130.00", 1},
      {"iban", "GB29-NWBK-6016-1331-9268-19", 1},
      {"phone", "030/12345678", 1},
      // Mixed separators and dates, versions and decimals stay clean.
      {"credit_card", "4111.1111-1111/1111", 0},
      {"us_ssn", "078.05-1120", 0},
      {"credit_card", "0.4111.1111.1111.1111", 0},
  });
}

TEST_F(DetectorTest, FindsNumbersAroundInvalidUtf8) {
  run_table({
      {"credit_card",
       "card \xff"
       "4111111111111111\xfe end",
       1},
      {"credit_card", "\xc3(4111 1111 1111 1111)\xe2\x82", 1},
      {"credit_card",
       "4111\xff"
       "1111\xff"
       "1111\xff"
       "1111",
       1},  // invalid bytes as separators
      {"email",
       "\xf0\x9f\x98"
       "alice@example.com\xc0",
       1},
      {"us_ssn",
       "\xed\xa0\x80"
       "078-05-1120\xff",
       1},
  });
  // Invalid bytes in another text of the same request do not hide a value elsewhere.
  EXPECT_EQ(count_in_texts(*detector_, "credit_card", {"\xff\xfe\xfd", "4111 1111 1111 1111"}), 1u);
}

TEST_F(DetectorTest, FindsNumberSplitAcrossJoinedMessageParts) {
  // The request's texts as the model reads them: parts joined without a separator, messages by
  // one space.
  EXPECT_EQ(count_of(*detector_, "credit_card", "my card is 4111 1111 1111 1111 thanks"), 1u);
  EXPECT_EQ(count_of(*detector_, "credit_card", "my card is 4111 11111111 1111 thanks"), 1u);
  EXPECT_EQ(count_of(*detector_, "credit_card", "card 4111\u00A01111 1111\u20091111"), 1u);
}

TEST_F(DetectorTest, PastedLookalikesOfCleanValuesStayClean) {
  const std::vector<std::string> clean = {
      "release 2024\u201103\u201115, build 10.0.19045.2965",
      "version 1.2.3.4 and v1.2.3.4",
      "\uFF12\uFF10\uFF12\uFF14\uFF0D\uFF10\uFF13\uFF0D\uFF11\uFF15 at "
      "\uFF11\uFF10\uFF1A\uFF13\uFF10",
      "15/03/2024 16/03/2024 17/03/2024",
      "30/01/2024 31/01/2024",
      "price\u00A0$4\u202F500.00, total 1\u00A0299,00\u00A0\u20AC",
      "id 550e8400-e29b-41d4-a716-446655440000",
      "commit 3a4111111111111111111111c8d9e0f1a2b3c4d5",
      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "order\u00A0#48213\u2011A, tracking 1Z999AA10123456784",
      "\u0417\u0430\u043A\u0430\u0437 \u2116 48213 \u043E\u0442 15.03.2024",
      "\u4EF7\u683C\uFF1A\uFF11\uFF12\uFF13\uFF14\uFF15\uFF16\u5143",
      "1234567812345678 4111111111111112",
      "ts=1710498645123 seq=4111111",
  };
  for (const std::string& text : clean) {
    const Detection found = detector_->scan(std::vector<std::string_view>{text});
    EXPECT_EQ(found.level, -1) << text << ": "
                               << ::testing::PrintToString(found_names(*detector_, found));
  }
}

// -----------------------------------------------------------------------------------------------
// Counting, texts, levels and order.

TEST_F(DetectorTest, CountsEachOccurrenceOnce) {
  // The same value twice counts twice; one value seen by several expressions counts once.
  EXPECT_EQ(count_of(*detector_, "credit_card", "4111111111111111 and 4111111111111111"), 2u);
  EXPECT_EQ(count_of(*detector_, "credit_card", "4111 1111 1111 1111\n4111-1111-1111-1111"), 2u);
  EXPECT_EQ(count_of(*detector_, "phone", "+1 415-555-2671"), 1u);       // intl and national
  EXPECT_EQ(count_of(*detector_, "ip_address", "::ffff:10.0.0.1"), 1u);  // IPv6 and IPv4 tail
  EXPECT_EQ(count_of(*detector_, "credit_card", "4111 1111 1111 1111 12 4111 1111"), 1u);
  EXPECT_EQ(count_of(*detector_, "email", "a@example.com a@example.com a@example.com"), 3u);
}

TEST_F(DetectorTest, TextsAreJoinedByLineBreaksThatEndValues) {
  // A value split across two texts is two fragments, not a value.
  EXPECT_EQ(count_in_texts(*detector_, "credit_card", {"card 4111 1111", "1111 1111"}), 0u);
  EXPECT_EQ(count_in_texts(*detector_, "credit_card", {"41111111", "11111111"}), 0u);
  EXPECT_EQ(count_in_texts(*detector_, "email", {"alice@", "example.com"}), 0u);
  // A value wholly inside one text among several is found, whatever its position.
  EXPECT_EQ(
      count_in_texts(*detector_, "credit_card", {"hello", "my card is 4111 1111 1111 1111", "bye"}),
      1u);
  EXPECT_EQ(count_in_texts(*detector_, "credit_card", {"4111111111111111", "x"}), 1u);
  EXPECT_EQ(count_in_texts(*detector_, "credit_card", {"x", "4111111111111111"}), 1u);
  EXPECT_EQ(count_in_texts(*detector_, "email", {"a@example.com", "b@example.com"}), 2u);
  EXPECT_EQ(count_in_texts(*detector_, "us_ssn", {"", "123-45-6789", ""}), 1u);
}

TEST_F(DetectorTest, ReportsHighestLevelAndOrdersEntities) {
  const Detection found = detector_->scan(std::vector<std::string_view>{
      "ip 10.0.0.1, mail bob@example.com, ssn 123-45-6789, card 4111111111111111, ssn "
      "321-54-9876, +44 20 7946 0958"});
  EXPECT_EQ(found.level, kRestricted);
  EXPECT_EQ(found_names(*detector_, found),
            (std::vector<std::string>{"credit_card", "us_ssn", "email", "phone", "ip_address"}));
  ASSERT_EQ(found.entities.size(), 5u);
  EXPECT_EQ(found.entities[1].count, 2u);  // two SSNs
}

TEST_F(DetectorTest, EmptyInputFindsNothing) {
  EXPECT_EQ(detector_->scan({}).level, -1);
  EXPECT_EQ(detector_->scan(std::vector<std::string_view>{""}).level, -1);
  EXPECT_EQ(detector_->scan(std::vector<std::string_view>{"", ""}).level, -1);
}

TEST(DetectorNamesTest, ListsBuiltinsThenCustomWithLevels) {
  auto s = default_settings();
  s.custom.push_back(config::CustomDetector{"codename", "ATLAS", {}, kConfidential});
  const auto d = compile_or_die(s);
  const auto& builtins = config::builtin_entities();
  ASSERT_EQ(d->entity_names().size(), builtins.size() + 1);
  EXPECT_TRUE(std::equal(builtins.begin(), builtins.end(), d->entity_names().begin()));
  EXPECT_EQ(d->entity_names().back(), "codename");
  EXPECT_EQ(d->level_of(0), kRestricted);  // credit_card
  EXPECT_EQ(d->level_of(builtins.size()), kConfidential);
}

// -----------------------------------------------------------------------------------------------
// Configuration: disabled entities and custom detectors.

TEST(DetectorConfigTest, DisabledEntitiesAreNotDetected) {
  auto s = default_settings();
  for (auto& e : s.entities) {
    if (e.entity == "email" || e.entity == "credit_card") {
      e.level = -1;
    }
  }
  const auto d = compile_or_die(s);
  const Detection found =
      d->scan(std::vector<std::string_view>{"bob@example.com 4111111111111111 10.0.0.1"});
  EXPECT_EQ(found_names(*d, found), std::vector<std::string>{"ip_address"});
  EXPECT_EQ(found.level, kInternal);
  EXPECT_EQ(d->level_of(0), -1);
}

TEST(DetectorConfigTest, NothingEnabledFindsNothing) {
  config::SensitivitySettings s;  // no entity listed: all off
  const auto d = compile_or_die(s);
  EXPECT_EQ(d->scan(std::vector<std::string_view>{"bob@example.com 4111111111111111"}).level, -1);
}

TEST(DetectorConfigTest, CustomPatternsAndKeywordsUseTheirLevels) {
  auto s = default_settings();
  s.custom.push_back(
      config::CustomDetector{"project_codename", "\\bPROJECT-(ATLAS|ORION)\\b", {}, kConfidential});
  s.custom.push_back(
      config::CustomDetector{"partner", "", {"Blue Falcon", "acme", "c++"}, kInternal});
  s.custom.push_back(config::CustomDetector{"ticket", "TCK-[0-9]+", {}, kPublic});
  const auto d = compile_or_die(s);
  const std::vector<Case> cases = {
      {"project_codename", "about PROJECT-ATLAS and PROJECT-ORION", 2},
      {"project_codename", "project-atlas", 0},  // the pattern is case-sensitive
      {"project_codename", "PROJECT-ATLASX", 0},
      {"partner", "ACME corp", 1},
      {"partner", "acme and Acme", 2},
      {"partner", "acmecorp", 0},  // whole words only
      {"partner", "subacme", 0},
      {"partner", "The blue falcon launch", 1},
      {"partner", "blue  falcon", 0},  // literal: two spaces is another phrase
      {"partner", "written in C++, again c++.", 2},
      {"partner", "a.c.m.e", 0},       // literal, not a regex
      {"ticket", "see TCK-12345", 1},  // one value although it ends at several offsets
      {"ticket", "TCK-1 TCK-2", 2},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(count_of(*d, c.entity, c.text), c.expected) << c.entity << " in \"" << c.text << "\"";
  }
  const Detection found = d->scan(std::vector<std::string_view>{"PROJECT-ORION with acme"});
  EXPECT_EQ(found.level, kConfidential);
  EXPECT_EQ(found_names(*d, found), (std::vector<std::string>{"project_codename", "partner"}));
}

TEST(DetectorConfigTest, CustomAnchorsMatchAtEveryText) {
  auto s = default_settings();
  s.custom.push_back(config::CustomDetector{"header", "^CONFIDENTIAL$", {}, kConfidential});
  const auto d = compile_or_die(s);
  EXPECT_EQ(count_in_texts(*d, "header", {"hello", "CONFIDENTIAL", "bye"}), 1u);
  EXPECT_EQ(count_in_texts(*d, "header", {"not CONFIDENTIAL"}), 0u);
}

TEST(DetectorConfigTest, PatternWithoutStartTrackingCountsOncePerScan) {
  // Hyperscan cannot track where this pattern's matches start; it still detects, at most once.
  auto s = default_settings();
  s.custom.push_back(config::CustomDetector{"long_gap", "x[^y]{100,5000}z", {}, kConfidential});
  const auto d = compile_or_die(s);
  const std::string one = "x" + std::string(150, '-') + "z";
  EXPECT_EQ(count_of(*d, "long_gap", one), 1u);
  EXPECT_EQ(count_of(*d, "long_gap", one + " " + one), 1u);
  EXPECT_EQ(count_of(*d, "long_gap", "x" + std::string(50, '-') + "z"), 0u);
}

TEST(DetectorConfigTest, BadCustomPatternNamesTheDetector) {
  auto s = default_settings();
  s.custom.push_back(config::CustomDetector{"good", "fine[0-9]", {}, kInternal});
  s.custom.push_back(config::CustomDetector{"broken", "(unclosed", {}, kInternal});
  std::string error;
  EXPECT_EQ(Detector::compile(s, error), nullptr);
  EXPECT_TRUE(error.starts_with("sensitivity.custom[broken]: ")) << error;
  EXPECT_GT(error.size(), std::string_view("sensitivity.custom[broken]: ").size());
}

TEST(DetectorConfigTest, CustomPatternMatchingEmptyIsRejected) {
  auto s = default_settings();
  s.custom.push_back(config::CustomDetector{"empty", "a*", {}, kInternal});
  std::string error;
  EXPECT_EQ(Detector::compile(s, error), nullptr);
  EXPECT_TRUE(error.starts_with("sensitivity.custom[empty]: ")) << error;
}

// -----------------------------------------------------------------------------------------------
// Hostile input: every scan completes and finds nothing that is not there.

TEST_F(DetectorTest, HostileInputsFindNothing) {
  constexpr std::size_t kSize = 1 << 20;
  auto repeat = [](std::string_view unit) {
    std::string out;
    out.reserve(kSize + unit.size());
    while (out.size() < kSize) {
      out += unit;
    }
    return out;
  };
  const std::vector<std::pair<std::string_view, std::string>> inputs = {
      {"digits", std::string(kSize, '7')},
      {"spaced digits", repeat("1 ")},
      {"dashed pairs", repeat("12-")},
      {"dotted digits", repeat("1.")},
      {"dotted quads", repeat("1.1.1.1.")},
      {"tiny emails", repeat("a@a.")},
      {"long domain", "aa@" + repeat("aa.")},
      {"at signs", repeat("@ab.cd")},
      {"at signs alone", repeat("@")},
      {"userinfo-like", repeat("a:b@")},
      {"urls with at signs", repeat("//a:b@@")},
      {"unclosed ip literals", repeat("s://u:pw@[")},
      {"long userinfo",
       repeat("s://" + std::string(300, 'p') + ":" + std::string(300, 'w') + "@h ")},
      {"colons", repeat(":")},
      {"hex colons", repeat("ab:")},
      {"base64", "eyJ" + std::string(kSize, 'A')},
      {"jwt-like segments", repeat("eyJhbGciOiJIUzI1NiJ9.")},
      {"sk prefixes", repeat("sk-")},
      {"slack prefixes", repeat("xoxb-1-")},
      {"plus ones", repeat("+1 ")},
      {"open parens", repeat("(415")},
      {"letters and digits", repeat("AB12")},
      {"iban-like groups", repeat("AB12 ")},
      {"country groups", repeat("DE12 ")},
      {"dotted pairs", repeat("12.")},
      {"spaced triples", repeat("123 ")},
      {"ipv6 groups", repeat("1:")},
      {"double colons", repeat("ab::")},
      {"begin markers", repeat("-----BEGIN ")},
      {"slashed digits", repeat("1/")},
      {"dotted groups", repeat("4111.")},
      {"glued runs", repeat("a4111111111111111")},
      {"no-break spaces", repeat("\u00A0")},
      {"full-width digits and zero widths", repeat("\uFF11\u200B")},
      {"invalid bytes", repeat("\xff")},
      {"truncated sequences", repeat("1\xe2\x82")},
      {"combining marks", "4" + repeat("\u0336")},
  };
  for (const auto& [name, text] : inputs) {
    const Detection found = detector_->scan(std::vector<std::string_view>{text});
    EXPECT_EQ(found.level, -1) << name << ": "
                               << ::testing::PrintToString(found_names(*detector_, found));
  }
}

TEST_F(DetectorTest, TextThatGrowsPastTheNormalisationCapFailsClosed) {
  // U+FDFA folds to 18 code points (33 bytes from 3): a text of nothing else would grow elevenfold.
  std::string text;
  for (int i = 0; i < 100000; ++i) {
    text += "\uFDFA";
  }
  EXPECT_EQ(detector_->scan(std::vector<std::string_view>{text}).level, kRestricted);
  // A few of them in ordinary text are read normally.
  EXPECT_EQ(detector_->scan(std::vector<std::string_view>{"\uFDFA \uFDFA hello"}).level, -1);
}

TEST_F(DetectorTest, FindsValueAfterHostilePrefix) {
  std::string text(1 << 20, '9');
  text += " card 4111111111111111 end";
  EXPECT_EQ(count_of(*detector_, "credit_card", text), 1u);
  std::string dots;
  for (int i = 0; i < 100000; ++i) {
    dots += "1.";
  }
  dots += " 10.0.0.1";
  EXPECT_EQ(count_of(*detector_, "ip_address", dots), 1u);
}

// -----------------------------------------------------------------------------------------------
// Threads and reloads.

TEST_F(DetectorTest, ScansFromManyThreadsAtOnce) {
  const std::vector<std::string_view> texts = {"card 4111 1111 1111 1111, mail a@example.com",
                                               "ssn 123-45-6789 and again 123-45-6789"};
  const Detection expected = detector_->scan(texts);
  ASSERT_EQ(expected.level, kRestricted);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const Detection got = detector_->scan(texts);
        bool same = got.level == expected.level && got.entities.size() == expected.entities.size();
        for (std::size_t k = 0; same && k < got.entities.size(); ++k) {
          same = got.entities[k].entity == expected.entities[k].entity &&
                 got.entities[k].count == expected.entities[k].count;
        }
        mismatches[t] += same ? 0 : 1;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(DetectorReloadTest, ThreadSwitchesBetweenDatabases) {
  // A small database, then a larger one (more expressions), then the small one again, on one
  // thread: the thread's scratch must fit each database it scans with.
  config::SensitivitySettings small;
  small.allow_defaults = false;  // as default_settings(): x@example.com stands for a real address
  small.entities.push_back(config::EntityLevel{"email", kConfidential});
  auto large = default_settings();
  for (int i = 0; i < 20; ++i) {
    config::CustomDetector c;
    c.name = std::string("c").append(std::to_string(i));
    c.pattern = std::string("(foo|bar)[a-z]{3,40}baz").append(std::to_string(i));
    c.level = kInternal;
    large.custom.push_back(std::move(c));
  }
  const auto a = compile_or_die(small);
  const std::vector<std::string_view> text = {"x@example.com 4111111111111111 foozzzbaz7"};
  EXPECT_EQ(found_names(*a, a->scan(text)), std::vector<std::string>{"email"});
  std::unique_ptr<Detector> b;
  std::thread([&] { b = compile_or_die(large); }).join();  // compiled on another thread
  EXPECT_EQ(found_names(*b, b->scan(text)),
            (std::vector<std::string>{"credit_card", "email", "c7"}));
  EXPECT_EQ(found_names(*a, a->scan(text)), std::vector<std::string>{"email"});
  b.reset();
  const auto c = compile_or_die(large);
  EXPECT_EQ(c->scan(text).level, kRestricted);
}

// -----------------------------------------------------------------------------------------------
// Validators.

TEST(ValidatorsTest, Checksums) {
  EXPECT_TRUE(validators::luhn("79927398713"));
  EXPECT_FALSE(validators::luhn("79927398710"));
  EXPECT_TRUE(validators::iban("GB82WEST12345698765432"));
  EXPECT_FALSE(validators::iban("GB82WEST12345698765433"));
  EXPECT_FALSE(validators::iban("GB82WEST1234569876543"));
  EXPECT_EQ(validators::iban_length("DE"), 22);
  EXPECT_EQ(validators::iban_length("US"), 0);
  EXPECT_EQ(validators::iban_length("de"), 0);
}

TEST(ValidatorsTest, NumberingRules) {
  EXPECT_TRUE(validators::us_ssn("123456789"));
  EXPECT_FALSE(validators::us_ssn("666123456"));
  EXPECT_TRUE(validators::card_issuer("378282246310005"));
  EXPECT_FALSE(validators::card_issuer("3782822463100051"));  // Amex is 15 digits
  EXPECT_TRUE(validators::ipv4("1.2.3.4"));
  EXPECT_FALSE(validators::ipv4("1.2.3.04"));
  EXPECT_TRUE(validators::ipv6("2001:db8::1"));
  EXPECT_FALSE(validators::ipv6("2001:db8:::1"));
  EXPECT_TRUE(validators::jwt_header("eyJhbGciOiJIUzI1NiJ9"));
  EXPECT_FALSE(validators::jwt_header("eyJmb28iOiJiYXIifQ"));
}

}  // namespace
}  // namespace sb::policies
