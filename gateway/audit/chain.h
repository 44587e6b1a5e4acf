#pragma once
// The audit trail's chain (schema v1): a line is the gateway's BODY (a JSON object's text without
// its closing brace) followed by `,"seq":N,"prev":"<64 hex>","mac":"<64 hex>"}\n`, where `prev`
// is the previous line's mac (64 zeros before the first line) and `mac` is HMAC-SHA256(key, every
// byte of the line before `,"mac":`).
//
// Pure functions; thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sb::gateway::audit {

/// `prev` of a trail's first line.
inline constexpr std::string_view kZeroMac =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a chain stands: the last line's seq (0 before the first line) and mac.
struct ChainState {
  std::uint64_t seq = 0;
  std::string mac{kZeroMac};
};

/// HMAC-SHA256 with its key's inner and outer pad states computed once (RFC 2104), so a line
/// costs two SHA-256 context copies instead of a key setup. The pad states are key material;
/// they live in OpenSSL's heap for the object's lifetime. Not thread-safe: one per thread.
class Hmac {
 public:
  explicit Hmac(std::string_view key);
  ~Hmac();
  /// Lowercase hex of HMAC-SHA256(key, data).
  std::string hex(std::string_view data) const;

 private:
  struct Contexts;
  std::unique_ptr<Contexts> c_;  // not copyable: the contexts are owned once
};

/// Lowercase hex of HMAC-SHA256(key, data).
std::string hmac_hex(std::string_view key, std::string_view data);
/// Lowercase hex of SHA-256(data).
std::string sha256_hex(std::string_view data);

/// Appends the sealed line for `body` (ending in '\n') to `out` and advances `state`.
void seal(const Hmac& mac, std::string_view body, ChainState& state, std::string& out);
void seal(std::string_view key, std::string_view body, ChainState& state, std::string& out);

/// One line checked on its own (no chain context).
struct CheckedLine {
  enum class Status { ok, unparseable, bad_mac };
  Status status = Status::unparseable;
  std::uint64_t seq = 0;
  std::string_view prev;  ///< into the line
  std::string_view mac;   ///< into the line
  std::string_view body;  ///< the gateway's body (before `,"seq":`)
};

/// Splits `line` (without its '\n'), recomputes its mac with `key` and compares it in constant
/// time. `unparseable` when the line does not end in the seal's shape.
CheckedLine check_line(const Hmac& mac, std::string_view line);
CheckedLine check_line(std::string_view key, std::string_view line);

}  // namespace sb::gateway::audit
