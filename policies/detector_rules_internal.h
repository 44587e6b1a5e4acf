#pragma once
// Private to the built-in detection rules (detector_rules*.cc): the byte classes and walks the
// checks share, and the checks themselves, by entity family. The table that pairs them with
// Hyperscan expressions is in detector_rules.cc; the format each accepts is described in
// detector_rules.h.

#include <array>
#include <cstddef>
#include <string_view>

#include "policies/detector_rules.h"

namespace sb::policies::rules {

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
inline bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
inline bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
inline bool is_alpha(char c) {
  return is_upper(c) || is_lower(c);
}
inline bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
inline bool is_word(char c) {
  return is_alnum(c) || c == '_';
}
inline bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
inline bool is_upper_or_digit(char c) {
  return is_upper(c) || is_digit(c);
}
/// Separators inside phone numbers (and what may continue a run of digits).
inline bool is_phone_sep(char c) {
  return c == ' ' || c == '.' || c == '-';
}
/// Separators between the digit groups of a number (cards, SSNs, national phone numbers).
inline bool is_number_sep(char c) {
  return is_phone_sep(c) || c == '/';
}
inline bool is_token(char c) {
  return is_word(c) || c == '-';
}
/// A URI scheme's characters after its first letter (RFC 3986): letters, digits, `+`, `.`, `-`.
inline bool is_scheme_char(char c) {
  return is_alnum(c) || c == '+' || c == '.' || c == '-';
}
/// The ASCII lower case of `c`.
inline char to_lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
inline bool is_base64url_or_dot(char c) {
  return is_token(c) || c == '.';
}

/// The byte at `i`, or '\n' outside the buffer (the start and end of the buffer behave like a line
/// break: no value continues across them).
inline char at(std::string_view buf, std::size_t i) {
  return i < buf.size() ? buf[i] : '\n';
}
/// The byte before position `i` (i - 1), or '\n' at the start.
inline char before(std::string_view buf, std::size_t i, std::size_t back = 1) {
  return i >= back ? buf[i - back] : '\n';
}

/// Drops the context bytes a rule's expression consumed after the value: at most `max` bytes that
/// cannot end a value.
template <class Pred>
std::size_t trim_end(std::string_view buf, std::size_t to, Pred value_char, int max) {
  std::size_t e = to;
  for (int k = 0; k < max && e > 0 && !value_char(buf[e - 1]); ++k) {
    --e;
  }
  return e;
}

/// Start of the run of `in_run` bytes that ends at `e`, or npos when it is longer than `limit`.
template <class Pred>
std::size_t run_start(std::string_view buf, std::size_t e, Pred in_run, std::size_t limit) {
  std::size_t s = e;
  while (s > 0 && in_run(buf[s - 1])) {
    if (e - s == limit) {
      return npos;
    }
    --s;
  }
  return s;
}

/// Whether the number [s, e) stands alone, or is glued only to letters: `card4111...`,
/// `ssn078-05-1120x` are values, but a number continued by more digits is not, and neither is one
/// inside a token that mixes letters and digits around it (`a1b4111...`, a hexadecimal hash): the
/// letters glued to the number must not themselves touch a digit. Looks at most kGlueWalk letters
/// each way.
inline constexpr std::size_t kGlueWalk = 32;
bool glue_ok(std::string_view buf, std::size_t s, std::size_t e);

/// glue_ok for card numbers, which in addition may not follow 1-3 upper-case letters alone: that is
/// how order and tracking identifiers are written (`JD0143...`, `PO4111...`), while a card glued
/// to a word reads `card4111...`, `Karte4111...`, `VISA4111...`.
bool card_glue_ok(std::string_view buf, std::size_t s, std::size_t e);

bool all_digits(std::string_view buf, std::size_t b, std::size_t e);

/// A run of digits [b, e) inside a grouped number.
struct Group {
  std::size_t b = 0;
  std::size_t e = 0;
  std::size_t size() const { return e - b; }
};

/// Collects, walking back from `e`, up to N groups of at most `max_digits` bytes for which
/// `in_group` holds (digits by default), separated by one byte for which `is_sep` holds, the same
/// one throughout. Groups are returned last first. A run longer than `max_digits` ends the walk
/// and is not returned.
template <std::size_t N, class InGroup>
std::size_t collect_groups(std::string_view buf, std::size_t e, bool (*is_sep)(char),
                           std::size_t max_digits, std::array<Group, N>& groups, InGroup in_group) {
  char sep = 0;
  std::size_t n = 0;
  std::size_t pos = e;
  while (n < N) {
    const std::size_t b = run_start(buf, pos, in_group, max_digits);
    if (b == npos || b == pos) {
      break;
    }
    groups[n++] = Group{b, pos};
    const char c = before(buf, b);
    if (sep == 0 && is_sep(c)) {
      sep = c;
    }
    if (c != sep || !in_group(before(buf, b, 2))) {
      break;
    }
    pos = b - 1;
  }
  return n;
}

/// collect_groups() of digit groups.
template <std::size_t N>
std::size_t collect_groups(std::string_view buf, std::size_t e, bool (*is_sep)(char),
                           std::size_t max_digits, std::array<Group, N>& groups) {
  return collect_groups(buf, e, is_sep, max_digits, groups, [](char c) { return is_digit(c); });
}

// -------------------------------------------------------------------------------------------------
// The checks (Extractor), by family: detector_rules_numbers.cc (credit_card, us_ssn, iban),
// detector_rules_contact.cc (email, phone, ip_address), detector_rules_secrets.cc (keys, tokens),
// detector_rules_credential.cc (values by their name).

bool card_contiguous(std::string_view buf, std::size_t to, Span& out);
bool card_grouped(std::string_view buf, std::size_t to, Span& out);
bool ssn_separated(std::string_view buf, std::size_t to, Span& out);
bool ssn_after_keyword(std::string_view buf, std::size_t to, Span& out);
bool iban_contiguous(std::string_view buf, std::size_t to, Span& out);
bool iban_grouped(std::string_view buf, std::size_t to, Span& out);
bool email(std::string_view buf, std::size_t to, Span& out);
bool phone_international(std::string_view buf, std::size_t to, Span& out);
bool phone_north_american(std::string_view buf, std::size_t to, Span& out);
bool phone_national(std::string_view buf, std::size_t to, Span& out);
bool ip_v4(std::string_view buf, std::size_t to, Span& out);
bool ip_v6(std::string_view buf, std::size_t to, Span& out);
/// Every IPv6 address in `buf` that is not only found through its IPv4 tail: the runs of hex
/// digits, colons and dots that contain `::` or eight colon-separated groups, each checked by
/// ip_v6() from its end. A Finder.
void ip_v6_all(std::string_view buf, std::vector<Span>& out);
void ip_v6_all_sse2(std::string_view buf, std::vector<Span>& out);
void ip_v6_all_avx2(std::string_view buf, std::vector<Span>& out);  ///< needs AVX2
/// Whether `run` contains eight groups of hex digits separated by single colons (the first group
/// may be the end of a longer run of hex digits, the last the start of one).
bool has_eight_groups(std::string_view run);
bool ip_v6_ipv4_tail(std::string_view buf, std::size_t to, Span& out);

/// The first digit at or after `i` in p[0, n), or `n`: 64 bytes a step, AVX2 where the CPU has it
/// (cpu::has_avx2), else SSE2. Both ways are here for the tests.
std::size_t next_digit(const char* p, std::size_t i, std::size_t n);
std::size_t next_digit_sse2(const char* p, std::size_t i, std::size_t n);
std::size_t next_digit_avx2(const char* p, std::size_t i, std::size_t n);  ///< needs AVX2

// The anchors of the rules that start from runs of digits (detector_rules_digits.cc).
void digit_run_anchors(std::string_view buf, std::span<const Span> runs,
                       std::vector<std::size_t>& ends);
void iban_anchors(std::string_view buf, std::span<const Span> runs, std::vector<std::size_t>& ends);
void phone_anchors(std::string_view buf, std::span<const Span> runs,
                   std::vector<std::size_t>& ends);
bool aws_access_key(std::string_view buf, std::size_t to, Span& out);
bool github_classic(std::string_view buf, std::size_t to, Span& out);
bool github_fine_grained(std::string_view buf, std::size_t to, Span& out);
bool openai_key(std::string_view buf, std::size_t to, Span& out);
bool anthropic_key(std::string_view buf, std::size_t to, Span& out);
bool slack_token(std::string_view buf, std::size_t to, Span& out);
bool private_key(std::string_view buf, std::size_t to, Span& out);
bool jwt(std::string_view buf, std::size_t to, Span& out);
bool google_api_key(std::string_view buf, std::size_t to, Span& out);
bool stripe_key(std::string_view buf, std::size_t to, Span& out);
bool gitlab_token(std::string_view buf, std::size_t to, Span& out);
bool huggingface_token(std::string_view buf, std::size_t to, Span& out);
bool openrouter_key(std::string_view buf, std::size_t to, Span& out);
bool deepseek_key(std::string_view buf, std::size_t to, Span& out);
bool npm_token(std::string_view buf, std::size_t to, Span& out);
bool groq_key(std::string_view buf, std::size_t to, Span& out);
bool xai_key(std::string_view buf, std::size_t to, Span& out);
bool perplexity_key(std::string_view buf, std::size_t to, Span& out);
/// The ends of the runs of token characters ([A-Za-z0-9_-]) that hold a digit, stand alone and
/// start with the prefix of a service token found this way (npm, Groq, xAI, Perplexity): the
/// anchors of those tokens' checks, derived from the buffer's runs of digits. A token of their
/// bodies' length without a single digit is not found (detector_rules.h).
void token_anchors(std::string_view buf, std::span<const Span> runs,
                   std::vector<std::size_t>& ends);
bool url_credentials(std::string_view buf, std::size_t to, Span& out);
/// The most bytes of a URL's userinfo (`user:password`) the checks walk.
inline constexpr std::size_t kMaxUserinfo = 256;
/// Whether the `@` at `at_sign` closes the userinfo of a URL (`scheme://user[:password]@`: a
/// scheme of 1-32 letters, digits, `+`, `.` and `-` starting with a letter; at most kMaxUserinfo
/// bytes and two raw `@` in the userinfo); then `url` is where its scheme and its userinfo start.
/// Such an `@` is not an email address's.
bool url_userinfo(std::string_view buf, std::size_t at_sign, Span& url);
/// The characters of an email address's domain: letters, digits, `.` and `-`.
bool is_domain_char(char c);
/// A password that only stands for one (not empty): a word documentation writes (`password`,
/// `secret`), one character repeated (`***`, `xxxx`), or a template's slot (`<password>`,
/// `${DB_PASSWORD}`, `$PASS`, `{{ pass }}`, `{password}`, `%s`, `%(password)s`).
bool placeholder_password(std::string_view pw);

// detector_rules_credential.cc
/// Every value written after a name that says it is a credential (`DB_PASSWORD=...`,
/// `"client_secret": "..."`, `Authorization: Bearer ...`, `--password ...`): the `:`, `=` and `--`
/// of each 64-byte block found at once, each checked from the name before the operator or after
/// the `--`. A Finder.
void credentials(std::string_view buf, std::vector<Span>& out);
/// credentials() with AVX2's 32-byte compares (`avx2`: the CPU must have it) or SSE2's 16-byte
/// ones: both ways are here for the tests.
void credentials_with(std::string_view buf, std::vector<Span>& out, bool avx2);
/// The check of one operator (`:` or `=` at `op`), or of the option whose `--` starts at `op` (a
/// `-`), without the search's filters: the tests' plain reference for credentials(). `next`
/// becomes at least the end of the bytes its value's walk read (the search skips the operators
/// and options before it).
bool credential_at_operator(std::string_view buf, std::size_t op, Span& out, std::size_t& next);

}  // namespace sb::policies::rules
