#pragma once
// The SAX handler behind usage_from_openai_usage_text: an OpenAI `usage` value read by Boost.JSON's
// basic_parser under exactly the rules (and the JSON acceptance) of parsing it and calling
// usage_from_openai_usage: the last of duplicate keys wins, counts are non-negative integers,
// absent or null details read as 0. Internal to adapters/: a handler that reads a larger document
// (a stream chunk) forwards the events of its `usage` member's value here.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

#include "adapters/json_sax.h"
#include "adapters/usage.h"

namespace sb::adapters::usage_detail {

using boost::system::error_code;
using string_view = boost::json::string_view;

/// One count as the DOM rules read it: absent, null, a non-negative integer, or anything else.
struct Count {
  enum class State { absent, null, count, bad };
  State state = State::absent;
  std::int64_t value = 0;
};

/// What a member of `usage`, or of one of its details objects, stands for.
enum class Member {
  other,
  prompt,              // usage.prompt_tokens
  completion,          // usage.completion_tokens
  cache_write,         // usage.cache_creation_input_tokens
  prompt_details,      // usage.prompt_tokens_details
  completion_details,  // usage.completion_tokens_details
  detail,              // cached_tokens in prompt details, reasoning_tokens in completion details
};

class UsageSax : public SaxUnbounded {
 public:
  bool top_is_object = false;
  Count prompt, completion, cache_write;
  // A details member: absent, null, an object (its counter in `detail`), or anything else.
  struct Details {
    enum class State { absent, null, object, bad };
    State state = State::absent;
    Count detail;
  } prompt_details, completion_details;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    if (depth_ == 0) {
      top_is_object = true;
    } else if (Details* d = details_at(); d != nullptr && depth_ == 1) {
      *d = Details{Details::State::object, {}};  // its counter starts absent
    } else {
      value(Count::State::bad, 0);
    }
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return close(); }
  bool on_array_begin(error_code&) {
    if (depth_ > 0) {
      value(Count::State::bad, 0);
    }
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    parted_ = true;
    return gather(s);
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    // A key that arrives whole (no parts before it: the usual case) is read where it is; one in
    // parts is gathered. A key too long for key_ matches no member either way.
    std::string_view key(s.data(), s.size());
    if (parted_) {
      gather(s);
      key = std::string_view(key_, key_long_ ? 0 : key_len_);
    }
    if (depth_ == 1) {
      at1_ = key_long_ ? Member::other : top_member(key);
    } else if (depth_ == 2) {
      at2_ = (at1_ == Member::prompt_details && key == "cached_tokens") ||
                     (at1_ == Member::completion_details && key == "reasoning_tokens")
                 ? Member::detail
                 : Member::other;
    }
    key_len_ = 0;
    key_long_ = false;
    parted_ = false;
    return true;
  }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return value(Count::State::bad, 0); }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t v, string_view, error_code&) {
    return v >= 0 ? value(Count::State::count, v) : value(Count::State::bad, 0);
  }
  bool on_uint64(std::uint64_t v, string_view, error_code&) {
    return v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? value(Count::State::count, static_cast<std::int64_t>(v))
               : value(Count::State::bad, 0);
  }
  bool on_double(double, string_view, error_code&) { return value(Count::State::bad, 0); }
  bool on_bool(bool, error_code&) { return value(Count::State::bad, 0); }
  bool on_null(error_code&) { return value(Count::State::null, 0); }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  static Member top_member(std::string_view key) {
    if (key == "prompt_tokens") {
      return Member::prompt;
    }
    if (key == "completion_tokens") {
      return Member::completion;
    }
    if (key == "cache_creation_input_tokens") {
      return Member::cache_write;
    }
    if (key == "prompt_tokens_details") {
      return Member::prompt_details;
    }
    return key == "completion_tokens_details" ? Member::completion_details : Member::other;
  }

  bool gather(string_view s) {
    if (key_len_ + s.size() > sizeof key_) {
      key_long_ = true;  // longer than any member read here
    } else {
      for (const char c : s) {
        key_[key_len_++] = c;
      }
    }
    return true;
  }

  /// The details member the key at depth 1 names, or nullptr.
  Details* details_at() {
    if (at1_ == Member::prompt_details) {
      return &prompt_details;
    }
    return at1_ == Member::completion_details ? &completion_details : nullptr;
  }

  /// A value (a scalar, or the start of a container counted as `bad`) at the current depth.
  bool value(Count::State state, std::int64_t v) {
    Count* slot = nullptr;
    if (depth_ == 1) {
      if (Details* d = details_at()) {
        *d = Details{state == Count::State::null ? Details::State::null : Details::State::bad, {}};
        return true;
      }
      slot = at1_ == Member::prompt        ? &prompt
             : at1_ == Member::completion  ? &completion
             : at1_ == Member::cache_write ? &cache_write
                                           : nullptr;
    } else if (depth_ == 2 && at2_ == Member::detail) {
      slot = at1_ == Member::prompt_details ? &prompt_details.detail : &completion_details.detail;
    }
    if (slot != nullptr) {
      *slot = Count{state, v};
    }
    return true;
  }

  bool close() {
    --depth_;
    if (depth_ == 1) {
      at2_ = Member::other;
    }
    return true;
  }

  int depth_ = 0;
  // The member whose value comes next at depth 1 (inside a details object, at depth 2, the
  // details member itself) and at depth 2.
  Member at1_ = Member::other;
  Member at2_ = Member::other;
  char key_[32];
  std::size_t key_len_ = 0;
  bool key_long_ = false;
  bool parted_ = false;  ///< the current key came in parts (escapes, or split input)
};

/// usage_from_openai_usage's reading of an optional counter: true with `out` set (0 when absent
/// or null), false when present and not a count.
inline bool optional(const Count& c, std::int64_t& out) {
  if (c.state == Count::State::bad) {
    return false;
  }
  out = c.state == Count::State::count ? c.value : 0;
  return true;
}

inline bool optional(const UsageSax::Details& d, std::int64_t& out) {
  if (d.state == UsageSax::Details::State::bad) {
    return false;
  }
  out = 0;
  return d.state != UsageSax::Details::State::object || optional(d.detail, out);
}

/// The usage `h` read, under usage_from_openai_usage's rules.
inline std::optional<Usage> usage_of(const UsageSax& h) {
  if (!h.top_is_object || h.prompt.state != Count::State::count ||
      h.completion.state != Count::State::count) {
    return std::nullopt;
  }
  Usage u;
  u.input = h.prompt.value;
  u.output = h.completion.value;
  if (!optional(h.prompt_details, u.cached_input) || !optional(h.completion_details, u.reasoning) ||
      !optional(h.cache_write, u.cache_write)) {
    return std::nullopt;
  }
  return u;
}

/// The usual `usage` value at offset `at` of `text` read by hand into `h` (usage_text.cc): objects
/// four deep at most, ASCII keys without escapes, values that are objects, `null` or integers of
/// 0 to 18 digits, on which basic_parser would send `h` the same events. The offset past the value
/// and the whitespace after it; npos for anything else (then read it with basic_parser, with a
/// fresh handler).
std::size_t read_usual_usage(std::string_view text, std::size_t at, UsageSax& h);

}  // namespace sb::adapters::usage_detail
