// ChatChunkParser: the usual chunk read by hand (chat_chunk_usual.cc); any other, or one that
// reader gave up on, read again from the start by Boost.JSON's basic_parser fed the whole chunk
// in one write_some() call, and a handler that knows where it stands by a stack of contexts (the
// root, choices, a choice, its delta, tool_calls, a call, its function, the error object; anything
// else is `other`). A key names the member whose value comes next (`slot_`) and clears what that
// member held, so the last of duplicate keys wins as in the DOM. The `usage` member's value is
// forwarded, event by event, to the handler behind usage_from_openai_usage_text.
//
// Strings: one that arrives whole and points into the chunk (no escapes: Boost hands out the
// input itself) is kept as that view; any other is appended to `decoded_`, reserved to the
// chunk's size before the first. A decoded string is never longer than its JSON text, and those
// texts do not overlap, so the appends never reallocate and earlier views stay valid.

#include "adapters/chat_chunk.h"

#include <array>
#include <cstring>
#include <limits>

#include <boost/json/basic_parser_impl.hpp>

#include "adapters/chat_chunk_internal.h"
#include "adapters/json_sax.h"
#include "adapters/usage_sax.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using boost::system::error_code;
using json::string_view;
using usage_detail::UsageSax;

enum class Ctx : std::uint8_t { root, choices, choice, delta, calls, call, function, error, other };

/// The member whose value comes next.
enum class Slot : std::uint8_t {
  none,
  id,             // root
  choices,        // root
  error,          // root
  usage,          // root
  index,          // choice
  delta,          // choice
  finish_reason,  // choice
  content,        // delta
  refusal,
  reasoning_content,
  reasoning,
  tool_calls,
  call_index,  // call
  call_id,
  function,
  name,  // function
  arguments,
  error_type,  // error object
  error_code,
  error_message,
};

/// The slot key `k` names in a container of kind `ctx`; `body` is the name of a choice's body
/// ("delta" or "message").
Slot lookup(Ctx ctx, std::string_view k, std::string_view body) {
  switch (ctx) {
    case Ctx::root:
      return key_is(k, "id")        ? Slot::id
             : key_is(k, "choices") ? Slot::choices
             : key_is(k, "error")   ? Slot::error
             : key_is(k, "usage")   ? Slot::usage
                                    : Slot::none;
    case Ctx::choice:
      return key_is(k, "index")           ? Slot::index
             : k == body                  ? Slot::delta
             : key_is(k, "finish_reason") ? Slot::finish_reason
                                          : Slot::none;
    case Ctx::delta:
      return key_is(k, "content")             ? Slot::content
             : key_is(k, "refusal")           ? Slot::refusal
             : key_is(k, "reasoning_content") ? Slot::reasoning_content
             : key_is(k, "reasoning")         ? Slot::reasoning
             : key_is(k, "tool_calls")        ? Slot::tool_calls
                                              : Slot::none;
    case Ctx::call:
      return key_is(k, "index")      ? Slot::call_index
             : key_is(k, "id")       ? Slot::call_id
             : key_is(k, "function") ? Slot::function
                                     : Slot::none;
    case Ctx::function:
      return key_is(k, "name") ? Slot::name : key_is(k, "arguments") ? Slot::arguments : Slot::none;
    case Ctx::error:
      return key_is(k, "type")      ? Slot::error_type
             : key_is(k, "code")    ? Slot::error_code
             : key_is(k, "message") ? Slot::error_message
                                    : Slot::none;
    default:
      return Slot::none;
  }
}

class Handler : public SaxUnbounded {
 public:
  Handler(std::string_view data, std::string_view body, std::vector<ChunkChoice>& choices,
          std::vector<ChunkToolCall>& calls, std::vector<std::size_t>& calls_begin,
          std::string& decoded)
      : data_(data),
        body_(body),
        choices_(choices),
        calls_(calls),
        calls_begin_(calls_begin),
        decoded_(decoded) {}

