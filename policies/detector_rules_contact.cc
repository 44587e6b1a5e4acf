// Built-in checks for contact details and addresses: email, phone, ip_address (formats in
// detector_rules.h).

#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_COLONS_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "policies/cpu.h"
#include "policies/detector_rules_internal.h"
#include "policies/validators.h"

namespace sb::policies::rules {

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
  Span url;
  if (s == npos || s == at_sign || buf[s] == '.' || buf[at_sign - 1] == '.' ||
      before(buf, s) == '@' || url_userinfo(buf, at_sign, url)) {
    return false;  // (the last: a URL's `user:password@host` is not an address)
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

/// The four dot-separated runs of 1-3 digits that end at `to` once at most `trail` bytes that
/// are not digits (what the anchoring expression consumed after them) are dropped. False when
/// there are none.
bool dotted_quad(std::string_view buf, std::size_t to, int trail, Span& quad) {
  quad.end = trim_end(buf, to, is_digit, trail);
  std::size_t p = quad.end;
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
  quad.begin = p;
  return true;
}

bool ip_v4(std::string_view buf, std::size_t to, Span& out) {
  Span q;
  if (!dotted_quad(buf, to, 2, q)) {
    return false;
  }
  const char pre = before(buf, q.begin);
  const char post = at(buf, q.end);
  if (is_word(pre) || pre == '.' || is_word(post) || (post == '.' && is_word(at(buf, q.end + 1))) ||
      !validators::ipv4(buf.substr(q.begin, q.end - q.begin)) || after_version_word(buf, q.begin)) {
    return false;
  }
  out = q;
  return true;
}

bool is_ipv6_char(char c) {
  return is_hex(c) || c == ':' || c == '.';
}

/// The address around an anchor inside it: the end of its run (ip_v6_all), or just after the
/// digits of its IPv4 tail.
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

bool has_eight_groups(std::string_view run) {
  bool first = false;  // the chain has its first group (any hex digits)
  int links = 0;       // `:group` links after it, the current one included once it has a digit
  int digits = 0;      // digits of the current group
  for (const char c : run) {
    if (is_hex(c)) {
      if (first && links == 7) {
        return true;  // the first digit of the eighth group
      }
      if (++digits > 4 && links > 0) {
        links = 0;  // too long for an inner group: it can only start a new chain
      }
      first = true;
    } else if (c == ':' && digits > 0) {
      ++links;
      digits = 0;
    } else {  // `::`, a leading colon or a dot: the chain breaks
      first = false;
      links = 0;
      digits = 0;
    }
  }
  return false;
}

namespace {

// is_ipv6_char() as a table: the walks over a run read one entry a byte.
constexpr std::array<bool, 256> kIpv6Chars = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
  }
  return t;
}();

bool ipv6_char(char c) {
  return kIpv6Chars[static_cast<unsigned char>(c)];
}

// The run of IPv6 characters around the colon at `colon`, if it may be an address: ip_v6() from
// the run's end sees the run whatever the anchor inside it (the address is the whole run or
// nothing). Returns the run's end, where the next run can start.
std::size_t look_at_run(std::string_view buf, std::size_t colon, std::vector<Span>& out) {
  std::size_t s = colon;
  while (s > 0 && ipv6_char(buf[s - 1])) {
    --s;
  }
  std::size_t e = colon + 1;
  while (e < buf.size() && ipv6_char(buf[e])) {
    ++e;
  }
  // The shortest address, `::1`, has three characters (most colons in prose stand alone), and
  // none follows a word character (`std::`, `foo::bar`: most colons in source code).
  if (e - s >= 3 && !is_word(before(buf, s))) {
    const std::string_view run = buf.substr(s, e - s);
    Span span;
    if ((run.find("::") != std::string_view::npos || has_eight_groups(run)) &&
        ip_v6(buf, e, span)) {
      out.push_back(span);
    }
  }
  return e;
}

// The runs at the colons `mask` marks (bit i: the byte at base + i), but for colons inside a run
// looked at already (before `next`); `next` becomes the end of the last run looked at.
void colon_runs(std::string_view buf, std::size_t base, std::uint64_t mask, std::size_t& next,
                std::vector<Span>& out) {
  while (mask != 0) {
    const std::size_t c = base + static_cast<std::size_t>(__builtin_ctzll(mask));
    mask &= mask - 1;
    if (c >= next) {
      next = look_at_run(buf, c, out);
    }
  }
}

#if defined(__SSE2__)
std::uint64_t colons_sse2(const char* p) {
  const __m128i colon = _mm_set1_epi8(':');
  std::uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    m |= static_cast<std::uint64_t>(
             static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, colon))))
         << (16 * k);
  }
  return m;
}

/// The colons of the buffer's 64-byte blocks; returns where the blocks end.
std::size_t colon_blocks_sse2(std::string_view buf, std::size_t& next, std::vector<Span>& out) {
  std::size_t i = 0;
  for (; i + 64 <= buf.size(); i += 64) {
    colon_runs(buf, i, colons_sse2(buf.data() + i), next, out);
  }
  return i;
}
#endif

#if defined(SB_COLONS_AVX2)
__attribute__((target("avx2"))) std::uint64_t colons_avx2(const char* p) {
  const __m256i colon = _mm256_set1_epi8(':');
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  const auto lo = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, colon)));
  const auto hi = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, colon)));
  return lo | static_cast<std::uint64_t>(hi) << 32;
}

/// colon_blocks_sse2 in two 32-byte compares a block.
__attribute__((target("avx2"))) std::size_t colon_blocks_avx2(std::string_view buf,
                                                              std::size_t& next,
                                                              std::vector<Span>& out) {
  std::size_t i = 0;
  for (; i + 64 <= buf.size(); i += 64) {
    colon_runs(buf, i, colons_avx2(buf.data() + i), next, out);
  }
  return i;
}
#endif

}  // namespace

namespace {

// The colons after the blocks (from `i`), one by one.
void colon_tail(std::string_view buf, std::size_t i, std::size_t next, std::vector<Span>& out) {
  std::size_t c = buf.find(':', std::max(i, next));
  while (c != std::string_view::npos) {
    c = buf.find(':', look_at_run(buf, c, out));
  }
}

}  // namespace

// Each run is looked at once, from its first colon. The colons of each 64-byte block are found at
// once, as a mask (a call to memchr per colon cost more than the run it leads to, in prose with a
// colon a sentence); those of the last bytes, one by one.
void ip_v6_all_sse2(std::string_view buf, std::vector<Span>& out) {
  std::size_t next = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  i = colon_blocks_sse2(buf, next, out);
#endif
  colon_tail(buf, i, next, out);
}

void ip_v6_all_avx2(std::string_view buf, std::vector<Span>& out) {
#if defined(SB_COLONS_AVX2)
  std::size_t next = 0;
  const std::size_t i = colon_blocks_avx2(buf, next, out);
  colon_tail(buf, i, next, out);
#else
  ip_v6_all_sse2(buf, out);
#endif
}

void ip_v6_all(std::string_view buf, std::vector<Span>& out) {
  cpu::has_avx2() ? ip_v6_all_avx2(buf, out) : ip_v6_all_sse2(buf, out);
}

/// An IPv6 address with an IPv4 tail (`::ffff:192.0.2.1`), from the end of its dotted quad.
bool ip_v6_ipv4_tail(std::string_view buf, std::size_t to, Span& out) {
  Span q;
  return dotted_quad(buf, to, 1, q) && before(buf, q.begin) == ':' && ip_v6(buf, q.end, out);
}

}  // namespace sb::policies::rules
