#include "policies/validators.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace sb::policies::validators {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

/// Value of the first `n` digits of `digits` (n <= 9).
int prefix_value(std::string_view digits, std::size_t n) {
  int v = 0;
  for (std::size_t i = 0; i < n && i < digits.size(); ++i) {
    v = v * 10 + (digits[i] - '0');
  }
  return v;
}

struct IbanCountry {
  char code[3];
  unsigned char length;
};

// SWIFT IBAN registry (release 2024-2025), then countries whose banks issue IBANs outside the
// registry. A territory using its parent's format (e.g. GF under FR) writes the parent's code.
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24},
    {"AE", 23},
    {"AL", 28},
    {"AT", 20},
    {"AZ", 28},
    {"BA", 20},
    {"BE", 16},
    {"BG", 22},
    {"BH", 22},
    {"BI", 27},
    {"BR", 29},
    {"BY", 28},
    {"CH", 21},
    {"CR", 22},
    {"CY", 28},
    {"CZ", 24},
    {"DE", 22},
    {"DJ", 27},
    {"DK", 18},
    {"DO", 28},
    {"EE", 20},
    {"EG", 29},
    {"ES", 24},
    {"FI", 18},
    {"FK", 18},
    {"FO", 18},
    {"FR", 27},
    {"GB", 22},
    {"GE", 22},
    {"GI", 23},
    {"GL", 18},
    {"GR", 27},
    {"GT", 28},
    {"HN", 28},
    {"HR", 21},
    {"HU", 28},
    {"IE", 22},
    {"IL", 23},
    {"IQ", 23},
    {"IS", 26},
    {"IT", 27},
    {"JO", 30},
    {"KW", 30},
    {"KZ", 20},
    {"LB", 28},
    {"LC", 32},
    {"LI", 21},
    {"LT", 20},
    {"LU", 20},
    {"LV", 21},
    {"LY", 25},
    {"MC", 27},
    {"MD", 24},
    {"ME", 22},
    {"MK", 19},
    {"MN", 20},
    {"MR", 27},
    {"MT", 31},
    {"MU", 30},
    {"NI", 28},
    {"NL", 18},
    {"NO", 15},
    {"OM", 23},
    {"PK", 24},
    {"PL", 28},
    {"PS", 29},
    {"PT", 25},
    {"QA", 29},
    {"RO", 24},
    {"RS", 22},
    {"RU", 33},
    {"SA", 24},
    {"SC", 31},
    {"SD", 18},
    {"SE", 24},
    {"SI", 19},
    {"SK", 24},
    {"SM", 27},
    {"SO", 23},
    {"ST", 25},
    {"SV", 28},
    {"TL", 23},
    {"TN", 24},
    {"TR", 26},
    {"UA", 29},
    {"VA", 22},
    {"VG", 24},
    {"XK", 20},
    {"YE", 30},
    // Outside the registry.
    {"AO", 25},
    {"BF", 28},
    {"BJ", 28},
    {"CF", 27},
    {"CG", 27},
    {"CI", 28},
    {"CM", 27},
    {"CV", 25},
    {"DZ", 26},
    {"GA", 27},
    {"GQ", 27},
    {"GW", 25},
    {"IR", 26},
    {"KM", 27},
    {"MA", 28},
    {"MG", 27},
    {"ML", 28},
    {"MZ", 25},
    {"NE", 28},
    {"SN", 28},
    {"TD", 27},
    {"TG", 28},
};

/// Direct lookup table: (first letter, second letter) -> IBAN length, 0 for none.
constexpr std::array<unsigned char, 26 * 26> make_iban_table() {
  std::array<unsigned char, 26 * 26> table{};
  for (const auto& c : kIbanCountries) {
    table[(c.code[0] - 'A') * 26 + (c.code[1] - 'A')] = c.length;
  }
  return table;
}
constexpr auto kIbanTable = make_iban_table();

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

}  // namespace

