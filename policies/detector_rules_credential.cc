// Built-in check for credentials found by their name: a value written after a name that says it
// is a password, a secret, a token or an API key (`DB_PASSWORD=...`, `"client_secret": "..."`,
// `Authorization: Bearer ...`, `--password ...`), whatever its format (detector_rules.h describes
// what is taken).

#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SB_OPERATORS_AVX2 1
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "policies/cpu.h"
#include "policies/detector_rules_internal.h"

namespace sb::policies::rules {

namespace {

constexpr std::size_t kMaxName = 64;    // the bytes of a name walked back over (its end)
constexpr std::size_t kMaxValue = 256;  // a value's bytes walked over
constexpr std::size_t kMaxGap = 8;      // spaces between a name, its operator and its value

bool is_name_char(char c) {
  return is_word(c) || c == '.' || c == '-';
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/// Whether the lower-cased name ends with `suffix`.
bool ends_with(std::string_view name, std::string_view suffix) {
  return name.size() >= suffix.size() &&
         std::equal(suffix.begin(), suffix.end(), name.end() - suffix.size(),
                    [](char s, char n) { return s == to_lower(n); });
}

/// What the name says its value is: the search's filter saw the last letters of one of these at
/// its end; this tells which, and drops the names that only look like one.
enum class Kind { none, password, token, authorization };

Kind kind_of(std::string_view name) {
  for (std::string_view s : {"_pass", ".pass", "-pass", "_pwd", ".pwd", "-pwd"}) {
    if (ends_with(name, s)) {
      return Kind::password;
    }
  }
  // The rest compared without case and separators: `client_secret`, `clientSecret`,
  // `CLIENT-SECRET`.
  std::array<char, kMaxName> folded;  // only [0, n) is read
  std::size_t n = 0;
  for (char c : name) {
    if (c != '_' && c != '.' && c != '-') {
      folded[n++] = to_lower(c);
    }
  }
  const std::string_view f(folded.data(), n);
  for (std::string_view s : {"password", "passwd", "passphrase"}) {
    if (f.ends_with(s)) {
      return Kind::password;
    }
  }
  if (f.ends_with("authorization")) {
    return Kind::authorization;
  }
  if (f.ends_with("token")) {
    // Tokens that are no credential: pagination cursors, request and lock ids, a tokenizer's
    // special tokens.
    for (std::string_view s :
         {"pagetoken",         "nexttoken",        "continuationtoken", "synctoken",
          "resumetoken",       "cursortoken",      "forwardtoken",      "backwardtoken",
          "cancellationtoken", "idempotencytoken", "clienttoken",       "requesttoken",
          "locktoken",         "changetoken",      "updatetoken",       "tasktoken",
          "eostoken",          "bostoken",         "padtoken",          "unktoken",
          "septoken",          "clstoken",         "masktoken",         "starttoken",
          "endtoken",          "stoptoken",        "specialtoken"}) {
      if (f.ends_with(s)) {
        return Kind::none;
      }
    }
    return Kind::token;
  }
  for (std::string_view s : {"secret", "apikey", "accesskey", "privatekey", "secretkey"}) {
    if (f.ends_with(s)) {
      return Kind::token;
    }
  }
  return Kind::none;
}

/// A value that stands for one: a template's slot, a path, an example or a word that says what
/// belongs there.
bool stands_for_one(std::string_view v) {
  if (placeholder_password(v)) {
    return true;
  }
  const char first = v.front();
  if (first == '$' || first == '%' || first == '<' || first == '{' || first == '[' ||
      first == '(' || first == '*' || first == '/' || first == '~' || first == '.' ||
      first == '&' || first == '@' || first == '#' || first == '\\' || first == '!') {
    return true;  // a variable, a template, a reference, a path, a comment, a negation
  }
  // A URI or a reference (`urn:...`, `https://...`, `vault:secret/db`, `op://vault/item`,
  // `arn:aws:secretsmanager:...`): a password in a URL is url_credentials' to find.
  std::size_t k = 0;
  while (k < v.size() && k < 32 && is_scheme_char(v[k])) {
    ++k;
  }
  if (k > 0 && k < v.size() && v[k] == ':' && is_alpha(first)) {
    return true;
  }
  std::array<char, kMaxValue> low;  // only [0, v.size()) is read
  for (std::size_t i = 0; i < v.size(); ++i) {
    low[i] = to_lower(v[i]);
  }
  const std::string_view l(low.data(), v.size());
  for (std::string_view word :
       {"example", "placeholder", "dummy", "redacted", "changeme",   "change_me", "change-me",
        "xxxx",    "your_",       "your-", "yourpass", "yoursecret", "yourtoken", "yourkey",
        "${",      "{{",          "}}",    "...",      "<",          ">"}) {
    if (l.find(word) != std::string_view::npos) {
      return true;
    }
  }
  for (std::string_view word :
       {"true", "false", "null", "none", "nil", "undefined", "required", "optional", "string",
        "hidden", "masked", "include", "omit", "same-origin"}) {
    if (l == word) {
      return true;
    }
  }
  return false;
}

/// Whether a value written without quotes reads as code rather than a literal: a call, an index,
/// an optional chain, an alternative, a comparison, a conditional or an assignment to a name
/// (minified JavaScript: `Ae?gi:void`, `W===void`), a name or dotted path without a digit
/// (`self.password`, `process.env.TOKEN`, `user_input`), a dotted path that starts or ends with a
/// name without a digit (`self.token.astOperand1`, `imdsv2_response.data`) or a snake_case name
/// ending in a word
/// (`imdsv2_session_token`).
bool reads_as_code(std::string_view v) {
  const std::size_t equals = v.find("==");
  if (v.find_first_of("()[]{}") != std::string_view::npos ||
      v.find("?.") != std::string_view::npos || v.find("||") != std::string_view::npos ||
      (equals != std::string_view::npos && equals + 2 < v.size()) ||
      v.find("!=") != std::string_view::npos ||
      (v.find('?') != std::string_view::npos && v.find(':') != std::string_view::npos)) {
    return true;  // a call, an index, a chain, a comparison (not base64's `==` padding at the
                  // end), a conditional (minified code)
  }
  // An assignment to a name (`e.checkModel=void`), not base64's padding (`dGVzdA==`).
  if (const std::size_t eq = v.find('='); eq != std::string_view::npos && eq > 0 &&
                                          eq + 1 < v.size() && v[eq + 1] != '=' &&
                                          reads_as_code(v.substr(0, eq))) {
    return true;
  }
  for (char c : v) {
    if (!is_word(c) && c != '.' && c != '-') {
      return false;  // punctuation no name holds: a literal
    }
  }
  const auto digitless = [](std::string_view part) {
    return !part.empty() && std::none_of(part.begin(), part.end(), is_digit);
  };
  if (digitless(v)) {
    return true;
  }
  if (const std::size_t dot = v.find('.'); dot != std::string_view::npos) {
    return digitless(v.substr(0, dot)) || digitless(v.substr(v.rfind('.') + 1));
  }
  // snake_case that ends in a word, as variables do (a token's prefix, `ghp_`, ends in none).
  const std::size_t underscore = v.rfind('_');
  return underscore != std::string_view::npos && is_lower(v.front()) &&
         digitless(v.substr(underscore + 1)) && std::all_of(v.begin(), v.end(), [](char c) {
           return is_lower(c) || is_digit(c) || c == '_';
         });
}

/// A type's or a class's name (`V1SecretProjection`, `UsernameToken`): capitals and digits, then
/// at least two capitalised words of three or more letters, then digits. A password of one word
/// and digits (`Winter2024`) is none.
bool camel_case_name(std::string_view v) {
  std::size_t i = 0;
  while (i < v.size() && (is_upper(v[i]) || is_digit(v[i]))) {
    ++i;
  }
  // Back to the last capital of the run: it starts the first word.
  if (i == 0 || i == v.size() || !is_upper(v[i - 1])) {
    return false;
  }
  --i;
  int words = 0;
  while (i < v.size() && is_upper(v[i])) {
    std::size_t j = i + 1;
    while (j < v.size() && is_lower(v[j])) {
      ++j;
    }
    if (j - i < 3) {
      return false;
    }
    ++words;
    i = j;
  }
  while (i < v.size() && is_digit(v[i])) {
    ++i;
  }
  return words >= 2 && i == v.size();
}

/// A constant's name (`ACCESS_TOKEN_1`, `MY_API_KEY`): upper case, digits and underscores, with
/// an underscore, starting with a letter. A placeholder, not a value.
bool constant_name(std::string_view v) {
  return is_upper(v.front()) && v.find('_') != std::string_view::npos &&
         std::all_of(v.begin(), v.end(),
                     [](char c) { return is_upper(c) || is_digit(c) || c == '_'; });
}

/// Whether the value has the make of a credential: letters and digits, or three of lower case,
/// upper case, digits and other characters; a password may be digits alone, an Authorization
/// header's credential (base64 of `user:password`) mixed-case letters alone, from 12 characters.
bool looks_secret(std::string_view v, Kind kind) {
  bool lower_case = false;
  bool upper_case = false;
  bool digit = false;
  bool other = false;
  for (char c : v) {
    lower_case = lower_case || is_lower(c);
    upper_case = upper_case || is_upper(c);
    digit = digit || is_digit(c);
    other = other || !is_alnum(c);
  }
  const int classes = int{lower_case} + int{upper_case} + int{digit} + int{other};
  if (digit && (lower_case || upper_case)) {
    return true;
  }
  if (kind == Kind::password) {
    return classes >= 3 || (digit && !other);
  }
  return classes >= 3 ||
         (kind == Kind::authorization && lower_case && upper_case && !other && v.size() >= 12);
}

/// Where the value starting at `v` lies: quoted (to its closing quote on the same line) or bare (to
/// a space, a quote or punctuation that ends a value in code). Empty when it is too long or not
/// closed. `reach` becomes at least the end of the bytes walked.
Span value_after(std::string_view buf, std::size_t v, std::size_t& reach) {
  const char q = at(buf, v);
  if (q == '"' || q == '\'' || q == '`') {
    std::size_t e = v + 1;
    while (e < buf.size() && buf[e] != q && buf[e] != '\n' && e - v <= kMaxValue) {
      ++e;
    }
    reach = std::max(reach, e + 1);
    return at(buf, e) != q ? Span{v, v} : Span{v + 1, e};
  }
  std::size_t e = v;
  while (e < buf.size() && e - v <= kMaxValue) {
    const char c = buf[e];
    if (static_cast<unsigned char>(c) <= 0x20 || c == '"' || c == '\'' || c == '`' || c == ',' ||
        c == ';' || c == '}' || c == ')' || c == ']' || c == '>' || c == '<' || c == '&' ||
        c == '|') {
      break;
    }
    ++e;
  }
  reach = std::max(reach, e);
  return e - v > kMaxValue ? Span{v, v} : Span{v, e};
}

/// Whether what follows a value written without quotes (from `e`) ends a literal, as in a file of
/// settings, a header or a command line: the line's end, a comment, the quote that encloses the
/// assignment, the next argument or query parameter. An operator or punctuation (`,`, `;`, `|`,
/// `=`, `)`) makes it code: a type (`password: Uint8Array,`), a variable, an expression.
bool ends_literal(std::string_view buf, std::size_t e) {
  for (std::size_t gap = 0; e < buf.size() && is_blank(buf[e]) && gap < kMaxGap; ++gap) {
    ++e;
  }
  const char c = at(buf, e);
  return c == '\n' || c == '\r' || is_blank(c) /* more spaces than kMaxGap: a column's padding */ ||
         c == '"' || c == '\'' || c == '`' || c == '#' || c == '\\' || is_word(c) ||
         (c == '-' && at(buf, e + 1) == '-') || (c == '&' && is_word(at(buf, e + 1))) ||
         (c == '/' && at(buf, e + 1) == '/');
}

/// Where the name before the operator at `op` ends: before the spaces and the closing quotes or
/// bracket (`"password": `, `$config['pass'] =`, `env["TOKEN"] =`) between them.
std::size_t name_end(std::string_view buf, std::size_t op) {
  std::size_t e = op;
  for (std::size_t gap = 0; e > 0 && is_blank(buf[e - 1]) && gap < kMaxGap; ++gap) {
    --e;
  }
  for (int closing = 0;
       e > 0 && closing < 2 && (buf[e - 1] == '"' || buf[e - 1] == '\'' || buf[e - 1] == ']');
       ++closing) {
    --e;
  }
  return e;
}

/// Whether a name ending at `e` may end as a credential's does (its last three letters): most
/// operators are ruled out here, without a walk.
[[gnu::always_inline]] inline bool may_end_a_name(std::string_view buf, std::size_t e) {
  if (e < 3) {
    return false;
  }
  const char a = to_lower(buf[e - 3]);
  const char b = to_lower(buf[e - 2]);
  switch (to_lower(buf[e - 1])) {
    case 'd':  // password, passwd, pwd
      return (a == 'o' && b == 'r') || (a == 's' && b == 'w') || (a == 'p' && b == 'w');
    case 'e':  // passphrase
    case 's':  // pass
      return a == 'a' && b == 's';
    case 't':  // secret
      return a == 'r' && b == 'e';
    case 'n':  // token, authorization
      return (a == 'k' && b == 'e') || (a == 'i' && b == 'o');
    case 'y':  // key
      return a == 'k' && b == 'e';
    default:
      return false;
  }
}

/// The credential whose value starts at `v` (after its operator and spaces), for a name of `kind`:
/// its span when the value has a credential's make. `reach` grows to the end of the bytes walked.
bool value_from(std::string_view buf, std::size_t v, Kind kind, Span& out, std::size_t& reach) {
  Span value = value_after(buf, v, reach);
  const bool quoted = value.begin != v;
  if (kind == Kind::authorization) {
    // `Bearer <token>`, `Basic <base64>`, `Token <token>`: the credential is what follows the
    // scheme (a bare value stopped at the space after it).
    std::size_t w = value.begin;
    while (w < buf.size() && is_alpha(buf[w]) && w - value.begin < 16) {
      ++w;
    }
    if (w > value.begin && at(buf, w) == ' ') {
      value = quoted ? Span{w + 1, value.end} : value_after(buf, w + 1, reach);
    }
  }
  const std::size_t n = value.end - value.begin;
  const std::size_t least = kind == Kind::password ? 6 : 8;
  if (n < least || n > kMaxValue) {
    return false;
  }
  const std::string_view text = buf.substr(value.begin, n);
  if (text.find_first_of(" \t\"'") != std::string_view::npos || stands_for_one(text) ||
      constant_name(text) || camel_case_name(text) ||
      (!quoted && (reads_as_code(text) || !ends_literal(buf, value.end))) ||
      !looks_secret(text, kind)) {
    return false;
  }
  out = value;
  return true;
}

/// The value after the operator at `op`, when the name before it (ending at `e`, which passed
/// may_end_a_name) says it is a credential and the value has a credential's make. Out of line:
/// few operators get here.
[[gnu::noinline]] bool credential_at(std::string_view buf, std::size_t op, std::size_t e, Span& out,
                                     std::size_t& reach) {
  // The name's last kMaxName bytes at most: its end says what it is.
  std::size_t s = e;
  while (s > 0 && is_name_char(buf[s - 1]) && e - s < kMaxName) {
    --s;
  }
  if (s == e || before(buf, s) == ':' || (buf[op] == ':' && at(buf, op + 1) == ':')) {
    return false;  // no name; or a segment of a path (`arn:...:secret:x`, `AWS::X::ApiKey`)
  }
  const Kind kind = kind_of(buf.substr(s, e - s));
  if (kind == Kind::none) {
    return false;
  }
  // The value: after `:=`, `=>` or `==`, and the spaces after the operator.
  std::size_t v = op + 1;
  if (at(buf, v) == '=' || (buf[op] == '=' && at(buf, v) == '>')) {
    ++v;
  }
  for (std::size_t gap = 0; v < buf.size() && is_blank(buf[v]) && gap < kMaxGap; ++gap) {
    ++v;
  }
  return value_from(buf, v, kind, out, reach);
}

/// The value after a command-line option whose name says it is a credential, written with a space
/// (`--password Sup3rS3cret`, `--api-key 0a1b...`; with `=` it is an operator's). `dash` is the
/// option's first dash. Out of line: few options get here.
[[gnu::noinline]] bool credential_after_option(std::string_view buf, std::size_t dash, Span& out,
                                               std::size_t& reach) {
  const std::size_t s = dash + 2;
  std::size_t e = s;
  while (e < buf.size() && is_name_char(buf[e]) && e - s <= kMaxName) {
    ++e;
  }
  if (e - s > kMaxName || !is_blank(at(buf, e))) {
    return false;  // too long; or no space after the name (`=`, the end, punctuation)
  }
  const Kind kind = kind_of(buf.substr(s, e - s));
  if (kind == Kind::none) {
    return false;
  }
  std::size_t v = e;
  for (std::size_t gap = 0; v < buf.size() && is_blank(buf[v]) && gap < kMaxGap; ++gap) {
    ++v;
  }
  return at(buf, v) != '-' && value_from(buf, v, kind, out, reach);  // not the next option
}

/// What a byte before an operator may be: 1, what stands between a name and its operator (a space,
/// a tab, a closing quote or bracket); 2, the last letter of a credential's name (`d`, `e`, `s`,
/// `t`, `n`, `y`, either case); 0, anything else.
constexpr std::array<std::uint8_t, 256> kBefore = [] {
  std::array<std::uint8_t, 256> t{};
  for (char c : std::string_view(" \t\"']")) {
    t[static_cast<unsigned char>(c)] = 1;
  }
  for (char c : std::string_view("destnyDESTNY")) {
    t[static_cast<unsigned char>(c)] = 2;
  }
  return t;
}();

/// The credential at the operator `op`, if any, into `out`; `next` becomes at least the end of
/// the bytes its value's walk read. Out of line: few operators get here.
[[gnu::noinline]] void operator_value(std::string_view buf, std::size_t op, std::size_t& next,
                                      std::vector<Span>& out) {
  const std::size_t e = name_end(buf, op);
  Span value;
  if (may_end_a_name(buf, e) && credential_at(buf, op, e, value, next)) {
    out.push_back(value);
  }
}

/// Whether the dash at `dash` may start the `--` of an option whose value follows a space: the
/// option stands alone (a space, a quote or a line's start before it; not a third dash) and a
/// letter starts its name.
inline bool may_start_an_option(std::string_view buf, std::size_t dash) {
  const char b = before(buf, dash);
  return (b == ' ' || b == '\t' || b == '\n' || b == '"' || b == '\'') &&
         at(buf, dash + 1) == '-' && is_alpha(at(buf, dash + 2));
}

/// The credential at an option's first dash, if any, into `out`.
[[gnu::noinline]] void option_value(std::string_view buf, std::size_t dash, std::size_t& next,
                                    std::vector<Span>& out) {
  Span value;
  if (credential_after_option(buf, dash, value, next)) {
    out.push_back(value);
  }
}

/// Whether the operator at `op` may follow a credential's name: not the first colon of `::`, and
/// back over what may stand between them, three letters a name may end in. A table load or two
/// for most operators, inline (a call for each cost more than the check: source code has an
/// operator every 20 bytes).
inline bool may_follow_a_name(std::string_view buf, std::size_t op) {
  if (buf[op] == ':' && at(buf, op + 1) == ':') {
    return false;
  }
  std::size_t e = op;
  while (e > 0 && kBefore[static_cast<unsigned char>(buf[e - 1])] == 1 && op - e < kMaxGap + 2) {
    --e;
  }
  return e >= 3 && kBefore[static_cast<unsigned char>(buf[e - 1])] == 2 && may_end_a_name(buf, e);
}

/// The credentials at the operators and options' second dashes `mask` marks (bit i: the byte at
/// base + i), in order, but for those inside a value walked already (before `next`): each byte is
/// walked as a value once, so that a text of `password=password=...` costs no more than its
/// length.
inline void operator_values(std::string_view buf, std::size_t base, std::uint64_t mask,
                            std::size_t& next, std::vector<Span>& out) {
  while (mask != 0) {
    const std::size_t at_ = base + static_cast<std::size_t>(__builtin_ctzll(mask));
    mask &= mask - 1;
    if (at_ < next) {
      continue;
    }
    if (buf[at_] == '-') {
      if (may_start_an_option(buf, at_)) {
        option_value(buf, at_, next, out);
      }
    } else if (may_follow_a_name(buf, at_)) {
      operator_value(buf, at_, next, out);
    }
  }
}

/// The places of a block to look at: its operators, but for the colons of `::` (a C++, Rust or
/// PHP path: most colons of source code), which no credential's name is written before; and the
/// first dash of each `--` (`options`: a dash followed by a dash), where an option starts.
inline std::uint64_t operators(std::uint64_t colons, std::uint64_t equals, std::uint64_t options) {
  const std::uint64_t pairs = colons & (colons >> 1);  // a colon followed by a colon
  return (colons & ~(pairs | pairs << 1)) | equals | options;
}

#if defined(__SSE2__)
/// The bytes of p[0, 64) equal to `c`, as a mask.
std::uint64_t bytes_sse2(const char* p, char c) {
  std::uint64_t m = 0;
  for (int k = 0; k < 4; ++k) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    m |= static_cast<std::uint64_t>(
             static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c)))))
         << (16 * k);
  }
  return m;
}
#endif

