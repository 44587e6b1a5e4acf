// Built-in checks for secrets: cloud and API keys, tokens, private keys, JWTs (formats in
// detector_rules.h).

#include <algorithm>
#include <array>
#include <cstdint>

#include "policies/detector_rules_internal.h"
#include "policies/validators.h"

namespace sb::policies::rules {

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
// Credentials in a URL: `scheme://user:password@host`, the `@` reported by the email rule.

namespace {

/// What the userinfo of a URL may hold as people write it (RFC 3986 wants `@`, `/`, `?` and `#`
/// percent-encoded; a pasted connection string often has them raw, and a raw `@` is taken).
bool is_userinfo_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f && c != '/' && c != '?' && c != '#' && c != '"' && c != '\'' &&
         c != '<' && c != '>' && c != '`' && c != '\\' && c != '[' && c != ']' && c != '(' &&
         c != ')' && c != ',' && c != ';';
}
bool is_host_char(char c) {
  return is_domain_char(c) || c == '_';  // a compose file's service names take `_`
}

bool equals_caseless(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](char x, char y) { return to_lower(x) == to_lower(y); });
}

}  // namespace

bool placeholder_password(std::string_view pw) {
  for (std::string_view word : {"password", "passwd", "pass", "pwd", "pw", "secret", "changeme",
                                "your_password", "yourpassword", "mypassword"}) {
    if (equals_caseless(pw, word)) {
      return true;
    }
  }
  if (pw.find_first_not_of(pw.front()) == std::string_view::npos) {
    return true;  // one character repeated, or one character
  }
  const char first = pw.front();
  const char last = pw.back();
  return first == '$' || (first == '<' && last == '>') || (first == '{' && last == '}') ||
         (first == '%' && pw.size() <= 2) || (pw.starts_with("%(") && pw.ends_with(")s"));
}

bool url_userinfo(std::string_view buf, std::size_t at_sign, Span& url) {
  // Back over the userinfo: at most kMaxUserinfo bytes and two more `@`, so that a text of many
  // `@` costs each byte at most three walks.
  std::size_t u = at_sign;
  int ats = 0;
  while (u > 0 && is_userinfo_char(buf[u - 1])) {
    if (at_sign - u == kMaxUserinfo || (buf[u - 1] == '@' && ++ats > 2)) {
      return false;
    }
    --u;
  }
  if (u < 3 || buf[u - 1] != '/' || buf[u - 2] != '/' || buf[u - 3] != ':') {
    return false;
  }
  const std::size_t colon = u - 3;
  const std::size_t scheme = run_start(buf, colon, is_scheme_char, 32);
  if (scheme == npos || scheme == colon || !is_alpha(buf[scheme])) {
    return false;
  }
  url = Span{scheme, u};
  return true;
}

// `[` + an IPv6 address (at most 45 characters, zone aside) + `]`, with room for a zone.
constexpr std::size_t kMaxIpLiteral = 66;

bool url_credentials(std::string_view buf, std::size_t to, Span& out) {
  const std::size_t at_sign = to - 1;
  Span url;
  if (!url_userinfo(buf, at_sign, url)) {
    return false;
  }
  const std::size_t u = url.end;
  // The userinfo's first `:` separates the user (possibly empty) from the password.
  const std::string_view userinfo = buf.substr(u, at_sign - u);
  const std::size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos || colon + 1 == userinfo.size() ||
      placeholder_password(userinfo.substr(colon + 1))) {
    return false;
  }
  // The host (a name or an IPv6 literal) and its port: the value ends there, so that an
  // allow-list entry or the reserved domains can name the host.
  std::size_t e = at_sign + 1;
  if (at(buf, e) == '[') {
    const std::size_t close = buf.substr(e, kMaxIpLiteral).find(']');  // bounded: no rescan
    if (close == std::string_view::npos) {
      return false;
    }
    e += close + 1;
  } else {
    while (e < buf.size() && is_host_char(buf[e]) && e - at_sign <= 253) {
      ++e;
    }
    while (e > at_sign + 1 && buf[e - 1] == '.') {
      --e;  // the dot that ends a sentence
    }
  }
  if (e == at_sign + 1) {
    return false;
  }
  if (at(buf, e) == ':' && is_digit(at(buf, e + 1))) {
    const std::size_t port = ++e;
    while (e < buf.size() && is_digit(buf[e]) && e - port < 5) {
      ++e;
    }
  }
  out = Span{url.begin, e};
  return true;
}

// ---------------------------------------------------------------------------------------------
// Service tokens with a prefix of their own: the prefix and a body of known characters and length,
// standing alone (the run of the token's characters around it holds nothing else).

namespace {

bool is_lower_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}

struct Prefixed {
  std::string_view prefix;
  bool (*run)(char);   ///< the characters that continue the token (its boundary)
  bool (*body)(char);  ///< what the body after the prefix is made of
  std::size_t min;
  std::size_t max;
};

