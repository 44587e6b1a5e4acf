// The SAX handler behind parse_chat_request(), driven by json_lex (adapters/json_lex.h) or, for
// what json_lex does not take on, by Boost.JSON's basic_parser fed the whole body in one
// write_some() call, with a cursor that follows the parser through the body.
//
// Offsets: json_lex says where each token lies (token_at). basic_parser's callbacks carry no
// positions, but between two tokens of valid JSON there is only whitespace, ',' and ':'. So every
// callback skips those from the cursor and finds its own token there: '{' '[' '}' ']' for
// containers, the literal for true/false/null, the number's text (its length is in the callback),
// and a string's opening quote. A string without escapes arrives as one on_string()/on_key() whose
// view points into the body right after that quote (checked; in Boost 1.81 parse_unescaped() hands
// out the input buffer itself); a string with escapes arrives in parts built in a stack buffer,
// copied into the arena, and its raw end is found by skipping the escaped text. Each token is thus
// located exactly, in the same pass, at the cost of skipping the inter-token bytes once more
// (usually none or one).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string_view>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse_options.hpp>

#include "adapters/canonical.h"
#include "adapters/canonical_internal.h"
#include "adapters/json_lex.h"

namespace sb::adapters {
namespace canonical_detail {
namespace {

// The top-level members, by length first.
F lookup_root(std::string_view k) {
  switch (k.size()) {
    case 1:
      return key_is(k, "n") ? F::n : F::top_unknown;
    case 4:
      return key_is(k, "seed")   ? F::seed
             : key_is(k, "stop") ? F::stop
             : key_is(k, "user") ? F::user
                                 : F::top_unknown;
    case 5:
      return key_is(k, "model")   ? F::model
             : key_is(k, "top_p") ? F::top_p
             : key_is(k, "tools") ? F::tools
                                  : F::top_unknown;
    case 6:
      return key_is(k, "stream") ? F::stream : F::top_unknown;
    case 8:
      return key_is(k, "messages") ? F::messages : F::top_unknown;
    case 10:
      return key_is(k, "max_tokens") ? F::max_tokens : F::top_unknown;
    case 11:
      return key_is(k, "temperature")   ? F::temperature
             : key_is(k, "tool_choice") ? F::tool_choice
                                        : F::top_unknown;
    case 14:
      return key_is(k, "stream_options") ? F::stream_options : F::top_unknown;
    case 15:
      return key_is(k, "response_format") ? F::response_format : F::top_unknown;
    case 16:
      return key_is(k, "presence_penalty")   ? F::presence_penalty
             : key_is(k, "reasoning_effort") ? F::reasoning_effort
                                             : F::top_unknown;
    case 17:
      return key_is(k, "frequency_penalty") ? F::frequency_penalty : F::top_unknown;
    case 19:
      return key_is(k, "parallel_tool_calls") ? F::parallel_tool_calls : F::top_unknown;
    case 21:
      return key_is(k, "max_completion_tokens") ? F::max_completion_tokens : F::top_unknown;
    default:
      return F::top_unknown;
  }
}

// The members of a message and of a content part.
F lookup_message(std::string_view k) {
  return key_is(k, "role")           ? F::role
         : key_is(k, "content")      ? F::content
         : key_is(k, "name")         ? F::name
         : key_is(k, "tool_calls")   ? F::tool_calls
         : key_is(k, "tool_call_id") ? F::tool_call_id
                                     : F::msg_unknown;
}

F lookup_part(std::string_view k) {
  return key_is(k, "type")          ? F::part_type
         : key_is(k, "text")        ? F::part_text
         : key_is(k, "image_url")   ? F::part_image
         : key_is(k, "input_audio") ? F::part_audio
         : key_is(k, "file")        ? F::part_file
         : key_is(k, "refusal")     ? F::part_refusal
                                    : F::ignore;
}

// The members of a tool call, of a tool and of a tool choice, with their functions.
F lookup_tool(Ctx c, std::string_view k) {
  constexpr F I = F::ignore;
  switch (c) {
    case Ctx::call:
      return key_is(k, "id")         ? F::call_id
             : key_is(k, "type")     ? F::call_type
             : key_is(k, "function") ? F::call_function
                                     : I;
    case Ctx::call_function:
      return key_is(k, "name") ? F::call_name : key_is(k, "arguments") ? F::call_arguments : I;
    case Ctx::tool:
      return key_is(k, "type") ? F::tool_type : key_is(k, "function") ? F::tool_function : I;
    case Ctx::tool_function:
      return key_is(k, "name")          ? F::tool_name
             : key_is(k, "description") ? F::tool_description
             : key_is(k, "parameters")  ? F::tool_parameters
             : key_is(k, "strict")      ? F::tool_strict
                                        : I;
    case Ctx::tool_choice:
      return key_is(k, "type") ? F::choice_type : key_is(k, "function") ? F::choice_function : I;
    case Ctx::choice_function:
      return key_is(k, "name") ? F::choice_name : I;
    default:
      return I;
  }
}

}  // namespace

F lookup(Ctx c, std::string_view k) {
  constexpr F I = F::ignore;
  switch (c) {
    case Ctx::root:
      return lookup_root(k);
    case Ctx::message:
      return lookup_message(k);
    case Ctx::part:
      return lookup_part(k);
    case Ctx::stream_options:
      return key_is(k, "include_usage") ? F::include_usage : I;
    case Ctx::response_format:
      return key_is(k, "type") ? F::rf_type : key_is(k, "json_schema") ? F::rf_schema : I;
    case Ctx::image_url:
      return key_is(k, "url") ? F::image_url : key_is(k, "detail") ? F::image_detail : I;
    case Ctx::input_audio:
      return key_is(k, "data") ? F::audio_data : key_is(k, "format") ? F::audio_format : I;
    case Ctx::file:
      return key_is(k, "file_id")     ? F::file_id
             : key_is(k, "filename")  ? F::file_name
             : key_is(k, "file_data") ? F::file_data
                                      : I;
    default:
      return lookup_tool(c, k);
  }
}

ChatMessage::Role role_of(std::string_view r) {
  using R = ChatMessage::Role;
  return r == "user"        ? R::user
         : r == "assistant" ? R::assistant
         : r == "system"    ? R::system
         : r == "developer" ? R::developer
         : r == "tool"      ? R::tool
         : r == "function"  ? R::function
                            : R::other;
}

ChatContentPart::Kind part_kind(std::string_view t) {
  using K = ChatContentPart::Kind;
  return t == "text"          ? K::text
         : t == "image_url"   ? K::image_url
         : t == "input_audio" ? K::input_audio
         : t == "file"        ? K::file
         : t == "refusal"     ? K::refusal
                              : K::unknown;
}

inline std::size_t Handler::token(error_code& ec) {
  if (hinted_) {
    return hint_begin_;
  }
  while (pos_ < body_.size()) {
    const char c = body_[pos_];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != ',' && c != ':') {
      return pos_;
    }
    ++pos_;
  }
  fail(ec);  // cannot happen: the parser reported a token
  return std::string_view::npos;
}

// A string without escapes is the body's own bytes (the view starts right after the opening
// quote at the cursor): its end needs no scan. Inline, as most strings are such.
inline std::string_view Handler::take_string(string_view s, std::size_t& start, error_code& ec) {
  if (hinted_) [[likely]] {
    start = hint_begin_;
    pos_ = hint_end_;
    if (!escaped_ && s.data() == body_.data() + start + 1) {
      record(start, pos_);
      return {s.data(), s.size()};
    }
    return keep_unescaped(s, start);
  }
  const std::size_t at = token(ec);
  if (!escaped_ && at != std::string_view::npos && body_[at] == '"' &&
      s.data() == body_.data() + at + 1) [[likely]] {
    start = at;
    pos_ = at + 2 + s.size();
    record(start, pos_);
    return {s.data(), s.size()};
  }
  return take_escaped(s, start, ec);
}

// A string with escapes (or, in principle, one the parser copied): its parts are in the arena and
// its raw end is found in the body.
std::string_view Handler::take_escaped(string_view s, std::size_t& start, error_code& ec) {
  start = token(ec);
  if (start == std::string_view::npos || body_[start] != '"') {
    fail(ec);
    return {};
  }
  if (!escaped_ && s.data() == body_.data() + start + 1) {
    pos_ = start + 2 + s.size();
    record(start, pos_);
    return {s.data(), s.size()};
  }
  pos_ = string_end(start);
  return keep_unescaped(s, start);
}

// The last part `s` of the string at [start, pos_) whose earlier parts the arena holds: the
// decoded text, kept in the arena.
std::string_view Handler::keep_unescaped(string_view s, std::size_t start) {
  out_.arena().append(s);
  escaped_ = false;
  const std::string_view text = out_.arena().finish_string();
  if (text.size() != pos_ - start - 2) {  // an escape is longer than what it stands for
    out_.unescaped.push_back(text);
    record(start, pos_, static_cast<std::uint32_t>(out_.unescaped.size()));
  } else {
    record(start, pos_);
  }
  return text;
}

// Room for more tokens, in the arena: at first one per 48 bytes of the body (a compact body has
// one per 8 to 10 bytes, one with long texts one per 80), then twice as many each time. Never
// called while the arena builds a string.
void Handler::grow_tokens() {
  const auto size = static_cast<std::size_t>(tokens_top_ - tokens_);
  const std::size_t capacity =
      size > 0 ? 2 * size : std::clamp<std::size_t>(body_.size() / 48, 48, 4096);
  auto* t = static_cast<ChatToken*>(
      out_.arena().allocate(capacity * sizeof(ChatToken), alignof(ChatToken)));
  if (size > 0) {
    std::memcpy(t, tokens_, size * sizeof(ChatToken));
    out_.arena().deallocate(tokens_, size * sizeof(ChatToken), alignof(ChatToken));
  }
  tokens_ = t;
  tokens_top_ = t + size;
  tokens_end_ = t + capacity;
}

// One past the closing quote of the string whose opening quote is at `start`: the first quote
// after it that an even number of backslashes precedes.
std::size_t Handler::string_end(std::size_t start) const {
  std::size_t from = start + 1;
  while (from < body_.size()) {
    const void* q = std::memchr(body_.data() + from, '"', body_.size() - from);
    if (q == nullptr) {
      break;  // cannot happen: the parser read the string
    }
    const auto at = static_cast<std::size_t>(static_cast<const char*>(q) - body_.data());
    std::size_t backslashes = 0;
    while (at - backslashes > start + 1 && body_[at - backslashes - 1] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) {
      return at + 1;
    }
    from = at + 1;
  }
  return body_.size();
}

bool Handler::on_key(string_view s, std::size_t, error_code& ec) {
  std::size_t start = 0;
  const std::string_view key = take_string(s, start, ec);
  if (ec) {
    return false;
  }
  Frame& f = top();
  f.key_data = key.data();
  f.key_size = key.size();
  f.field = f.ctx == Ctx::skip ? F::ignore : lookup(f.ctx, key);
  if (f.ctx == Ctx::root) {
    out_.members.push_back(RawMember{key, start});
    if (f.field < F::top_unknown) {
      error_mask_ &= ~(std::uint32_t{1} << static_cast<unsigned>(f.field));  // the last one decides
    }
    messages_not_array_ = f.field == F::messages ? false : messages_not_array_;
    stream_bad_ = f.field == F::stream ? false : stream_bad_;
  } else if (f.field == F::msg_unknown) {
    msg().unknown.push_back(RawMember{key, start});
  }
  return true;
}

bool Handler::on_string(string_view s, std::size_t, error_code& ec) {
  std::size_t start = 0;
  Scalar v{.type = Scalar::Type::string};
  v.s = take_string(s, start, ec);
  return !ec && scalar(v, start, pos_, ec);
}

bool Handler::number(Scalar v, string_view s, error_code& ec) {
  const std::size_t start = token(ec);
  if (ec) {
    return false;
  }
  pos_ = start + number_len_ + s.size();
  number_len_ = 0;
  record(start, pos_);
  return scalar(v, start, pos_, ec);
}

bool Handler::literal(std::size_t length, Scalar v, error_code& ec) {
  const std::size_t start = token(ec);
  if (ec) {
    return false;
  }
  pos_ = start + length;
  record(start, pos_);
  return scalar(v, start, pos_, ec);
}

bool Handler::scalar(const Scalar& v, std::size_t begin, std::size_t end, error_code& ec) {
  if (depth_ == 0) {
    return fail(ec);  // the top level is not an object
  }
  const F f = top().field;
  if (f < F::top_unknown) {
    assign_top(f, v, begin);
  } else if (f != F::top_unknown && f != F::ignore) {
    assign_message(f, v, begin);
  }
  done(begin, end);
  return true;
}

bool Handler::open(bool object, error_code& ec) {
  // Containers are where the arena grows fastest (a part, a tool call: its record and tokens):
  // past the budget the parse stops here, before a hostile body of empty objects has taken 100x
  // its size (parse_chat_request checks the end as well).
  if (out_.arena().heap_bytes() > max_heap_bytes_) {
    over_budget_ = true;
    return fail(ec);
  }
  const std::size_t start = token(ec);
  if (ec || body_[start] != (object ? '{' : '[') || depth_ == frames_.size()) {
    return fail(ec);
  }
  pos_ = start + 1;
  Ctx ctx = Ctx::root;
  if (depth_ > 0) {
    const F f = top().field;  // most containers are inside skipped ones: no call for those
    ctx = f == F::ignore ? Ctx::skip : container(f, object, start);
  } else if (!object) {
    return fail(ec);  // the top level is not an object
  }
  F elements = F::ignore;
  switch (ctx) {
    case Ctx::messages:
      elements = F::message;
      break;
    case Ctx::content:
      elements = F::part;
      break;
    case Ctx::tool_calls:
      elements = F::call;
      break;
    case Ctx::tools:
      elements = F::tool;
      break;
    case Ctx::stop:
      elements = F::stop_item;
      break;
    default:
      break;
  }
  frames_[depth_++] = Frame{.ctx = ctx,
                            .field = elements,
                            .object = object,
                            .begin = start,
                            .token = static_cast<std::uint32_t>(tokens_top_ - tokens_)};
  record(start, body_.size());  // its end and next: when it closes
  return true;
}

bool Handler::close(error_code& ec) {
  const std::size_t start = token(ec);
  if (ec || depth_ == 0) {
    return fail(ec);
  }
  pos_ = start + 1;
  const Frame f = frames_[--depth_];
  ChatToken& t = tokens_[f.token];
  t.end = static_cast<std::uint32_t>(pos_);
  t.next = static_cast<std::uint32_t>(tokens_top_ - tokens_);
  closed(f, pos_);
  if (depth_ > 0) {
    done(f.begin, pos_);
  }
  return true;
}

}  // namespace canonical_detail

