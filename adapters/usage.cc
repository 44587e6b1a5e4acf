#include "adapters/usage.h"
#include "adapters/json_edit.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// A token count: a non-negative integer that fits int64. OpenAI sends integers only, so a
/// double (even 12.0) is treated as malformed.
std::optional<std::int64_t> count_of(const json::value& v) {
  if (const auto* i = v.if_int64()) {
    return *i >= 0 ? std::optional<std::int64_t>(*i) : std::nullopt;
  }
  if (const auto* u = v.if_uint64()) {
    if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(*u);
    }
  }
  return std::nullopt;
}

/// Reads an optional nested counter (`usage.<details>.<name>`) into `out`. Absent or null at
/// either level leaves 0; false when present but malformed.
bool optional_count(const json::object& usage, std::string_view details, std::string_view name,
                    std::int64_t& out) {
  const json::value* d = usage.if_contains(details);
  if (d == nullptr || d->is_null()) {
    return true;
  }
  const json::object* obj = d->if_object();
  if (obj == nullptr) {
    return false;
  }
  const json::value* v = obj->if_contains(name);
  if (v == nullptr || v->is_null()) {
    return true;
  }
  const auto n = count_of(*v);
  if (!n) {
    return false;
  }
  out = *n;
  return true;
}

}  // namespace

std::optional<Usage> usage_from_openai_usage(const json::value& usage) {
  const json::object* obj = usage.if_object();
  if (obj == nullptr) {
    return std::nullopt;
  }
  const json::value* prompt = obj->if_contains("prompt_tokens");
  const json::value* completion = obj->if_contains("completion_tokens");
  if (prompt == nullptr || completion == nullptr) {
    return std::nullopt;
  }
  const auto input = count_of(*prompt);
  const auto output = count_of(*completion);
  if (!input || !output) {
    return std::nullopt;
  }
  Usage u;
  u.input = *input;
  u.output = *output;
  if (!optional_count(*obj, "prompt_tokens_details", "cached_tokens", u.cached_input) ||
      !optional_count(*obj, "completion_tokens_details", "reasoning_tokens", u.reasoning)) {
    return std::nullopt;
  }
  if (const json::value* w = obj->if_contains("cache_creation_input_tokens");
      w != nullptr && !w->is_null()) {
    const auto n = count_of(*w);
    if (!n) {
      return std::nullopt;
    }
    u.cache_write = *n;
  }
  return u;
}

std::optional<Usage> usage_from_openai(const json::value& response) {
  const json::object* obj = response.if_object();
  if (obj == nullptr) {
    return std::nullopt;
  }
  const json::value* usage = obj->if_contains("usage");
  if (usage == nullptr) {
    return std::nullopt;
  }
  return usage_from_openai_usage(*usage);
}

std::optional<Usage> usage_from_openai_text(std::string_view json_text) {
  // The usage member (the last one, as a parser keeps it) from the answer's end when it stands
  // there, else from one scan of the top level; only that small value is read, in one SAX pass:
  // the answer itself is never built as a DOM. A usage member standing at the end is read where
  // it stands, by the pass that finds where it ends.
  // Read whole but followed by more than scalars: not the end, and a second look from the end
  // would find the same; the scan below finds the member.
  bool read_whole = false;
  if (std::size_t at = tail_member_begin(json_text, "usage"); at != std::string_view::npos) {
    std::optional<Usage> read;
    read_whole = read_usage_at(json_text, at, read);
    if (read_whole && tail_closes(json_text, at)) {
      return read;
    }
  }
  std::optional<std::string_view> usage =
      read_whole ? std::nullopt : tail_member_value(json_text, "usage");
  if (!usage) {
    thread_local std::vector<JsonMember> members;
    usage = last_member_value(json_text, "usage", members);
  }
  if (!usage) {
    return std::nullopt;
  }
  return usage_from_openai_usage_text(*usage);
}

}  // namespace sb::adapters
