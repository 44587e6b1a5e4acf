#pragma once
// A JSON log line built by pointer: the access line and the decision line (about 60 pieces each,
// every request) are written into an inline buffer, each piece a room check, a copy and a bump,
// instead of one out-of-line std::string append per piece. Past the inline room the line moves to
// the heap (rare: a decision line with many long header names). The same helpers as log.h's.

#include <charconv>
#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sb::gateway::log {

class JsonLine {
 public:
  JsonLine() = default;
  JsonLine(const JsonLine&) = delete;
  JsonLine& operator=(const JsonLine&) = delete;

  std::string_view view() const { return {begin_, static_cast<std::size_t>(p_ - begin_)}; }
  /// The line as a string, with room for `spare` more bytes (a closing the caller appends).
  std::string str(std::size_t spare = 0) const {
    std::string s;
    s.reserve(view().size() + spare);
    s.append(view());
    return s;
  }

  void append(const char* s, std::size_t n) {
    room(n);
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void append(const char* b, const char* e) { append(b, static_cast<std::size_t>(e - b)); }
  void push_back(char c) {
    room(1);
    *p_++ = c;
  }
  JsonLine& operator+=(std::string_view s) {
    append(s.data(), s.size());
    return *this;
  }
  JsonLine& operator+=(char c) {
    push_back(c);
    return *this;
  }

  /// At least `n` writable bytes at the returned pointer; commit() says where the writing ended.
  char* tail(std::size_t n) {
    room(n);
    return p_;
  }
  void commit(char* end) { p_ = end; }

 private:
  void room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) {
      grow(n);
    }
  }
  void grow(std::size_t n);

  char inline_[2048];
  std::unique_ptr<char[]> heap_;
  char* begin_ = inline_;
  char* p_ = inline_;
  char* end_ = inline_ + sizeof inline_;
};

/// Writes `s` JSON-escaped (no quotes) at `dst`, which has room for 6 bytes per byte of `s`;
/// returns the end. The one escape of every log line.
char* escape_json(char* dst, std::string_view s);

/// As log.h's append_json_string: `s` as a JSON string literal, quotes included.
void append_json_string(JsonLine& out, std::string_view s);

template <class Int>
void append_integer(JsonLine& out, Int v) {
  char* p = out.tail(24);
  out.commit(std::to_chars(p, p + 24, v).ptr);
}

template <class Int>
void append_integer_or_null(JsonLine& out, const std::optional<Int>& v) {
  if (v) {
    append_integer(out, *v);
  } else {
    out += "null";
  }
}

/// The current time as a JSON string, as log.h's append_timestamp.
void append_timestamp(JsonLine& out);

/// `v` in fixed notation with `precision` decimals (0 to 6), rounded to the nearest, half away
/// from zero, of v×10^precision; values past 10^12 and non-finite ones as std::to_chars writes
/// them.
void append_fixed(JsonLine& out, double v, int precision);

}  // namespace sb::gateway::log
