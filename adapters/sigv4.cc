#include "adapters/sigv4.h"

#include "adapters/json_edit.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "adapters/translate_common.h"

namespace sb::adapters {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHexLower[] = "0123456789abcdef";

using Digest = std::array<unsigned char, 32>;

Digest hmac(std::string_view key, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::string_view as_view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.resize(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexLower[p[i] >> 4];
    out[2 * i + 1] = kHexLower[p[i] & 0x0F];
  }
  return out;
}

/// Decodes %XX escapes (a malformed escape is kept literally). '+' stays '+': SigV4 query
/// components are RFC 3986, not form encoding.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

/// RFC 3986 dot-segment removal plus collapse of empty segments, keeping a trailing slash.
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t end = path.find('/', pos);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    const std::string_view seg = path.substr(pos, end - pos);
    if (seg == "..") {
      if (!segments.empty()) {
        segments.pop_back();
      }
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = end + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) {
      out.push_back('/');
    }
    out.append(segments[i]);
  }
  if (!segments.empty() && !path.empty() && path.back() == '/') {
    out.push_back('/');
  }
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t pos = 0;
  while (pos < query.size()) {
    std::size_t end = query.find('&', pos);
    if (end == std::string_view::npos) {
      end = query.size();
    }
    const std::string_view param = query.substr(pos, end - pos);
    pos = end + 1;
    if (param.empty()) {
      continue;
    }
    const std::size_t eq = param.find('=');
    const std::string_view name = param.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    params.emplace_back(sigv4_uri_encode(percent_decode(name), false),
                        sigv4_uri_encode(percent_decode(value), false));
  }
  // Sorted by encoded name, then by value (byte order), as the docs require.
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out.append(name);
    out.push_back('=');
    out.append(value);
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/// Trims the value and turns every run of whitespace inside it into one space ("Trimall").
std::string trim_all(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (const char c : v) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    out.push_back(c);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool signer_owned(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-security-token" || lower_name == "x-amz-content-sha256" ||
         lower_name == "authorization";
}

bool valid_amz_date(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') {
    return false;
  }
  for (std::size_t i = 0; i < 15; ++i) {
    if (i != 8 && (d[i] < '0' || d[i] > '9')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string sigv4_uri_encode(std::string_view s, bool keep_slash) {
  return percent_encode(s, keep_slash);
}

std::string sha256_hex(std::string_view data) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return hex(d.data(), d.size());
}

std::string format_amz_date(std::int64_t unix_seconds) {
  // Days to civil date (H. Hinnant's algorithm), valid for the whole proleptic Gregorian range.
  std::int64_t days = unix_seconds / 86400;
  std::int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::array<char, 32> buf{};
  auto put = [&](std::size_t at, std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, year, 4);
  put(4, month, 2);
  put(6, day, 2);
  buf[8] = 'T';
  put(9, secs / 3600, 2);
  put(11, secs / 60 % 60, 2);
  put(13, secs % 60, 2);
  buf[15] = 'Z';
  return std::string(buf.data(), 16);
}

namespace {

/// The headers signed: the request's (lower-case names, values trimmed, duplicates joined with
/// ',' in order; the signer's own skipped), then host, x-amz-date, and the payload hash and
/// session token when sent. Sorted by name, as the canonical request lists them.
std::map<std::string, std::string> signed_headers(const SigV4Request& request,
                                                  const SigV4Credentials& credentials,
                                                  const SigV4Options& options,
                                                  const SigV4Result& r) {
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(trim_all(name));
    if (key.empty() || signer_owned(key)) {
      continue;
    }
    std::string v = trim_all(value);
    auto [it, inserted] = headers.try_emplace(std::move(key), v);
    if (!inserted) {
      it->second.push_back(',');
      it->second.append(v);
    }
  }
  headers["host"] = trim_all(request.host);
  headers["x-amz-date"] = r.amz_date;
  if (options.content_sha256_header) {
    headers["x-amz-content-sha256"] = r.payload_sha256;
  }
  if (!credentials.session_token.empty()) {
    headers["x-amz-security-token"] = trim_all(credentials.session_token);
  }
  return headers;
}

/// The canonical request (task 1 of the signing process), with r.signed_headers set.
void canonical_request(const SigV4Request& request, const SigV4Options& options,
                       const std::map<std::string, std::string>& headers, SigV4Result& r) {
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers.append(name).append(":").append(value).append("\n");
    if (!r.signed_headers.empty()) {
      r.signed_headers.push_back(';');
    }
    r.signed_headers.append(name);
  }
  std::string path = options.normalize_path
                         ? normalize_path(request.path)
                         : std::string(request.path.empty() ? "/" : request.path);
  if (options.double_encode_path) {
    path = sigv4_uri_encode(path, true);
  }
  r.canonical_request.reserve(256 + canonical_headers.size() + path.size() + request.query.size());
  r.canonical_request.append(request.method).append("\n");
  r.canonical_request.append(path).append("\n");
  r.canonical_request.append(canonical_query(request.query)).append("\n");
  r.canonical_request.append(canonical_headers).append("\n");
  r.canonical_request.append(r.signed_headers).append("\n");
  r.canonical_request.append(r.payload_sha256);
}

/// The signature of r.string_to_sign with the key derived for `date`, region and service.
std::string signature(const SigV4Credentials& credentials, const SigV4Options& options,
                      std::string_view date, const SigV4Result& r) {
  std::string secret = "AWS4";
  secret.append(credentials.secret_access_key);
  const Digest k_date = hmac(secret, date);
  const Digest k_region = hmac(as_view(k_date), options.region);
  const Digest k_service = hmac(as_view(k_region), options.service);
  const Digest k_signing = hmac(as_view(k_service), "aws4_request");
  const Digest sig = hmac(as_view(k_signing), r.string_to_sign);
  return hex(sig.data(), sig.size());
}

}  // namespace