Result<ChatRequest, ParseError> parse_chat_request(std::string_view body,
                                                   std::optional<std::size_t> max_heap_bytes,
                                                   bool require_model) {
  constexpr char kMalformed[] =
      "We could not parse the JSON body of your request. The body must be a JSON object (see "
      "https://platform.openai.com/docs/api-reference/chat/create).";
  if (body.size() >= std::numeric_limits<std::uint32_t>::max()) {
    return ParseError{0, kMalformed};  // the tokens' offsets are 32 bits
  }
  constexpr std::size_t kMaxDepth = 128;  // the gateway's
  const std::size_t budget = max_heap_bytes.value_or(typed_heap_budget(body.size()));
  {
    // The fast reader first (adapters/json_lex.h); what it does not take on, basic_parser reads
    // again from scratch.
    ChatRequest out;
    out.body = body;
    canonical_detail::Handler handler(body, out, budget);
    if (json_lex::lex(body, handler, kMaxDepth) && !handler.over_budget() &&
        out.arena().heap_bytes() <= budget) {
      out.tokens = handler.tokens();
      return handler.finish(std::move(out), require_model);
    }
  }
  ChatRequest out;
  out.body = body;
  boost::json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::json::basic_parser<canonical_detail::Handler> parser(opts, body, out, budget);
  boost::json::error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (parser.handler().over_budget() || out.arena().heap_bytes() > budget) {
    return ParseError{used, "the request's typed reading would take more memory than allowed",
                      kOverBudget};
  }
  const bool rest_blank = body.find_first_not_of(" \t\r\n", used) == std::string_view::npos;
  if (ec || !rest_blank) {
    return ParseError{used, kMalformed};
  }
  out.tokens = parser.handler().tokens();
  return parser.handler().finish(std::move(out), require_model);
}

}  // namespace sb::adapters
