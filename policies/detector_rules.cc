#include "policies/detector_rules.h"

#include <hs/hs.h>

#include "policies/detector_rules_internal.h"

namespace sb::policies::rules {

bool glue_ok(std::string_view buf, std::size_t s, std::size_t e) {
  if (is_digit(before(buf, s)) || is_digit(at(buf, e))) {
    return false;
  }
  std::size_t i = s;
  while (i > 0 && is_alpha(buf[i - 1]) && s - i < kGlueWalk) {
    --i;
  }
  if (i < s && is_digit(before(buf, i))) {
    return false;
  }
  std::size_t j = e;
  while (j < buf.size() && is_alpha(buf[j]) && j - e < kGlueWalk) {
    ++j;
  }
  return !(j > e && is_digit(at(buf, j)));
}

bool card_glue_ok(std::string_view buf, std::size_t s, std::size_t e) {
  if (!glue_ok(buf, s, e)) {
    return false;
  }
  std::size_t i = s;
  while (i > 0 && is_upper(buf[i - 1]) && s - i < 4) {
    --i;
  }
  return i == s || s - i >= 4 || is_alpha(before(buf, i));
}

bool all_digits(std::string_view buf, std::size_t b, std::size_t e) {
  if (e > buf.size() || b > e) {
    return false;
  }
  for (std::size_t i = b; i < e; ++i) {
    if (!is_digit(buf[i])) {
      return false;
    }
  }
  return true;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Shapes of a digit run: which checks can apply, from the last two digit groups.

unsigned digit_run_shape(std::string_view buf, std::size_t to) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  std::size_t b = e;
  while (b > 0 && is_digit(buf[b - 1]) && e - b < 20) {
    --b;
  }
  const std::size_t last = e - b;
  const char sep = before(buf, b);
  std::size_t prev = 0;
  if (is_number_sep(sep)) {
    for (std::size_t i = b - 1; i > 0 && is_digit(buf[i - 1]) && prev < 8; --i) {
      ++prev;
    }
  }
  unsigned shape = 0;
  if (last >= 13) {
    shape |= kShapeLongRun;
  }
  if (prev >= 3) {
    shape |= kShapeGroups;
  }
  if (last == 4 && prev == 2) {
    shape |= kShapeSsn;
  }
  if (last == 4 && prev == 3) {
    shape |= kShapeNorthAmerican;
  }
  if (last >= 2 && prev >= 2) {
    shape |= kShapeNational;
  }
  if (sep == '.' && last <= 3 && prev >= 1 && prev <= 3) {
    shape |= kShapeDottedQuad;
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// The table.

#define SB_END(cls) "(?:[^" cls "]|$)"

// The end of a run of at least 7 digits, spaces, dots, dashes and slashes that starts and ends
// with a digit: where a card number, an SSN, a national phone number, an IPv4 address or the IPv4
// tail of an IPv6 address can end.
constexpr Check kDigitRunChecks[] = {
    {"credit_card", card_contiguous, kShapeLongRun},
    {"credit_card", card_grouped, kShapeGroups},
    {"us_ssn", ssn_separated, kShapeSsn},
    {"phone", phone_north_american, kShapeNorthAmerican},
    {"phone", phone_national, kShapeNational},
    {"ip_address", ip_v4, kShapeDottedQuad},
    {"ip_address", ip_v6_ipv4_tail, kShapeDottedQuad},
};
constexpr Check kSsnKeywordChecks[] = {{"us_ssn", ssn_after_keyword}};
constexpr Check kIbanChecks[] = {{"iban", iban_contiguous}, {"iban", iban_grouped}};
constexpr Check kEmailChecks[] = {{"email", email}, {"url_credentials", url_credentials}};
constexpr Check kInternationalPhoneChecks[] = {{"phone", phone_international}};
constexpr Check kAwsChecks[] = {{"aws_access_key", aws_access_key}};
constexpr Check kGithubClassicChecks[] = {{"github_token", github_classic}};
constexpr Check kGithubFineGrainedChecks[] = {{"github_token", github_fine_grained}};
constexpr Check kOpenaiChecks[] = {
    {"openai_key", openai_key}, {"openrouter_key", openrouter_key}, {"deepseek_key", deepseek_key}};
constexpr Check kAnthropicChecks[] = {{"anthropic_key", anthropic_key}};
constexpr Check kSlackChecks[] = {{"slack_token", slack_token}};
constexpr Check kPrivateKeyChecks[] = {{"private_key", private_key}};
constexpr Check kJwtChecks[] = {{"jwt", jwt}};
constexpr Check kGoogleChecks[] = {{"google_api_key", google_api_key}};
constexpr Check kStripeChecks[] = {{"stripe_key", stripe_key}};
constexpr Check kGitlabChecks[] = {{"gitlab_token", gitlab_token}};
constexpr Check kHuggingfaceChecks[] = {{"huggingface_token", huggingface_token}};
constexpr Check kFromDigitsChecks[] = {{"npm_token", npm_token},
                                       {"groq_key", groq_key},
                                       {"xai_key", xai_key},
                                       {"perplexity_key", perplexity_key}};

constexpr Rule kRules[] = {
    {"[0-9][0-9 ./-]{5,}[0-9]" SB_END("0-9"), 0, kDigitRunChecks, digit_run_shape,
     digit_run_anchors},
    {"(?:\\bssn|\\bss#|\\bsocial security|\\bsoc\\.? ?sec)[^0-9\\n]{0,16}[0-8][0-9]{8}" SB_END(
         "0-9"),
     HS_FLAG_CASELESS, kSsnKeywordChecks},
    {"[A-Z]{2}[0-9]{2}[A-Z0-9 .-]{11,46}" SB_END("A-Z0-9"), 0, kIbanChecks, nullptr, iban_anchors},
    {"@", 0, kEmailChecks},
    {"\\+[1-9][0-9 ().-]{6,22}[0-9]" SB_END("0-9"), 0, kInternationalPhoneChecks, nullptr,
     phone_anchors},
    {"(?:AKIA|ASIA)[A-Z0-9]{16}" SB_END("A-Za-z0-9"), 0, kAwsChecks},
    {"gh[pousr]_[A-Za-z0-9]{36}" SB_END("A-Za-z0-9_"), 0, kGithubClassicChecks},
    {"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}" SB_END("A-Za-z0-9_"), 0,
     kGithubFineGrainedChecks},
    {"sk-[A-Za-z0-9_-]{32,250}" SB_END("A-Za-z0-9_-"), 0, kOpenaiChecks},
    {"sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{32,250}" SB_END("A-Za-z0-9_-"), 0, kAnthropicChecks},
    {"xox[abpors]-[0-9]+-[A-Za-z0-9-]{8,245}" SB_END("A-Za-z0-9-"), 0, kSlackChecks},
    {"-----BEGIN (?:[A-Z0-9]{1,20} ){0,3}PRIVATE KEY(?: BLOCK)?-----", 0, kPrivateKeyChecks},
    {"eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]{16,}"
     "(?:[^A-Za-z0-9_.-]|\\.[^A-Za-z0-9_-]|\\.?$)",
     0, kJwtChecks},
    {"AIza[A-Za-z0-9_-]{35}" SB_END("A-Za-z0-9_-"), 0, kGoogleChecks},
    {"k_(?:live|test)_[A-Za-z0-9]{10,247}" SB_END("A-Za-z0-9_"), 0, kStripeChecks},
    {"glpat-[A-Za-z0-9_-]{20,300}" SB_END("A-Za-z0-9_-"), 0, kGitlabChecks},
    {"hf_[A-Za-z0-9]{34}" SB_END("A-Za-z0-9_"), 0, kHuggingfaceChecks},
    // Service tokens found from the runs of digits their bodies hold (token_anchors): no
    // expression.
    {nullptr, 0, kFromDigitsChecks, nullptr, token_anchors},
};

#undef SB_END

}  // namespace

std::span<const Rule> builtin_rules() {
  return kRules;
}

std::span<const Search> builtin_searches() {
  static constexpr Search kSearches[] = {{"ip_address", ip_v6_all}, {"credential", credentials}};
  return kSearches;
}

void append_escaped(std::string_view literal, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : literal) {
    if (is_alnum(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
}

}  // namespace sb::policies::rules
