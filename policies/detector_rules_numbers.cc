// Built-in checks for numbers: credit_card, us_ssn, iban (formats in detector_rules.h).

#include "policies/detector_rules_internal.h"
#include "policies/validators.h"

namespace sb::policies::rules {

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
  // Groups of up to 4, last first: at most 9 for the longest IBAN (34 = 8 x 4 + 2).
  std::array<Group, 9> g;
  const std::size_t n =
      collect_groups(buf, e, is_phone_sep, 4, g, [](char c) { return is_upper_or_digit(c); });
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

}  // namespace sb::policies::rules
