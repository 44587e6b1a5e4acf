#pragma once
// Internals of the chat facts collectors (adapters/chat_facts.h): the walker both the DOM
// collectors (chat_facts.cc) and the ChatRequest collector (chat_facts_canonical.cc) feed, so
// what a key, a string or a number adds to the facts is decided in one place. Not for other users.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "adapters/chat_facts.h"

namespace boost::json {
class array;
class object;
class value;
}  // namespace boost::json

namespace sb::adapters::facts_detail {

// Per-message token overhead OpenAI documents for chat formatting (role, separators).
constexpr std::uint64_t kTokensPerMessage = 4;
// The tool-use system prompt providers add when tools are declared: Anthropic documents up to 346
// tokens (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview#pricing); room
// to spare for others.
constexpr std::uint64_t kToolPreambleTokens = 512;
// Integers this large or larger are scanned as decimal text (a card number sent as a number).
constexpr std::int64_t kMinScannedInteger = 100'000;

// What a member means for the walk, decided by its key and its parent.
enum class Slot {
  plain,
  prompt,  // completions `prompt` / embeddings `input`: numbers are token ids
};

/// Appends what the values of a body say to a ChatFacts. The leaf rules (lines, strings, numbers,
/// kinds, media types, JSON held in strings) are public for walkers over other representations;
/// the rest walks a Boost.JSON DOM.
class Walker {
 public:
  /// Clears `f` and writes its text from the start: `f.text` is whole once finish() has closed
  /// the walker.
  explicit Walker(ChatFacts& f) : f_(f) { restart(); }
  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  ChatFacts& facts() { return f_; }

  /// Clears every field of the facts, the text written so far included, keeping their storage
  /// (a walk begun, or begun again).
  void restart();
  /// Room for `n` more bytes of text (before a walk: the text's likely size, in one allocation).
  void reserve(std::size_t n) {
    if (static_cast<std::size_t>(end_ - at_) < n) {
      grow(n);
    }
  }
  /// The text is written through the walker, into the string's storage without a call per
  /// append: `f.text` holds its bytes, at its size, only once closed.
  void append(std::string_view s) {
    if (s.empty()) {
      return;  // (an empty view's data may be null, which memcpy may not be given)
    }
    reserve(s.size());
    std::memcpy(at_, s.data(), s.size());
    at_ += s.size();
  }
  void push(char c) {
    reserve(1);
    *at_++ = c;
  }
  std::size_t text_size() const { return static_cast<std::size_t>(at_ - begin_); }
  /// Drops the text past its first `n` bytes.
  void truncate(std::size_t n) { at_ = begin_ + n; }
  /// The text at its size in `f.text`; nothing may be written after.
  void close();

  /// A line of its own in the scanned text (nothing when empty).
  void line(std::string_view s) {
    if (s.empty()) {
      return;
    }
    reserve(s.size() + 1);
    std::memcpy(at_, s.data(), s.size());
    at_[s.size()] = '\n';
    at_ += s.size() + 1;
  }
  void key(std::string_view k) { line(k); }
  /// A string value: a base64 data URL is flagged, anything else scanned and counted.
  /// `escaped`: false when the JSON string held no escape, so its text holds no backslash and
  /// decode_nested has nothing to do (the typed parser knows; a DOM does not).
  void string(std::string_view s, int nested, bool escaped = true);
  /// An integer value: scanned as decimal text when large.
  void integer(std::int64_t v);
  void integer(std::uint64_t v);
  /// A number written with a fraction or an exponent, or an integer past uint64 (as the DOM
  /// reads them: a double): scanned as the decimal text of its whole part when large, up to 21
  /// digits; past 10^21 in its shortest form (`1e+308`), so that no number takes more than a
  /// few dozen bytes of text. Past 2^53 a double holds fewer digits than were written: what is
  /// scanned is what the DOM holds.
  void number(double v);
  /// A part's kind by its `type` (image, audio, file).
  void flag_type(std::string_view type);
  /// A base64 payload's kind by the media type beside it (Anthropic `media_type`); files when none.
  void flag_media(std::string_view media_type);
  /// What a string value says beyond its text: decode_nested when the JSON string held escapes
  /// (`escaped`) or its text may be JSON (it starts with '{' or '[').
  void nested_text(std::string_view s, int nested, bool escaped = true) {
    if (escaped) {
      decode_nested(s, nested);
      return;
    }
    // Without escapes, only JSON held in the string can say more (numbers with exponents).
    for (const char c : s) {
      if (c == '{' || c == '[') {
        decode_nested(s, nested);
        return;
      }
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
        return;
      }
    }
  }
  /// What the escapes of `s` stand for: JSON held in it walked, other text unescaped; and the
  /// numbers with exponents of JSON held in it.
  void decode_nested(std::string_view s, int nested);

  // The DOM walk.
  void value(const boost::json::value& v, int nested, Slot slot = Slot::plain);
  void object(const boost::json::object& o, int nested, bool skip_text = false);
  void transcript(const boost::json::array& messages);
  void messages_rest(const boost::json::array& messages);

 private:
  void content_rest(const boost::json::value& content);
  void grow(std::size_t n);

  ChatFacts& f_;
  char* begin_ = nullptr;  // f_.text's storage, sized to its capacity while open
  char* at_ = nullptr;
  char* end_ = nullptr;
};

/// The double Boost.JSON reads from the JSON number `text` (its own rounding, which the DOM
/// walk sees); 0 when it is not a number.
double json_double(std::string_view text);

/// The walker closed, the bound, the last newline dropped, `texts` set: the facts are complete.
void finish(Walker& w);
/// The estimate of a chat body, once its text_bytes and depth are known.
inline void estimate_chat(ChatFacts& out) {
  // About four bytes of English per token; images and audio are not estimated.
  out.estimated_prompt_tokens = (out.text_bytes + 3) / 4 + kTokensPerMessage * out.depth;
}

}  // namespace sb::adapters::facts_detail