bool luhn(std::string_view digits) {
  if (digits.size() < 2) {
    return false;
  }
  int sum = 0;
  bool twice = false;
  for (std::size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool ean13(std::string_view digits) {
  if (digits.size() != 13) {
    return false;
  }
  int sum = 0;
  for (std::size_t i = 0; i < 13; ++i) {
    if (!is_digit(digits[i])) {
      return false;
    }
    sum += (digits[i] - '0') * (i % 2 == 0 ? 1 : 3);
  }
  return sum % 10 == 0;
}

bool card_issuer(std::string_view digits) {
  const std::size_t n = digits.size();
  if (n < 13 || n > 19) {
    return false;
  }
  const int p1 = prefix_value(digits, 1);
  const int p2 = prefix_value(digits, 2);
  const int p3 = prefix_value(digits, 3);
  const int p4 = prefix_value(digits, 4);
  if (p1 == 4) {  // Visa
    return n == 13 || n == 16 || n == 19;
  }
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) {  // Mastercard
    return n == 16;
  }
  if (p2 == 34 || p2 == 37) {  // American Express
    return n == 15;
  }
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65) {  // Discover
    return n >= 16;
  }
  if (p4 >= 3528 && p4 <= 3589) {  // JCB
    return n >= 16;
  }
  if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38) {  // Diners Club
    return n >= 14;
  }
  if (p2 == 62) {  // UnionPay
    return n >= 16;
  }
  return false;
}

bool us_ssn(std::string_view digits) {
  if (digits.size() != 9) {
    return false;
  }
  for (char c : digits) {
    if (!is_digit(c)) {
      return false;
    }
  }
  const int area = prefix_value(digits, 3);
  const int group = prefix_value(digits.substr(3), 2);
  const int serial = prefix_value(digits.substr(5), 4);
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

int iban_length(std::string_view country) {
  if (country.size() != 2 || !is_upper(country[0]) || !is_upper(country[1])) {
    return 0;
  }
  return kIbanTable[(country[0] - 'A') * 26 + (country[1] - 'A')];
}

bool iban(std::string_view compact) {
  if (compact.size() < 5 ||
      static_cast<std::size_t>(iban_length(compact.substr(0, 2))) != compact.size() ||
      !is_digit(compact[2]) || !is_digit(compact[3])) {
    return false;
  }
  // ISO 7064 mod 97-10 over BBAN + country + check digits, letters as 10..35, folded digit by
  // digit so no big integer is needed.
  int rem = 0;
  for (std::size_t k = 0; k < compact.size(); ++k) {
    const char c = compact[(k + 4) % compact.size()];
    if (is_digit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (is_upper(c)) {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool ipv4(std::string_view text) {
  int octets = 0;
  std::size_t i = 0;
  while (true) {
    const std::size_t begin = i;
    int value = 0;
    while (i < text.size() && is_digit(text[i]) && i - begin < 3) {
      value = value * 10 + (text[i] - '0');
      ++i;
    }
    const std::size_t len = i - begin;
    if (len == 0 || value > 255 || (len > 1 && text[begin] == '0')) {
      return false;
    }
    ++octets;
    if (octets == 4) {
      return i == text.size();
    }
    if (i >= text.size() || text[i] != '.') {
      return false;
    }
    ++i;
  }
}

bool ipv6(std::string_view text) {
  char buf[INET6_ADDRSTRLEN];
  if (text.size() < 2 || text.size() >= sizeof(buf)) {
    return false;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

bool jwt_header(std::string_view segment) {
  // Decode the first 12 characters (9 bytes): enough for `{"` + a 4-letter name + `"`.
  if (segment.size() < 8) {
    return false;
  }
  unsigned char out[9];
  std::size_t n = 0;
  const std::size_t chars = segment.size() >= 12 ? 12 : 8;
  for (std::size_t i = 0; i < chars; i += 4) {
    int v[4];
    for (int k = 0; k < 4; ++k) {
      v[k] = base64url_value(segment[i + k]);
      if (v[k] < 0) {
        return false;
      }
    }
    const unsigned bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out[n++] = static_cast<unsigned char>(bits >> 16);
    out[n++] = static_cast<unsigned char>(bits >> 8);
    out[n++] = static_cast<unsigned char>(bits);
  }
  const std::string_view decoded(reinterpret_cast<const char*>(out), n);
  static constexpr std::string_view kNames[] = {"{\"alg\"", "{\"typ\"", "{\"kid\"", "{\"cty\"",
                                                "{\"jku\"", "{\"jwk\"", "{\"x5u\"", "{\"x5c\"",
                                                "{\"x5t\"", "{\"crit\""};
  for (std::string_view name : kNames) {
    if (decoded.starts_with(name)) {
      return true;
    }
  }
  return false;
}

}  // namespace sb::policies::validators
