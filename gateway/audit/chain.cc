// Sealing and checking audit lines: HMAC-SHA256 over the bytes before `,"mac":`.
#include "gateway/audit/chain.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <memory>

namespace sb::gateway::audit {
namespace {

constexpr std::string_view kSeqKey = ",\"seq\":";
constexpr std::string_view kPrevKey = ",\"prev\":\"";
constexpr std::string_view kMacKey = ",\"mac\":\"";
constexpr std::size_t kHex = 64;
// `,"mac":"<64 hex>"}` and `,"prev":"<64 hex>"`.
constexpr std::size_t kMacSuffix = kMacKey.size() + kHex + 2;
constexpr std::size_t kPrevSuffix = kPrevKey.size() + kHex + 1;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

bool is_hex(std::string_view s) {
  return s.size() == kHex && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

struct Hmac::Contexts {
  EVP_MD_CTX* inner = EVP_MD_CTX_new();  // SHA-256 state after (key ^ ipad)
  EVP_MD_CTX* outer = EVP_MD_CTX_new();  // SHA-256 state after (key ^ opad)
  EVP_MD_CTX* work = EVP_MD_CTX_new();

  // Held only by Hmac's unique_ptr, never copied.
  ~Contexts() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    EVP_MD_CTX_free(work);
  }
};

Hmac::Hmac(std::string_view key) : c_(std::make_unique<Contexts>()) {
  constexpr std::size_t kBlock = 64;  // SHA-256's block size
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    unsigned int n = 0;
    EVP_Digest(key.data(), key.size(), k, &n, EVP_sha256(), nullptr);
  } else {
    std::copy(key.begin(), key.end(), k);
  }
  unsigned char pad[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) {
    pad[i] = k[i] ^ 0x36;
  }
  EVP_DigestInit_ex(c_->inner, EVP_sha256(), nullptr);
  EVP_DigestUpdate(c_->inner, pad, kBlock);
  for (std::size_t i = 0; i < kBlock; ++i) {
    pad[i] = k[i] ^ 0x5c;
  }
  EVP_DigestInit_ex(c_->outer, EVP_sha256(), nullptr);
  EVP_DigestUpdate(c_->outer, pad, kBlock);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
}

Hmac::~Hmac() = default;

std::string Hmac::hex(std::string_view data) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX_copy_ex(c_->work, c_->inner);
  EVP_DigestUpdate(c_->work, data.data(), data.size());
  EVP_DigestFinal_ex(c_->work, digest, &n);
  EVP_MD_CTX_copy_ex(c_->work, c_->outer);
  EVP_DigestUpdate(c_->work, digest, n);
  EVP_DigestFinal_ex(c_->work, digest, &n);
  return to_hex(digest, n);
}

std::string hmac_hex(std::string_view key, std::string_view data) {
  return Hmac(key).hex(data);
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return to_hex(out, n);
}

void seal(std::string_view key, std::string_view body, ChainState& state, std::string& out) {
  seal(Hmac(key), body, state, out);
}

CheckedLine check_line(std::string_view key, std::string_view line) {
  return check_line(Hmac(key), line);
}

void seal(const Hmac& hmac, std::string_view body, ChainState& state, std::string& out) {
  const std::size_t start = out.size();
  out += body;
  out += kSeqKey;
  out += std::to_string(state.seq + 1);
  out += kPrevKey;
  out += state.mac;
  out += '"';
  std::string mac = hmac.hex(std::string_view(out).substr(start));
  out += kMacKey;
  out += mac;
  out += "\"}\n";
  state.seq += 1;
  state.mac = std::move(mac);
}

CheckedLine check_line(const Hmac& hmac, std::string_view line) {
  CheckedLine c;
  if (line.size() < kMacSuffix + kPrevSuffix + kSeqKey.size() + 2 || line.front() != '{' ||
      !line.ends_with("\"}")) {
    return c;
  }
  const std::string_view sealed = line.substr(0, line.size() - kMacSuffix);
  const std::string_view mac_part = line.substr(sealed.size());
  if (!mac_part.starts_with(kMacKey)) {
    return c;
  }
  c.mac = mac_part.substr(kMacKey.size(), kHex);
  const std::string_view prev_part = sealed.substr(sealed.size() - kPrevSuffix);
  if (!is_hex(c.mac) || !prev_part.starts_with(kPrevKey) || !prev_part.ends_with('"')) {
    return c;
  }
  c.prev = prev_part.substr(kPrevKey.size(), kHex);
  const std::string_view before_prev = sealed.substr(0, sealed.size() - kPrevSuffix);
  const std::size_t seq_at = before_prev.rfind(kSeqKey);
  if (!is_hex(c.prev) || seq_at == std::string_view::npos) {
    return c;
  }
  const std::string_view digits = before_prev.substr(seq_at + kSeqKey.size());
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), c.seq);
  if (ec != std::errc() || end != digits.data() + digits.size() || c.seq == 0) {
    return c;
  }
  c.body = before_prev.substr(0, seq_at);
  const std::string expected = hmac.hex(sealed);
  c.status = CRYPTO_memcmp(expected.data(), c.mac.data(), kHex) == 0 ? CheckedLine::Status::ok
                                                                     : CheckedLine::Status::bad_mac;
  return c;
}

}  // namespace sb::gateway::audit
