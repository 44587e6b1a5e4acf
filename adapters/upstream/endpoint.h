#pragma once
// Where an upstream lives, parsed once from a backend's base_url at config load.

#include <optional>
#include <string>
#include <string_view>

namespace sb::upstream {

struct Endpoint {
  std::string host;       ///< host name or IP literal (no brackets); used for Host, SNI, verify
  std::string port;       ///< always set ("80"/"443" by default)
  bool tls = false;       ///< https
  std::string base_path;  ///< path prefix without trailing slash, e.g. "/v1" (may be empty)

  /// Parses `http(s)://host[:port][/path]`. Rejects other schemes, userinfo, query, fragment,
  /// empty host and bad ports. nullopt on error.
  static std::optional<Endpoint> parse(std::string_view url);

  /// The Host header value: host, or host:port when the port is not the scheme's default
  /// (IPv6 literals bracketed).
  std::string host_header() const;
  /// The same, written into `out` (replacing what it held; its storage reused).
  void host_header(std::string& out) const;
  /// Key for connection pooling: scheme, host and port.
  std::string pool_key() const;
};

}  // namespace sb::upstream