  bool top_is_object = false;
  bool broken = false;  ///< a bound this reading relies on did not hold (never expected)
  std::string_view id;
  bool has_error = false;
  std::string_view err_type, err_code, err_message;
  UsageSax usage;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code& ec) {
    if (to_usage()) {
      ++usage_depth_;
      return usage.on_object_begin(ec);
    }
    return open(true);
  }
  bool on_object_end(std::size_t n, error_code& ec) {
    if (in_usage_) {
      return usage.on_object_end(n, ec) && usage_closed();
    }
    return close();
  }
  bool on_array_begin(error_code& ec) {
    if (to_usage()) {
      ++usage_depth_;
      return usage.on_array_begin(ec);
    }
    return open(false);
  }
  bool on_array_end(std::size_t n, error_code& ec) {
    if (in_usage_) {
      return usage.on_array_end(n, ec) && usage_closed();
    }
    return close();
  }
  bool on_key_part(string_view s, std::size_t n, error_code& ec) {
    if (in_usage_) {
      return usage.on_key_part(s, n, ec);
    }
    key_parted_ = true;
    gather(s);
    return true;
  }
  bool on_key(string_view s, std::size_t n, error_code& ec) {
    if (in_usage_) {
      return usage.on_key(s, n, ec);
    }
    std::string_view key(s.data(), s.size());
    if (key_parted_) {
      gather(s);
      key = std::string_view(key_, key_long_ ? 0 : key_len_);
    }
    key_len_ = 0;
    key_long_ = false;
    key_parted_ = false;
    slot_ = depth_ > 0 ? lookup(stack_[depth_ - 1], key, body_) : Slot::none;
    clear_slot();
    return true;
  }
  bool on_string_part(string_view s, std::size_t n, error_code& ec) {
    if (to_usage()) {
      return usage.on_string_part(s, n, ec);
    }
    if (target() != nullptr) {
      if (!str_parted_) {
        str_parted_ = true;
        str_begin_ = decoded_.size();
      }
      append(s);
    }
    return true;
  }
  bool on_string(string_view s, std::size_t n, error_code& ec) {
    if (to_usage()) {
      return usage.on_string(s, n, ec) && usage_scalar();
    }
    if (std::string_view* t = target()) {
      const std::string_view whole(s.data(), s.size());
      if (!str_parted_ && whole.data() >= data_.data() &&
          whole.data() + whole.size() <= data_.data() + data_.size()) {
        *t = whole;
      } else {
        if (!str_parted_) {
          str_begin_ = decoded_.size();
        }
        append(s);
        *t = std::string_view(decoded_).substr(str_begin_);
      }
    }
    str_parted_ = false;
    return scalar(ChunkChoice::Index::other, 0, true);
  }
  bool on_number_part(string_view s, error_code& ec) {
    return to_usage() ? usage.on_number_part(s, ec) : true;
  }
  bool on_int64(std::int64_t v, string_view s, error_code& ec) {
    if (to_usage()) {
      return usage.on_int64(v, s, ec) && usage_scalar();
    }
    return scalar(ChunkChoice::Index::integer, v, true);
  }
  bool on_uint64(std::uint64_t v, string_view s, error_code& ec) {
    if (to_usage()) {
      return usage.on_uint64(v, s, ec) && usage_scalar();
    }
    const bool fits = v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return scalar(fits ? ChunkChoice::Index::integer : ChunkChoice::Index::other,
                  fits ? static_cast<std::int64_t>(v) : 0, true);
  }
  bool on_double(double v, string_view s, error_code& ec) {
    if (to_usage()) {
      return usage.on_double(v, s, ec) && usage_scalar();
    }
    return scalar(ChunkChoice::Index::other, 0, true);
  }
  bool on_bool(bool v, error_code& ec) {
    if (to_usage()) {
      return usage.on_bool(v, ec) && usage_scalar();
    }
    return scalar(ChunkChoice::Index::other, 0, true);
  }
  bool on_null(error_code& ec) {
    if (to_usage()) {
      return usage.on_null(ec) && usage_scalar();
    }
    return scalar(ChunkChoice::Index::absent, 0, false);
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  /// Whether the next event belongs to the `usage` member's value (starting it when it begins).
  bool to_usage() {
    if (!in_usage_ && slot_ == Slot::usage) {
      in_usage_ = true;
      usage_depth_ = 0;
      slot_ = Slot::none;
    }
    return in_usage_;
  }
  bool usage_closed() {
    in_usage_ = --usage_depth_ > 0;
    return true;
  }
  bool usage_scalar() {
    in_usage_ = usage_depth_ > 0;
    return true;
  }

  /// A key named `slot_`: what its member held is gone (the last of duplicate keys wins).
  void clear_slot() {
    switch (slot_) {
      case Slot::id:
        id = {};
        break;
      case Slot::choices:
        choices_.clear();
        calls_.clear();
        calls_begin_.clear();
        choice_elements_ = 0;
        break;
      case Slot::error:
        has_error = false;
        err_type = err_code = err_message = {};
        break;
      case Slot::usage:
        usage = UsageSax{};
        break;
      case Slot::index:
        choices_.back().index_kind = ChunkChoice::Index::absent;
        choices_.back().index = 0;
        break;
      case Slot::delta: {
        ChunkChoice& c = choices_.back();
        c.has_body = c.content_parts = false;
        c.content = c.refusal = c.reasoning_content = c.reasoning = {};
        calls_.resize(calls_begin_.back());
        break;
      }
      case Slot::content:
        choices_.back().content_parts = false;
        choices_.back().content = {};
        break;
      case Slot::tool_calls:
        calls_.resize(calls_begin_.back());
        break;
      case Slot::call_index:
        calls_.back().index.reset();
        break;
      case Slot::function:
        calls_.back().has_function = false;
        calls_.back().name = calls_.back().arguments = {};
        break;
      case Slot::none:
        break;
      default:
        if (std::string_view* t = target()) {
          *t = {};
        }
        break;
    }
  }

  /// The string member `slot_` names, or nullptr.
  std::string_view* target() {
    switch (slot_) {
      case Slot::id:
        return &id;
      case Slot::error:  // a bare string is the message
      case Slot::error_message:
        return &err_message;
      case Slot::error_type:
        return &err_type;
      case Slot::error_code:
        return &err_code;
      case Slot::finish_reason:
        return &choices_.back().finish_reason;
      case Slot::content:
        return &choices_.back().content;
      case Slot::refusal:
        return &choices_.back().refusal;
      case Slot::reasoning_content:
        return &choices_.back().reasoning_content;
      case Slot::reasoning:
        return &choices_.back().reasoning;
      case Slot::call_id:
        return &calls_.back().id;
      case Slot::name:
        return &calls_.back().name;
      case Slot::arguments:
        return &calls_.back().arguments;
      default:
        return nullptr;
    }
  }

  /// A scalar value: the kind an index reads as (`index` when an integer), and whether it is
  /// something other than null. Strings were stored by the caller.
  bool scalar(ChunkChoice::Index kind, std::int64_t index, bool not_null) {
    if (depth_ > 0 && stack_[depth_ - 1] == Ctx::choices) {
      ++choice_elements_;
    }
    switch (slot_) {
      case Slot::error:
        has_error = not_null;
        break;
      case Slot::index:
        choices_.back().index_kind = kind;
        choices_.back().index = index;
        break;
      case Slot::call_index:
        if (kind == ChunkChoice::Index::integer) {
          calls_.back().index = index;
        }
        break;
      default:
        break;
    }
    slot_ = Slot::none;
    return true;
  }

  /// A container begins: its context, from where it stands.
  bool open(bool object) {
    Ctx child = Ctx::other;
    if (depth_ == 0) {
      top_is_object = object;
      child = object ? Ctx::root : Ctx::other;
    } else {
      switch (stack_[depth_ - 1]) {
        case Ctx::root:
          if (slot_ == Slot::choices && !object) {
            child = Ctx::choices;
          } else if (slot_ == Slot::error) {
            has_error = true;
            child = object ? Ctx::error : Ctx::other;
          }
          break;
        case Ctx::choices:
          if (object) {
            child = Ctx::choice;
            choices_.emplace_back().position = choice_elements_;
            calls_begin_.push_back(calls_.size());
          }
          ++choice_elements_;
          break;
        case Ctx::choice:
          if (slot_ == Slot::delta && object) {
            child = Ctx::delta;
            choices_.back().has_body = true;
          } else if (slot_ == Slot::index) {
            choices_.back().index_kind = ChunkChoice::Index::other;
          }
          break;
        case Ctx::delta:
          child = slot_ == Slot::tool_calls && !object ? Ctx::calls : Ctx::other;
          if (slot_ == Slot::content && !object) {
            choices_.back().content_parts = true;
          }
          break;
        case Ctx::calls:
          if (object) {
            child = Ctx::call;
            calls_.emplace_back();
          }
          break;
        case Ctx::call:
          child = slot_ == Slot::function && object ? Ctx::function : Ctx::other;
          calls_.back().has_function = calls_.back().has_function || child == Ctx::function;
          break;
        default:
          break;
      }
    }
    if (depth_ == static_cast<int>(stack_.size())) {
      broken = true;
      return false;  // deeper than the parser's own limit allows: not reached
    }
    stack_[depth_++] = child;
    slot_ = Slot::none;
    return true;
  }

  bool close() {
    --depth_;
    slot_ = Slot::none;
    return true;
  }

  void gather(string_view s) {
    if (key_len_ + s.size() > sizeof key_) {
      key_long_ = true;  // longer than any member read here
    } else {
      std::memcpy(key_ + key_len_, s.data(), s.size());
      key_len_ += s.size();
    }
  }

  void append(string_view s) {
    if (!reserved_) {
      decoded_.reserve(data_.size());  // room for every string the chunk can decode to
      reserved_ = true;
    }
    if (decoded_.size() + s.size() > decoded_.capacity()) {
      broken = true;  // would move the strings already decoded: see the file's comment
      return;
    }
    decoded_.append(s.data(), s.size());
  }

  std::string_view data_;
  std::string_view body_;
  std::vector<ChunkChoice>& choices_;
  std::vector<ChunkToolCall>& calls_;
  std::vector<std::size_t>& calls_begin_;
  std::string& decoded_;

  std::array<Ctx, 64> stack_{};
  int depth_ = 0;
  Slot slot_ = Slot::none;
  char key_[24];
  std::size_t key_len_ = 0;
  bool key_long_ = false;
  bool key_parted_ = false;
  bool str_parted_ = false;
  std::size_t str_begin_ = 0;
  bool in_usage_ = false;
  int usage_depth_ = 0;
  std::size_t choice_elements_ = 0;  ///< elements of `choices` begun so far
  bool reserved_ = false;            ///< decoded_ has room for the whole chunk
};

}  // namespace