/// The run of `f.run` characters ending at the report, when it is `f.prefix` and a body of
/// `f.min`..`f.max` `f.body` characters.
bool prefixed(std::string_view buf, std::size_t to, const Prefixed& f, Span& out) {
  const std::size_t e = trim_end(buf, to, f.run, 1);
  const std::size_t s = run_start(buf, e, f.run, f.prefix.size() + f.max);
  if (s == npos || f.run(at(buf, e))) {
    return false;
  }
  const std::string_view key = buf.substr(s, e - s);
  if (!key.starts_with(f.prefix)) {
    return false;
  }
  const std::string_view body = key.substr(f.prefix.size());
  if (body.size() < f.min || body.size() > f.max || !all_of(body, f.body)) {
    return false;
  }
  out = Span{s, e};
  return true;
}

}  // namespace

bool google_api_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, {"AIza", is_token, is_token, 35, 35}, out);
}

bool stripe_key(std::string_view buf, std::size_t to, Span& out) {
  for (std::string_view prefix : {"sk_live_", "rk_live_", "sk_test_", "rk_test_"}) {
    if (prefixed(buf, to, {prefix, is_word, is_alnum, 10, 247}, out)) {
      return true;
    }
  }
  return false;
}

bool gitlab_token(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, {"glpat-", is_token, is_token, 20, 300}, out);
}

bool huggingface_token(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, {"hf_", is_word, is_alnum, 34, 34}, out);
}

bool openrouter_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, {"sk-or-v1-", is_token, is_lower_hex, 64, 64}, out);
}

bool deepseek_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, {"sk-", is_token, is_lower_hex, 32, 32}, out);
}

// ---------------------------------------------------------------------------------------------
// Service tokens found from the runs of digits (token_anchors), not by Hyperscan: their prefixes
// as literals would cost every scan more than their search does (detector_rules.h).

namespace {

constexpr Prefixed kNpm{"npm_", is_word, is_alnum, 36, 36};
constexpr Prefixed kGroq{"gsk_", is_word, is_alnum, 52, 52};
constexpr Prefixed kXai{"xai-", is_token, is_alnum, 80, 80};
constexpr Prefixed kPerplexity{"pplx-", is_token, is_alnum, 48, 48};
constexpr const Prefixed* kFromDigits[] = {&kNpm, &kGroq, &kXai, &kPerplexity};
constexpr std::size_t kMaxFromDigits = 85;  ///< the longest of them, prefix included

}  // namespace

bool npm_token(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, kNpm, out);
}
bool groq_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, kGroq, out);
}
bool xai_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, kXai, out);
}
bool perplexity_key(std::string_view buf, std::size_t to, Span& out) {
  return prefixed(buf, to, kPerplexity, out);
}

void token_anchors(std::string_view buf, std::span<const Span> runs,
                   std::vector<std::size_t>& ends) {
  // A byte's class, by table: 1 a letter or digit, 2 a token character (those and `_`, `-`).
  static const auto kClass = [] {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
      const auto ch = static_cast<char>(c);
      t[static_cast<std::size_t>(c)] =
          static_cast<std::uint8_t>((is_alnum(ch) ? 1 : 0) | (is_token(ch) ? 2 : 0));
    }
    return t;
  }();
  const auto is = [&](std::size_t i, unsigned cls) {
    return i < buf.size() && (kClass[static_cast<unsigned char>(buf[i])] & cls) != 0;
  };
  std::size_t walked = 0;  // the walks left stop here: each byte is walked at most once
  for (const Span& r : runs) {
    if ((r.begin == 0 || !is(r.begin - 1, 2)) && !is(r.end, 2)) {
      continue;  // a number standing alone
    }
    // Left over the letters and digits of a token's body (theirs hold nothing else) to the
    // prefix's `_` or `-`: only a body's first run of digits gets there, as the walk of a later
    // one stops where the last walk ended.
    std::size_t s = r.begin;
    while (s > walked && is(s - 1, 1) && r.begin - s < kMaxFromDigits) {
      --s;
    }
    walked = r.end;
    const char sep = before(buf, s);
    if (sep != '_' && sep != '-') {
      continue;
    }
    for (const Prefixed* f : kFromDigits) {
      const std::size_t p = f->prefix.size();
      if (s >= p && buf.substr(s - p, p) == f->prefix && !is_token(before(buf, s - p))) {
        // Where the token's own characters end (`npm_…` is not continued by a `-`).
        const std::size_t token = s - p;
        std::size_t end = s;
        while (end < buf.size() && end - token <= kMaxFromDigits && f->run(buf[end])) {
          ++end;
        }
        ends.push_back(end);
        break;
      }
    }
  }
}

}  // namespace sb::policies::rules
