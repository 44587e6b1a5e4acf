#pragma once
// Operational log: one JSON object per line on stderr. Never pass prompt text or keys here.

#include <charconv>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sb::gateway::log {

enum class Level { debug, info, warn, error };

using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Writes `{"ts":...,"level":...,"msg":...,<fields>}` with one write(2) call (thread-safe).
void write(Level level, std::string_view msg, Fields fields = {});
inline void info(std::string_view msg, Fields f = {}) {
  write(Level::info, msg, f);
}
inline void warn(std::string_view msg, Fields f = {}) {
  write(Level::warn, msg, f);
}
inline void error(std::string_view msg, Fields f = {}) {
  write(Level::error, msg, f);
}

/// Appends `s` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);
/// Appends `v` as a JSON number (no temporary string).
template <class Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
/// Appends `v` as a JSON number, or null when there is none.
template <class Int>
void append_integer_or_null(std::string& out, const std::optional<Int>& v) {
  if (v) {
    append_integer(out, *v);
  } else {
    out += "null";
  }
}
/// RFC 3339 UTC timestamp with milliseconds.
std::string now_rfc3339();
/// Appends the current time as a JSON string, "2026-11-23T15:40:41.288Z" (the calendar part is
/// formatted once per second per thread).
void append_timestamp(std::string& out);

}  // namespace sb::gateway::log
