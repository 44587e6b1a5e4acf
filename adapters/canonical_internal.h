#pragma once
// Internals of parse_chat_request() (adapters/canonical.h), shared by canonical_parse.cc (the
// cursor that locates every token in the body) and canonical_fields.cc (what each value sets).
// Not for other users.

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <string_view>

#include <boost/json/error.hpp>
#include <boost/json/string_view.hpp>

#include "adapters/canonical.h"
#include "adapters/json_sax.h"

namespace sb::adapters::canonical_detail {

using boost::json::error_code;
using boost::json::string_view;

/// The container a frame is in.
enum class Ctx : std::uint8_t {
  root,
  stream_options,
  response_format,
  messages,
  message,
  content,
  part,
  image_url,
  input_audio,
  file,
  tool_calls,
  call,
  call_function,
  tools,
  tool,
  tool_function,
  tool_choice,
  choice_function,
  stop,
  skip
};

/// What the next value is for. The top-level ones come first: they index the error slots.
enum class F : std::uint8_t {
  model,
  messages,
  stream,
  stream_options,
  max_completion_tokens,
  max_tokens,
  temperature,
  top_p,
  n,
  seed,
  presence_penalty,
  frequency_penalty,
  stop,
  response_format,
  reasoning_effort,
  user,
  tools,
  tool_choice,
  parallel_tool_calls,
  top_unknown,
  include_usage,
  rf_type,
  rf_schema,
  stop_item,
  message,
  role,
  name,
  content,
  tool_calls,
  tool_call_id,
  msg_unknown,
  part,
  part_type,
  part_text,
  part_refusal,
  part_image,
  part_audio,
  part_file,
  image_url,
  image_detail,
  audio_data,
  audio_format,
  file_id,
  file_name,
  file_data,
  call,
  call_id,
  call_type,
  call_function,
  call_name,
  call_arguments,
  tool,
  tool_type,
  tool_function,
  tool_name,
  tool_description,
  tool_parameters,
  tool_strict,
  choice_type,
  choice_function,
  choice_name,
  ignore
};
constexpr std::size_t kTopFields = static_cast<std::size_t>(F::top_unknown);
static_assert(kTopFields <= 32, "one bit each in Handler::error_mask_");

/// The field `key` names in an object of context `c` (F::ignore, or F::top_unknown and
/// F::msg_unknown, when none).
F lookup(Ctx c, std::string_view key);
ChatMessage::Role role_of(std::string_view role);
ChatContentPart::Kind part_kind(std::string_view type);

struct Scalar {
  enum class Type { string, integer, number, boolean, null } type = Type::null;
  std::string_view s;
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
  bool fits = true;  ///< an integer within int64
};

// Trivial, so the handler's stack of them costs nothing until used: open() writes each whole.
struct Frame {
  Ctx ctx;
  F field;  ///< what the next value is for (per key in objects, per array)
  bool object;
  std::size_t begin;
  std::size_t count;     ///< arrays: the index of the current element
  const char* key_data;  ///< objects: the current key
  std::size_t key_size;
  std::uint32_t token;  ///< the container's token in ChatRequest::tokens
  std::string_view key() const { return {key_data, key_size}; }
};

/// A type error found under one top-level member (its message lives in the arena).
struct ErrorSlot {
  std::size_t offset;
  std::string_view message;
};

class Handler : public SaxUnbounded {
 public:
  Handler(std::string_view body, ChatRequest& out, std::size_t max_heap_bytes)
      : body_(body), out_(out), max_heap_bytes_(max_heap_bytes) {}
  /// True once the arena took more than max_heap_bytes from the heap (the parse then stopped).
  bool over_budget() const { return over_budget_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code& ec) { return open(true, ec); }
  bool on_object_end(std::size_t, error_code& ec) { return close(ec); }
  bool on_array_begin(error_code& ec) { return open(false, ec); }
  bool on_array_end(std::size_t, error_code& ec) { return close(ec); }
  bool on_key_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_string_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_number_part(string_view s, error_code&) {
    number_len_ += s.size();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
  // Inlined into the readers' loops (a call's saved registers cost more than most keys' work):
  // defined, and so callable, in canonical_parse.cc alone, which drives the handler.
  [[gnu::always_inline]] inline bool on_key(string_view s, std::size_t, error_code& ec);
  [[gnu::always_inline]] inline bool on_string(string_view s, std::size_t, error_code& ec);
  bool on_int64(std::int64_t v, string_view s, error_code& ec) {
    return number({.type = Scalar::Type::integer, .i = v, .d = double(v)}, s, ec);
  }
  bool on_uint64(std::uint64_t v, string_view s, error_code& ec) {
    return number({.type = Scalar::Type::integer, .d = double(v), .fits = false}, s, ec);
  }
  bool on_double(double v, string_view s, error_code& ec) {
    return number({.type = Scalar::Type::number, .d = v}, s, ec);
  }
  bool on_bool(bool b, error_code& ec) {
    return literal(b ? 4 : 5, {.type = Scalar::Type::boolean, .b = b}, ec);
  }
  bool on_null(error_code& ec) { return literal(4, {}, ec); }
  /// json_lex's position of the next callback's token (adapters/json_lex.h); basic_parser gives
  /// none, and then each callback finds its token from the cursor.
  void token_at(std::size_t begin, std::size_t end) {
    hinted_ = true;
    hint_begin_ = begin;
    hint_end_ = end;
  }

  /// The tokens recorded so far.
  std::span<const ChatToken> tokens() const {
    return {tokens_, static_cast<std::size_t>(tokens_top_ - tokens_)};
  }
  /// The request, or the first error in the gateway's order (canonical_fields.cc).
  Result<ChatRequest, ParseError> finish(ChatRequest&& out, bool require_model);

 private:
  bool part(string_view s) {
    escaped_ = true;
    out_.arena().append(s);
    return true;
  }
  std::size_t token(error_code& ec);
  // A token at [begin, end) (for a container, its end and next are set when it closes).
  void record(std::size_t begin, std::size_t end, std::uint32_t text = 0) {
    if (tokens_top_ == tokens_end_) {
      grow_tokens();
    }
    ChatToken* t = tokens_top_++;
    *t = ChatToken{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end),
                   static_cast<std::uint32_t>(tokens_top_ - tokens_), text};
  }
  void grow_tokens();
  std::string_view take_string(string_view s, std::size_t& start, error_code& ec);
  std::string_view take_escaped(string_view s, std::size_t& start, error_code& ec);
  std::string_view keep_unescaped(string_view s, std::size_t start);
  std::size_t string_end(std::size_t start) const;
  bool number(Scalar v, string_view s, error_code& ec);
  bool literal(std::size_t length, Scalar v, error_code& ec);
  bool scalar(const Scalar& v, std::size_t begin, std::size_t end, error_code& ec);
  bool open(bool object, error_code& ec);
  bool close(error_code& ec);
  // The fields (canonical_fields.cc): what each value sets.
  Ctx expect(bool object, bool want_object, Ctx ctx, std::string_view expected, std::size_t at);
  Ctx container(F f, bool object, std::size_t at);
  Ctx element(F f, bool object, std::size_t at);
  void replaced(F f, bool object);
  void closed(const Frame& f, std::size_t end);
  void done(std::size_t begin, std::size_t end);
  void assign_top(F f, const Scalar& v, std::size_t at);
  void assign_sampling(F f, const Scalar& v, std::size_t at);
  void assign_message(F f, const Scalar& v, std::size_t at);
  void assign_part(F f, const Scalar& v, std::size_t at);
  void assign_tool(F f, const Scalar& v, std::size_t at);
  void type_error(std::size_t at, std::string_view expected);
  bool fail(error_code& ec) {
    ec = boost::json::error::syntax;
    return false;
  }
  Frame& top() { return frames_[depth_ - 1]; }
  ChatMessage& msg() { return out_.messages.back(); }
  ChatContentPart& cpart() { return msg().parts.back(); }
  /// The current part's media members, made in the arena on first use.
  ChatPartMedia& cmedia() {
    ChatContentPart& p = cpart();
    if (p.media_ == nullptr) {
      p.media_ = new (out_.arena().allocate(sizeof(ChatPartMedia), alignof(ChatPartMedia)))
          ChatPartMedia{};
    }
    return *p.media_;
  }

  void str(const Scalar& v, std::size_t at, std::string_view& to);
  template <class T>
  void opt(const Scalar& v, std::size_t at, std::optional<T>& to);

  std::string_view body_;
  ChatRequest& out_;
  std::size_t max_heap_bytes_;
  bool over_budget_ = false;
  std::size_t pos_ = 0;
  bool hinted_ = false;  ///< token_at() gives each token's place (json_lex); else token() finds it
  std::size_t hint_begin_ = 0;
  std::size_t hint_end_ = 0;
  std::size_t number_len_ = 0;
  bool escaped_ = false;
  std::size_t depth_ = 0;
  ChatToken* tokens_ = nullptr;  // the tape, in the arena
  ChatToken* tokens_top_ = nullptr;
  ChatToken* tokens_end_ = nullptr;
  std::array<Frame, 130> frames_;  // basic_parser stops at 128 levels; uninitialized
  bool messages_seen_ = false;
  bool messages_not_array_ = false;
  bool stream_bad_ = false;
  std::array<ErrorSlot, kTopFields> errors_;  // the slots whose bit is set in error_mask_
  std::uint32_t error_mask_ = 0;
};

}  // namespace sb::adapters::canonical_detail
