#include "policies/detector_rules.h"

#include <hs/hs.h>

#include <array>

#include "policies/validators.h"

namespace sb::policies::rules {
namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_alpha(char c) {
  return is_upper(c) || is_lower(c);
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_upper_or_digit(char c) {
  return is_upper(c) || is_digit(c);
}
/// Separators inside phone numbers (and what may continue a run of digits).
bool is_phone_sep(char c) {
  return c == ' ' || c == '.' || c == '-';
}
/// Separators between the digit groups of a number (cards, SSNs, national phone numbers).
bool is_number_sep(char c) {
  return is_phone_sep(c) || c == '/';
}
bool is_token(char c) {
  return is_word(c) || c == '-';
}
bool is_base64url_or_dot(char c) {
  return is_token(c) || c == '.';
}

/// The byte at `i`, or '\n' outside the buffer (the start and end of the buffer behave like a line
/// break: no value continues across them).
char at(std::string_view buf, std::size_t i) {
  return i < buf.size() ? buf[i] : '\n';
}
/// The byte before position `i` (i - 1), or '\n' at the start.
char before(std::string_view buf, std::size_t i, std::size_t back = 1) {
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
constexpr std::size_t kGlueWalk = 32;
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

/// glue_ok for card numbers, which in addition may not follow 1-3 upper-case letters alone: that is
/// how order and tracking identifiers are written (`JD0143...`, `PO4111...`), while a card glued
/// to a word reads `card4111...`, `Karte4111...`, `VISA4111...`.
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

/// A run of digits [b, e) inside a grouped number.
struct Group {
  std::size_t b = 0;
  std::size_t e = 0;
  std::size_t size() const { return e - b; }
};

/// Collects, walking back from `e`, up to N groups of at most `max_digits` digits separated by one
/// byte for which `is_sep` holds, the same one throughout. Groups are returned last first. A run
/// longer than `max_digits` ends the walk and is not returned.
template <std::size_t N>
std::size_t collect_groups(std::string_view buf, std::size_t e, bool (*is_sep)(char),
                           std::size_t max_digits, std::array<Group, N>& groups) {
  char sep = 0;
  std::size_t n = 0;
  std::size_t pos = e;
  while (n < N) {
    const std::size_t b = run_start(buf, pos, is_digit, max_digits);
    if (b == npos || b == pos) {
      break;
    }
    groups[n++] = Group{b, pos};
    const char c = before(buf, b);
    if (sep == 0 && is_sep(c)) {
      sep = c;
    }
    if (c != sep || !is_digit(before(buf, b, 2))) {
      break;
    }
    pos = b - 1;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// credit_card

/// 13-digit Visa numbers (long out of issue) share their length with EAN-13 barcodes, which are
/// everywhere in product data; a 13-digit number with a valid EAN check digit is taken for a
/// barcode.
bool card_digits_valid(std::string_view digits) {
  return validators::card_issuer(digits) && validators::luhn(digits) && !validators::ean13(digits);
}

bool card_contiguous(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  const std::size_t s = run_start(buf, e, is_digit, 19);
  if (s == npos || e - s < 13 || !card_glue_ok(buf, s, e)) {
    return false;
  }
  // Not the fractional or integral part of a decimal number.
  if ((before(buf, s) == '.' && is_digit(before(buf, s, 2))) ||
      (at(buf, e) == '.' && is_digit(at(buf, e + 1)))) {
    return false;
  }
  if (!card_digits_valid(buf.substr(s, e - s))) {
    return false;
  }
  out = Span{s, e};
  return true;
}

/// Whether exactly 4 digits end at `e` (a digit group, not part of a longer run).
bool four_digits_end_at(std::string_view buf, std::size_t e) {
  return e >= 4 && all_digits(buf, e - 4, e) && !is_alnum(before(buf, e - 4));
}
/// Whether exactly 4 digits start at `b`.
bool four_digits_start_at(std::string_view buf, std::size_t b) {
  return all_digits(buf, b, b + 4) && !is_alnum(at(buf, b + 4));
}

/// Groups separated by one space, dot, dash or slash (the same throughout): a first group of 4
/// digits, 3 to 5 groups, the others of 3 to 8 digits (8: two groups of a number split across two
/// texts that were joined without a separator). A last group of 1 or 2 digits is some other
/// number's (a 22-digit tracking number printed in groups of 4 ends `... 7527 69`).
bool card_grouped(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  if (is_digit(at(buf, e))) {
    return false;
  }
  std::array<Group, 6> g;
  const std::size_t n = collect_groups(buf, e, is_number_sep, 8, g);
  // Farthest start first, so the longest valid number wins; a shorter one is tried when a
  // preceding unrelated group makes the longer candidate invalid.
  for (std::size_t k = std::min<std::size_t>(n, 5); k-- > 2;) {
    const Group& first = g[k];
    if (first.size() != 4 || buf[first.b] < '2' || buf[first.b] > '6' ||
        !card_glue_ok(buf, first.b, e)) {
      continue;
    }
    // Dots, dashes and slashes do not leave a group out on either side: `1.4111.1111...` and
    // `...1111/5` are parts of some longer identifier (a version, an OID, a path). Spaces may
    // (`qty 2 4111 1111 1111 1111 12/27`).
    const char sep = buf[g[0].b - 1];
    if (sep != ' ' && ((before(buf, first.b) == sep && is_digit(before(buf, first.b, 2))) ||
                       (at(buf, e) == sep && is_digit(at(buf, e + 1))))) {
      continue;
    }
    // Nor is a card four groups cut out of a longer run of 4-digit groups (tracking numbers,
    // several numbers in a row): no 4-digit group right before it (with any separator) or right
    // after it (with its own).
    if ((is_number_sep(before(buf, first.b)) && four_digits_end_at(buf, first.b - 1)) ||
        (at(buf, e) == sep && four_digits_start_at(buf, e + 1))) {
      continue;
    }
    char digits[19];
    std::size_t count = 0;
    bool ok = true;
    for (std::size_t i = k + 1; i-- > 0 && ok;) {
      const std::size_t len = g[i].size();
      if (i != k && len < 3) {
        ok = false;
      } else if (count + len > sizeof(digits)) {
        ok = false;
      } else {
        buf.copy(digits + count, len, g[i].b);
        count += len;
      }
    }
    if (ok && count >= 13 && card_digits_valid(std::string_view(digits, count))) {
      out = Span{first.b, e};
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// us_ssn

/// The run of digits does not continue before `s` or after `e` through `sep` or a dot, and is
/// glued to nothing but letters.
bool ssn_context(std::string_view buf, std::size_t s, std::size_t e, char sep) {
  const char pre = before(buf, s);
  const char post = at(buf, e);
  if (!glue_ok(buf, s, e) || pre == '_' || post == '_') {
    return false;
  }
  if ((pre == sep || pre == '.') && is_digit(before(buf, s, 2))) {
    return false;
  }
  return !((post == sep || post == '.') && is_digit(at(buf, e + 1)));
}

/// `AAA-GG-SSSS` with one space, dot, dash or slash, the same twice.
bool ssn_separated(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  if (e < 11) {
    return false;
  }
  const std::size_t s = e - 11;
  const char sep = buf[s + 3];
  if (!is_number_sep(sep)) {
    return false;
  }
  if (!all_digits(buf, s, s + 3) || buf[s + 3] != sep || !all_digits(buf, s + 4, s + 6) ||
      buf[s + 6] != sep || !all_digits(buf, s + 7, e) || !ssn_context(buf, s, e, sep)) {
    return false;
  }
  char digits[9];
  buf.copy(digits, 3, s);
  buf.copy(digits + 3, 2, s + 4);
  buf.copy(digits + 5, 4, s + 7);
  if (!validators::us_ssn(std::string_view(digits, 9))) {
    return false;
  }
  out = Span{s, e};
  return true;
}

bool ssn_after_keyword(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  if (e < 9) {
    return false;
  }
  const std::size_t s = e - 9;
  const char post = at(buf, e);
  if (!all_digits(buf, s, e) || is_digit(before(buf, s)) || is_digit(post) || post == '_' ||
      !glue_ok(buf, s, e) || ((post == '-' || post == '.') && is_digit(at(buf, e + 1))) ||
      !validators::us_ssn(buf.substr(s, 9))) {
    return false;
  }
  out = Span{s, e};
  return true;
}

// ---------------------------------------------------------------------------------------------
// iban

/// What may stand before an IBAN that starts at `s`: no letter or digit, or lower-case letters
/// not glued to a digit (`ibanDE89...`), or the word `IBAN` itself (`IBANDE89...`).
bool iban_start_ok(std::string_view buf, std::size_t s) {
  if (s >= 4 && buf.substr(s - 4, 4) == "IBAN") {
    s -= 4;
  }
  const char pre = before(buf, s);
  if (is_upper(pre) || is_digit(pre) || pre == '_') {
    return false;
  }
  std::size_t i = s;
  while (i > 0 && is_lower(buf[i - 1]) && s - i < kGlueWalk) {
    --i;
  }
  return !(i < s && is_upper_or_digit(before(buf, i)));
}

/// What may follow an IBAN that ends at `e`: no upper-case letter or digit (the run ended), and
/// lower-case letters only when they do not run into a digit.
bool iban_end_ok(std::string_view buf, std::size_t e) {
  if (is_upper_or_digit(at(buf, e)) || at(buf, e) == '_') {
    return false;
  }
  std::size_t j = e;
  while (j < buf.size() && is_lower(buf[j]) && j - e < kGlueWalk) {
    ++j;
  }
  return !(j > e && is_digit(at(buf, j)));
}

bool iban_contiguous(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_upper_or_digit, 1);
  const std::size_t run = run_start(buf, e, is_upper_or_digit, 38);
  if (run == npos || !iban_end_ok(buf, e)) {
    return false;
  }
  // The whole run, or the run after a glued `IBAN`.
  std::size_t s = run;
  if (e - run > 4 && buf.substr(run, 4) == "IBAN") {
    s = run + 4;
  }
  if (e - s < 15 || e - s > 34 || !iban_start_ok(buf, s) ||
      !validators::iban(buf.substr(s, e - s))) {
    return false;
  }
  out = Span{s, e};
  return true;
}

/// Groups of 4 separated by one space, dot or dash (the same throughout); the last group may be
/// shorter.
bool iban_grouped(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_upper_or_digit, 1);
  if (!iban_end_ok(buf, e)) {
    return false;
  }
  char sep = 0;
  // Groups of up to 4, last first: at most 9 for the longest IBAN (34 = 8 x 4 + 2).
  std::array<Group, 9> g;
  std::size_t n = 0;
  for (std::size_t pos = e; n < g.size();) {
    const std::size_t b = run_start(buf, pos, is_upper_or_digit, 4);
    if (b == npos || b == pos) {
      break;
    }
    g[n++] = Group{b, pos};
    const char c = before(buf, b);
    if (sep == 0 && is_phone_sep(c)) {
      sep = c;
    }
    if (c != sep || !is_upper_or_digit(before(buf, b, 2))) {
      break;
    }
    pos = b - 1;
  }
  for (std::size_t k = n; k-- > 3;) {
    const Group& first = g[k];
    if (first.size() != 4 || !is_upper(buf[first.b]) || !is_upper(buf[first.b + 1]) ||
        !is_digit(buf[first.b + 2]) || !is_digit(buf[first.b + 3]) ||
        !iban_start_ok(buf, first.b)) {
      continue;
    }
    // The country's length decides before any copying or arithmetic.
    const auto length = static_cast<std::size_t>(validators::iban_length(buf.substr(first.b, 2)));
    if (length == 0 || length != 4 * k + g[0].size()) {
      continue;
    }
    char compact[36];
    std::size_t count = 0;
    bool ok = true;
    for (std::size_t i = k + 1; i-- > 0 && ok;) {
      if (i != 0 && g[i].size() != 4) {
        ok = false;
      } else {
        buf.copy(compact + count, g[i].size(), g[i].b);
        count += g[i].size();
      }
    }
    if (ok && validators::iban(std::string_view(compact, count))) {
      out = Span{first.b, e};
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// email

bool is_domain_char(char c) {
  return is_alnum(c) || c == '.' || c == '-';
}
bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/// Around the `@` that ends at `to`.
bool email(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t at_sign = to - 1;
  // Local part: 1-64 bytes, no leading, trailing or doubled dot, not right after another '@'.
  const std::size_t s = run_start(buf, at_sign, is_local_char, 64);
  if (s == npos || s == at_sign || buf[s] == '.' || buf[at_sign - 1] == '.' ||
      before(buf, s) == '@') {
    return false;
  }
  for (std::size_t i = s + 1; i < at_sign; ++i) {
    if (buf[i] == '.' && buf[i - 1] == '.') {
      return false;
    }
  }
  // Domain: the run of letters, digits, dots and dashes after the '@', at most 253, without the
  // dots that end a sentence.
  const std::size_t d = to;
  std::size_t e = d;
  while (e < buf.size() && is_domain_char(buf[e])) {
    if (e - d == 253) {
      return false;
    }
    ++e;
  }
  const char after = at(buf, e);
  if (after == '_' || after == '@') {
    return false;
  }
  while (e > d && buf[e - 1] == '.') {
    --e;
  }
  // >= 2 labels of 1-63 letters, digits and inner dashes; the last of 2-63 letters.
  std::size_t labels = 0;
  std::size_t label_start = d;
  for (std::size_t i = d; i <= e; ++i) {
    if (i < e && buf[i] != '.') {
      continue;
    }
    const std::size_t len = i - label_start;
    if (len == 0 || len > 63 || buf[label_start] == '-' || buf[i - 1] == '-') {
      return false;
    }
    ++labels;
    if (i < e) {
      label_start = i + 1;
    }
  }
  if (labels < 2 || e - label_start < 2) {
    return false;
  }
  for (std::size_t i = label_start; i < e; ++i) {
    if (!is_alpha(buf[i])) {
      return false;
    }
  }
  out = Span{s, e};
  return true;
}

// ---------------------------------------------------------------------------------------------
// phone

/// The number does not continue: no word byte around it (national forms glued to letters are
/// mostly fragments of identifiers such as UUIDs), and no separator + digit around it.
bool phone_context(std::string_view buf, std::size_t s, std::size_t e) {
  const char pre = before(buf, s);
  const char post = at(buf, e);
  if (is_word(pre) || is_word(post) || pre == '+') {
    return false;
  }
  // Nor a time or ratio around it (`19:01 19970309`).
  if ((is_number_sep(pre) || pre == ':') && is_digit(before(buf, s, 2))) {
    return false;
  }
  return !((is_number_sep(post) || post == ':') && is_digit(at(buf, e + 1)));
}

bool phone_international(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  // The '+' is at most 24 bytes before the end (15 digits, separators, one pair of parentheses).
  std::size_t plus = npos;
  for (std::size_t p = e; p > 0 && e - p <= 24; --p) {
    const char c = buf[p - 1];
    if (c == '+') {
      plus = p - 1;
      break;
    }
    if (!is_digit(c) && !is_phone_sep(c) && c != '(' && c != ')') {
      return false;
    }
  }
  if (plus == npos) {
    return false;
  }
  const char pre = before(buf, plus);
  if (pre == '_' || pre == '+' || at(buf, e) == '_' || !glue_ok(buf, plus, e)) {
    return false;
  }
  if (plus + 1 >= e || buf[plus + 1] < '1' || buf[plus + 1] > '9') {
    return false;
  }
  int digits = 0;
  int paren_digits = 0;
  bool in_paren = false;
  bool had_paren = false;
  char prev = '+';
  for (std::size_t i = plus + 1; i < e; ++i) {
    const char c = buf[i];
    if (is_digit(c)) {
      ++digits;
      paren_digits += in_paren ? 1 : 0;
    } else if (is_phone_sep(c)) {
      if (is_phone_sep(prev) || prev == '(') {
        return false;
      }
    } else if (c == '(') {
      if (had_paren || in_paren || !(is_phone_sep(prev) || is_digit(prev))) {
        return false;
      }
      in_paren = true;
      paren_digits = 0;
    } else {  // ')'
      if (!in_paren || !is_digit(prev) || paren_digits > 4) {
        return false;
      }
      in_paren = false;
      had_paren = true;
    }
    prev = c;
  }
  if (in_paren || digits < 8 || digits > 15) {
    return false;
  }
  out = Span{plus, e};
  return true;
}

bool phone_north_american(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  if (e < 12) {
    return false;
  }
  const char sep = buf[e - 5];
  const std::size_t exchange = e - 8;
  if (!all_digits(buf, e - 4, e) || !is_phone_sep(sep) || !all_digits(buf, exchange, e - 5) ||
      buf[exchange] < '2') {
    return false;
  }
  std::size_t s = 0;
  std::size_t area = 0;
  bool paren = false;
  if (before(buf, exchange) == ')' && exchange >= 5) {
    s = exchange - 5;
    area = s + 1;
    paren = true;
  } else if (before(buf, exchange) == ' ' && before(buf, exchange, 2) == ')' && exchange >= 6) {
    s = exchange - 6;
    area = s + 1;
    paren = true;
  } else if (before(buf, exchange) == sep && exchange >= 4) {
    s = exchange - 4;
    area = s;
  } else {
    return false;
  }
  if ((paren && buf[s] != '(') || !all_digits(buf, area, area + 3) || buf[area] < '2') {
    return false;
  }
  // Country code 1: `1-415-555-2671`, `+1 (415) 555-2671`.
  const char pre = before(buf, s);
  if ((paren ? is_phone_sep(pre) : pre == sep) && before(buf, s, 2) == '1' &&
      !is_alnum(before(buf, s, 3))) {
    s -= 2;
    if (before(buf, s) == '+') {
      --s;
    }
  }
  if (!phone_context(buf, s, e)) {
    return false;
  }
  out = Span{s, e};
  return true;
}

bool phone_national(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  std::array<Group, 6> g;
  const std::size_t n = collect_groups(buf, e, is_number_sep, 8, g);
  for (std::size_t k = n; k-- > 1;) {
    const Group& first = g[k];
    if (first.size() < 2 || first.size() > 5 || buf[first.b] != '0' || buf[first.b + 1] == '0' ||
        !phone_context(buf, first.b, e)) {
      continue;
    }
    std::size_t digits = 0;
    bool ok = true;
    for (std::size_t i = 0; i <= k; ++i) {
      ok = ok && g[i].size() >= 2;
      digits += g[i].size();
    }
    if (ok && digits >= 10 && digits <= 12) {
      out = Span{first.b, e};
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// ip_address

/// Whether the word just before `p` (across at most two spaces or colons) announces a version
/// (`version 1.2.3.4`, `build: 10.0.0.1`): a dotted quad there is a version number.
bool after_version_word(std::string_view buf, std::size_t p) {
  std::size_t i = p;
  for (int k = 0; k < 2 && i > 0 && (buf[i - 1] == ' ' || buf[i - 1] == ':'); ++k) {
    --i;
  }
  std::size_t j = i;
  while (j > 0 && is_alpha(buf[j - 1]) && i - j < 9) {
    --j;
  }
  if (i == j || is_alpha(before(buf, j))) {
    return false;
  }
  char word[9] = {};
  for (std::size_t k = j; k < i; ++k) {
    word[k - j] = static_cast<char>(is_upper(buf[k]) ? buf[k] - 'A' + 'a' : buf[k]);
  }
  const std::string_view w(word, i - j);
  for (std::string_view v : {"version", "ver", "release", "build", "firmware", "kernel"}) {
    if (w == v) {
      return true;
    }
  }
  return false;
}

bool ip_v4(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 2);
  std::size_t p = e;
  for (int i = 0; i < 4; ++i) {
    const std::size_t b = run_start(buf, p, is_digit, 3);
    if (b == npos || b == p) {
      return false;
    }
    p = b;
    if (i < 3) {
      if (before(buf, p) != '.') {
        return false;
      }
      --p;
    }
  }
  const char pre = before(buf, p);
  const char post = at(buf, e);
  if (is_word(pre) || pre == '.' || is_word(post) || (post == '.' && is_word(at(buf, e + 1))) ||
      !validators::ipv4(buf.substr(p, e - p)) || after_version_word(buf, p)) {
    return false;
  }
  out = Span{p, e};
  return true;
}

bool is_ipv6_char(char c) {
  return is_hex(c) || c == ':' || c == '.';
}

/// The address around an anchor inside it: just after its `::`, after a group of its full form, or
/// after the digits of its IPv4 tail.
bool ip_v6(std::string_view buf, std::size_t to, Span& out) {
  constexpr std::size_t kMax = 45;  // ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255
  std::size_t anchor = to;
  if (anchor > 0 && !is_ipv6_char(buf[anchor - 1])) {
    --anchor;  // the byte after an IPv4 tail that the digit-run expression consumed
  }
  // Walk out from the anchor both ways, giving up as soon as the run cannot be one address
  // (too long, a second `::`, more than 8 colons): a long run of colons or groups costs a few
  // steps per report, not the whole bound.
  int colons = 0;
  int double_colons = 0;
  auto step = [&](char c, char neighbour) {
    if (c == ':') {
      ++colons;
      double_colons += neighbour == ':' ? 1 : 0;
    }
    return colons <= 8 && double_colons <= 1;
  };
  std::size_t s = anchor;
  while (s > 0 && is_ipv6_char(buf[s - 1])) {
    if (anchor - s == kMax || !step(buf[s - 1], at(buf, s))) {
      return false;
    }
    --s;
  }
  std::size_t e = anchor;
  while (e < buf.size() && is_ipv6_char(buf[e])) {
    if (e - s == kMax || !step(buf[e], before(buf, e))) {
      return false;
    }
    ++e;
  }
  while (e > s && buf[e - 1] == '.') {
    --e;  // a dot that ends a sentence
  }
  if (e == s || buf[s] == '.' || colons < 2 || is_word(before(buf, s)) || is_word(at(buf, e)) ||
      (at(buf, e) == '.' && is_word(at(buf, e + 1)))) {
    return false;
  }
  bool has_hex = false;
  for (std::size_t i = s; i < e && !has_hex; ++i) {
    has_hex = is_hex(buf[i]);
  }
  if (!has_hex || !validators::ipv6(buf.substr(s, e - s))) {
    return false;
  }
  out = Span{s, e};
  return true;
}

/// An IPv6 address with an IPv4 tail (`::ffff:192.0.2.1`), from the end of its dotted quad.
bool ip_v6_ipv4_tail(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_digit, 1);
  std::size_t p = e;
  for (int i = 0; i < 4; ++i) {
    const std::size_t b = run_start(buf, p, is_digit, 3);
    if (b == npos || b == p) {
      return false;
    }
    p = b;
    if (i < 3) {
      if (before(buf, p) != '.') {
        return false;
      }
      --p;
    }
  }
  return before(buf, p) == ':' && ip_v6(buf, e, out);
}

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
// Secrets

bool aws_access_key(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_alnum, 1);
  if (e < 20 || is_alnum(before(buf, e - 20)) || is_alnum(at(buf, e))) {
    return false;
  }
  out = Span{e - 20, e};
  return true;
}

bool fixed_token(std::string_view buf, std::size_t to, std::size_t length, Span& out) {
  const std::size_t e = trim_end(buf, to, is_word, 1);
  if (e < length || is_word(before(buf, e - length)) || is_word(at(buf, e))) {
    return false;
  }
  out = Span{e - length, e};
  return true;
}

bool github_classic(std::string_view buf, std::size_t to, Span& out) {
  return fixed_token(buf, to, 40, out);  // ghp_ + 36
}
bool github_fine_grained(std::string_view buf, std::size_t to, Span& out) {
  return fixed_token(buf, to, 93, out);  // github_pat_ + 22 + _ + 59
}

/// The run of [A-Za-z0-9_-] ending at the reported end, if it is at most `limit` long.
bool token_run(std::string_view buf, std::size_t to, std::size_t limit, Span& run) {
  const std::size_t e = trim_end(buf, to, is_token, 1);
  const std::size_t s = run_start(buf, e, is_token, limit);
  if (s == npos || is_token(at(buf, e))) {
    return false;
  }
  run = Span{s, e};
  return true;
}

bool all_of(std::string_view text, bool (*pred)(char)) {
  for (char c : text) {
    if (!pred(c)) {
      return false;
    }
  }
  return true;
}

bool openai_key(std::string_view buf, std::size_t to, Span& out) {
  Span run;
  if (!token_run(buf, to, 260, run)) {
    return false;
  }
  const std::string_view key = buf.substr(run.begin, run.end - run.begin);
  if (!key.starts_with("sk-") || key.starts_with("sk-ant-")) {
    return false;
  }
  std::string_view body = key.substr(3);
  bool ok = false;
  if (body.size() == 48 && all_of(body, is_alnum)) {
    ok = true;  // legacy user key
  } else {
    for (std::string_view kind : {"proj-", "svcacct-", "admin-"}) {
      if (body.starts_with(kind)) {
        const std::size_t rest = body.size() - kind.size();
        ok = rest >= 40 && rest <= 250;
        break;
      }
    }
    if (!ok) {
      ok = body.size() >= 32 && body.size() <= 250 &&
           body.find("T3BlbkFJ") != std::string_view::npos;
    }
  }
  if (!ok) {
    return false;
  }
  out = run;
  return true;
}

bool anthropic_key(std::string_view buf, std::size_t to, Span& out) {
  Span run;
  if (!token_run(buf, to, 270, run)) {
    return false;
  }
  std::string_view key = buf.substr(run.begin, run.end - run.begin);
  if (!key.starts_with("sk-ant-")) {
    return false;
  }
  key.remove_prefix(7);
  // kind (2-8 lower-case letters) + 2-digit version + '-', e.g. api03-, admin01-
  std::size_t i = 0;
  while (i < key.size() && is_lower(key[i])) {
    ++i;
  }
  if (i < 2 || i > 8 || i + 3 > key.size() || !is_digit(key[i]) || !is_digit(key[i + 1]) ||
      key[i + 2] != '-') {
    return false;
  }
  const std::size_t rest = key.size() - (i + 3);
  if (rest < 32 || rest > 250) {
    return false;
  }
  out = run;
  return true;
}

bool slack_token(std::string_view buf, std::size_t to, Span& out) {
  auto slack_char = [](char c) { return is_alnum(c) || c == '-'; };
  const std::size_t e = trim_end(buf, to, slack_char, 1);
  const std::size_t s = run_start(buf, e, slack_char, 255);
  if (s == npos || e - s < 25 || is_word(before(buf, s)) || is_word(at(buf, e))) {
    return false;
  }
  const std::string_view body = buf.substr(s + 5, e - s - 5);  // after "xox?-"
  if (!buf.substr(s).starts_with("xox") || buf[s + 4] != '-') {
    return false;
  }
  // At least two non-empty dash-separated segments, the first all digits.
  const std::size_t dash = body.find('-');
  if (dash == std::string_view::npos || dash == 0 || !all_of(body.substr(0, dash), is_digit)) {
    return false;
  }
  if (body.back() == '-' || body.find("--") != std::string_view::npos) {
    return false;
  }
  out = Span{s, e};
  return true;
}

bool private_key(std::string_view buf, std::size_t to, Span& out) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  // The longest header: "-----BEGIN " + 3 x (20 + 1) + "PRIVATE KEY BLOCK-----" = 96 bytes.
  const std::size_t from = to > 96 ? to - 96 : 0;
  const std::size_t s = buf.substr(from, to - from).rfind(kBegin);
  if (s == std::string_view::npos) {
    return false;
  }
  out = Span{from + s, to};
  return true;
}

bool jwt(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t e = trim_end(buf, to, is_token, 2);
  const std::size_t s = run_start(buf, e, is_base64url_or_dot, 16 * 1024);
  if (s == npos || is_word(at(buf, e))) {
    return false;
  }
  const std::string_view token = buf.substr(s, e - s);
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view header = token.substr(0, dot1);
  const std::string_view payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature = token.substr(dot2 + 1);
  if (!header.starts_with("eyJ") || payload.size() < 2 || signature.size() < 16 ||
      !validators::jwt_header(header)) {
    return false;
  }
  out = Span{s, e};
  return true;
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
constexpr Check kEmailChecks[] = {{"email", email}};
constexpr Check kInternationalPhoneChecks[] = {{"phone", phone_international}};
constexpr Check kIpv6Checks[] = {{"ip_address", ip_v6}};
constexpr Check kAwsChecks[] = {{"aws_access_key", aws_access_key}};
constexpr Check kGithubClassicChecks[] = {{"github_token", github_classic}};
constexpr Check kGithubFineGrainedChecks[] = {{"github_token", github_fine_grained}};
constexpr Check kOpenaiChecks[] = {{"openai_key", openai_key}};
constexpr Check kAnthropicChecks[] = {{"anthropic_key", anthropic_key}};
constexpr Check kSlackChecks[] = {{"slack_token", slack_token}};
constexpr Check kPrivateKeyChecks[] = {{"private_key", private_key}};
constexpr Check kJwtChecks[] = {{"jwt", jwt}};

constexpr Rule kRules[] = {
    {"[0-9][0-9 ./-]{5,}[0-9]" SB_END("0-9"), 0, kDigitRunChecks, digit_run_shape},
    {"(?:\\bssn|\\bss#|\\bsocial security|\\bsoc\\.? ?sec)[^0-9\\n]{0,16}[0-8][0-9]{8}" SB_END(
         "0-9"),
     HS_FLAG_CASELESS, kSsnKeywordChecks},
    {"[A-Z]{2}[0-9]{2}[A-Z0-9 .-]{11,46}" SB_END("A-Z0-9"), 0, kIbanChecks},
    {"@", 0, kEmailChecks},
    {"\\+[1-9][0-9 ().-]{6,22}[0-9]" SB_END("0-9"), 0, kInternationalPhoneChecks},
    {"::" SB_END(":"), 0, kIpv6Checks},
    {"[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}", 0, kIpv6Checks},
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
};

#undef SB_END

}  // namespace

std::span<const Rule> builtin_rules() {
  return kRules;
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