#if defined(SB_OPERATORS_AVX2)
/// The lanes of two 32-byte compares as one 64-bit mask.
__attribute__((target("avx2"))) inline std::uint64_t lanes(__m256i lo, __m256i hi) {
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(lo)) |
         static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm256_movemask_epi8(hi))) << 32;
}

/// operator_blocks_sse2 in two 32-byte compares a block for each sign; the masks only for a block
/// that holds one (prose has an operator every few hundred bytes).
__attribute__((target("avx2"))) std::size_t operator_blocks_avx2(std::string_view buf,
                                                                 std::size_t& next,
                                                                 std::vector<Span>& out) {
  const __m256i colon = _mm256_set1_epi8(':');
  const __m256i equal = _mm256_set1_epi8('=');
  const __m256i dash = _mm256_set1_epi8('-');
  std::size_t i = 0;
  for (; i + 65 <= buf.size(); i += 64) {  // the dashes' second compare reads one byte further
    const char* p = buf.data() + i;
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const __m256i ca = _mm256_cmpeq_epi8(a, colon);
    const __m256i cb = _mm256_cmpeq_epi8(b, colon);
    const __m256i ea = _mm256_cmpeq_epi8(a, equal);
    const __m256i eb = _mm256_cmpeq_epi8(b, equal);
    // A dash followed by a dash: an option's start (a dash alone, in prose's words, is none).
    const __m256i oa = _mm256_and_si256(
        _mm256_cmpeq_epi8(a, dash),
        _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1)), dash));
    const __m256i ob = _mm256_and_si256(
        _mm256_cmpeq_epi8(b, dash),
        _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 33)), dash));
    const __m256i any = _mm256_or_si256(
        _mm256_or_si256(_mm256_or_si256(ca, cb), _mm256_or_si256(ea, eb)), _mm256_or_si256(oa, ob));
    if (_mm256_testz_si256(any, any) == 0) {
      operator_values(buf, i, operators(lanes(ca, cb), lanes(ea, eb), lanes(oa, ob)), next, out);
    }
  }
  return i;
}
#endif