bool ChatChunkParser::parse(std::string_view data, ChatChunk& out, ChunkBody body) {
  const std::string_view body_name = body == ChunkBody::delta ? "delta" : "message";
  const auto clear = [this] {
    choices_.clear();
    calls_.clear();
    calls_begin_.clear();
    decoded_.clear();
  };
  clear();
  // The usual chunk by hand; anything else (or a usual one it gave up on) by the SAX reading. What
  // a stream's chunks repeat is kept from chunk to chunk (a whole answer has nothing to share).
  const bool stream = body == ChunkBody::delta;
  if (chunk_detail::Reading usual{choices_,
                                  calls_,
                                  calls_begin_,
                                  decoded_,
                                  {},
                                  {},
                                  stream ? &prefix_ : nullptr,
                                  stream ? &content_ : nullptr};
      chunk_detail::read_usual_chunk(data, body_name, usual)) {
    out = ChatChunk{};
    out.id = usual.id;
    out.usage = usage_detail::usage_of(usual.usage);
    out.choices = with_calls();
    return true;
  }
  clear();
  json::basic_parser<Handler> p(json::parse_options{}, data, body_name, choices_, calls_,
                                calls_begin_, decoded_);
  error_code ec;
  const std::size_t n = p.write_some(false, data.data(), data.size(), ec);
  const Handler& h = p.handler();
  if (ec || n != data.size() || !p.done() || !h.top_is_object || h.broken) {
    return false;
  }
  out = ChatChunk{};
  out.id = h.id;
  out.has_error = h.has_error;
  out.error_type = h.err_type;
  out.error_code = h.err_code;
  out.error_message = h.err_message;
  out.usage = usage_detail::usage_of(h.usage);
  out.choices = with_calls();
  return true;
}

// The choices read, each given its tool calls.
std::span<const ChunkChoice> ChatChunkParser::with_calls() {
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    const std::size_t end = i + 1 < choices_.size() ? calls_begin_[i + 1] : calls_.size();
    choices_[i].tool_calls =
        std::span<const ChunkToolCall>(calls_.data() + calls_begin_[i], end - calls_begin_[i]);
  }
  return choices_;
}

const ChunkChoice* ChatChunkParser::parse_answer(std::string_view answer, ChatChunk& out) {
  if (!parse(answer, out, ChunkBody::message) || out.choices.empty() ||
      out.choices[0].position != 0 || !out.choices[0].has_body) {
    return nullptr;
  }
  return &out.choices[0];
}

}  // namespace sb::adapters
