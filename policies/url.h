#pragma once
// The one URL grammar of the config: `scheme://[userinfo@]host[:port][/path]`, with host a name,
// an IPv4 literal or an IPv6 literal in brackets. Backend base URLs (http, https) and the shared
// store's URL (redis, rediss) are both split here; each caller words its own messages from the
// typed problem and checks what only it cares about (credentials, a database path).
//
// Pure: no I/O. Thread-safety: none needed (free functions over values).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sb::config {

/// The value of a hex digit, or -1.
int hex_value(char c);

/// RFC 3986 percent-decoding; nullopt on a '%' without two hex digits after it.
std::optional<std::string> percent_decode(std::string_view s);

/// True when `s` holds a space, a control character or DEL.
bool has_space_or_control(std::string_view s);

/// A host name as a URL or an address may hold it: 1 to 253 of letters, digits, '.', '-', '_'.
bool valid_host_name(std::string_view host);

/// What is wrong with a URL or a host:port, in the order the parts are checked.
enum class UrlProblem {
  none,
  scheme,             ///< not one of the accepted schemes
  control,            ///< spaces or control characters
  query,              ///< a '?' or '#' outside the userinfo
  userinfo,           ///< credentials where none are allowed
  no_host,            ///< empty host
  ipv6_unterminated,  ///< '[' without ']'
  ipv6_trailing,      ///< something other than ':port' after ']'
  ipv6_invalid,       ///< not an IPv6 address between the brackets
  host_colons,        ///< several ':' in an unbracketed host:port
  host_invalid,       ///< not a valid host name
  port_missing,       ///< no ':port' where one is required
  port_invalid,       ///< not a decimal number in the accepted range
};

/// `host[:port]` or `[v6][:port]`, split. Views into the text parsed.
struct HostPort {
  std::string_view host;  ///< without brackets
  std::string_view port;  ///< empty when absent
  bool has_port = false;
  bool ipv6 = false;  ///< written in brackets
};

/// A parse result: the value, or the problem and the part it is about (the host, the port, ...).
template <class T>
struct Parsed {
  std::optional<T> value;
  UrlProblem problem = UrlProblem::none;
  std::string_view part;
};

/// Splits `host[:port]`; `port_required` refuses a missing port. The port is returned as written,
/// its range is the caller's (a listen address may use 0).
Parsed<HostPort> parse_host_port(std::string_view text, bool port_required);

/// A URL split into parts (views into the text parsed).
struct Url {
  std::string_view scheme;                   ///< as written (compare case-insensitively)
  std::optional<std::string_view> userinfo;  ///< before the last '@' of the authority
  std::string_view authority;                ///< userinfo@host:port as written
  HostPort host;
  std::uint16_t port = 0;  ///< the port when given, else 0
  std::string_view path;   ///< from the first '/' after the authority; may be empty
};

/// Parses `scheme://[userinfo@]host[:port][/path]` with a scheme from `schemes` (lower-case,
/// matched case-insensitively) and a port from 1 to 65535. No query or fragment.
Parsed<Url> parse_url(std::string_view text, std::span<const std::string_view> schemes,
                      bool allow_userinfo);

/// The wording of the problems that backend base URLs and the shared store's URL word alike:
/// spaces or control characters, a query or fragment, and (for any other problem) no host.
std::string_view common_url_problem(UrlProblem problem);

}  // namespace sb::config
