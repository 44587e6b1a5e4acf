#pragma once
// `state.url`: the Redis URL grammar the config accepts, parsed into its parts.
//
//   redis://[[user][:password]@]host[:port][/db]      rediss://... for TLS
//
// host is a name, an IPv4 literal or an IPv6 literal in brackets; user and password are
// percent-decoded; db is 0..kMaxRedisDatabase. No query, fragment or other path.
//
// Pure: no I/O. Thread-safety: none needed (free functions over values).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::config {

/// The highest database index accepted (Redis's default is 16 databases; `databases` may be
/// raised on the server, so the loader accepts up to 1023 and the server refuses what it lacks).
inline constexpr unsigned kMaxRedisDatabase = 1023;

struct RedisUrl {
  bool tls = false;  ///< rediss://
  std::string host;  ///< IPv6 without brackets
  std::uint16_t port = 6379;
  std::optional<unsigned> database;  ///< the /N path, when given
  std::string username;              ///< percent-decoded; empty when not given
  /// Percent-decoded. A secret: the caller moves it to secret memory and wipes this copy.
  std::optional<std::string> password;
};

/// Parses `url`; on failure returns nullopt and sets `problem` to one line that never contains
/// the URL's password.
std::optional<RedisUrl> parse_redis_url(std::string_view url, std::string& problem);

/// `url` with the password of its userinfo (if any) replaced by `***`, for messages and logs.
std::string redact_redis_url(std::string_view url);

}  // namespace sb::config