std::size_t operator_blocks_sse2(std::string_view buf, std::size_t& next, std::vector<Span>& out) {
  std::size_t i = 0;
#if defined(__SSE2__)
  for (; i + 65 <= buf.size(); i += 64) {  // the dashes' second compare reads one byte further
    const char* p = buf.data() + i;
    const std::uint64_t options = bytes_sse2(p, '-') & bytes_sse2(p + 1, '-');
    operator_values(buf, i, operators(bytes_sse2(p, ':'), bytes_sse2(p, '='), options), next, out);
  }
#endif
  return i;
}

/// The operators and options after the blocks (from `i`), one by one.
void operator_tail(std::string_view buf, std::size_t i, std::size_t next, std::vector<Span>& out) {
  for (; i < buf.size(); ++i) {
    const char c = buf[i];
    if (i < next) {
      continue;
    }
    if ((c == ':' || c == '=') && may_follow_a_name(buf, i)) {
      operator_value(buf, i, next, out);
    } else if (c == '-' && may_start_an_option(buf, i)) {
      option_value(buf, i, next, out);
    }
  }
}

}  // namespace

bool credential_at_operator(std::string_view buf, std::size_t op, Span& out, std::size_t& next) {
  if (buf[op] == '-') {
    return may_start_an_option(buf, op) && credential_after_option(buf, op, out, next);
  }
  const std::size_t e = name_end(buf, op);
  return may_end_a_name(buf, e) && credential_at(buf, op, e, out, next);
}

void credentials_with(std::string_view buf, std::vector<Span>& out, bool avx2) {
  std::size_t next = 0;
  std::size_t i = 0;
#if defined(SB_OPERATORS_AVX2)
  i = avx2 ? operator_blocks_avx2(buf, next, out) : operator_blocks_sse2(buf, next, out);
#else
  (void)avx2;
  i = operator_blocks_sse2(buf, next, out);
#endif
  operator_tail(buf, i, next, out);
}

void credentials(std::string_view buf, std::vector<Span>& out) {
  credentials_with(buf, out, cpu::has_avx2());
}

}  // namespace sb::policies::rules