std::optional<SigV4Result> sigv4_sign(const SigV4Request& request,
                                      const SigV4Credentials& credentials,
                                      const SigV4Options& options, std::string_view amz_date) {
  if (!valid_amz_date(amz_date) || request.method.empty() || request.host.empty() ||
      options.region.empty() || options.service.empty() || credentials.access_key_id.empty()) {
    return std::nullopt;
  }
  SigV4Result r;
  r.amz_date = std::string(amz_date);
  r.payload_sha256 = sha256_hex(request.payload);
  const std::string_view date = amz_date.substr(0, 8);
  std::map<std::string, std::string> headers = signed_headers(request, credentials, options, r);
  canonical_request(request, options, headers, r);

  std::string scope;
  scope.append(date).append("/").append(options.region).append("/");
  scope.append(options.service).append("/aws4_request");
  r.string_to_sign.append(kAlgorithm).append("\n");
  r.string_to_sign.append(amz_date).append("\n");
  r.string_to_sign.append(scope).append("\n");
  r.string_to_sign.append(sha256_hex(r.canonical_request));
  r.signature = signature(credentials, options, date, r);

  r.authorization.append(kAlgorithm).append(" Credential=").append(credentials.access_key_id);
  r.authorization.append("/").append(scope);
  r.authorization.append(", SignedHeaders=").append(r.signed_headers);
  r.authorization.append(", Signature=").append(r.signature);
  r.headers.emplace_back("x-amz-date", r.amz_date);
  if (options.content_sha256_header) {
    r.headers.emplace_back("x-amz-content-sha256", r.payload_sha256);
  }
  if (!credentials.session_token.empty()) {
    r.headers.emplace_back("x-amz-security-token", headers["x-amz-security-token"]);
  }
  r.headers.emplace_back("authorization", r.authorization);
  return r;
}

}  // namespace sb::adapters
