#pragma once
// A typed OpenAI chat-completions request (https://platform.openai.com/docs/api-reference/chat/
// create), read from the client's body in one pass of a SAX parser: no DOM is built.
//
// Every string is a view: into the body when the JSON string held no escape, else into the
// request's arena, which holds the unescaped copy. Vectors live in the arena too: a 4 KiB inline
// block, then blocks of 8 KiB and more, each at least half the size of all before. Arenas are
// recycled per thread (RequestArena::acquire), so a body costs no heap allocation once its thread
// has read one as large. The body must outlive the ChatRequest. A ChatRequest is not thread-safe to
// change; const reads from several threads are fine.
//
// Besides the typed members, every top-level member is kept as a byte range of the body
// (`members`), and the members this type does not know as such ranges too (`unknown`), so a
// pass-through translator can splice the client's own bytes. Duplicate keys: the last occurrence
// sets the typed member (as Boost.JSON's DOM keeps the last), a nested object's last occurrence
// (or a null after it) replacing the earlier one whole; `members` lists every occurrence.
//
// Stricter than the gateway's checks on its DOM, which look only at model, messages and stream:
// a known member of the wrong type is refused here (see parse_chat_request), where the DOM path
// forwards it. Null is accepted for every optional member and reads as absent.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/result.h"

namespace sb::adapters {

/// Why a body was refused: the offset in the body where it was noticed and the message to answer
/// with (OpenAI's texts, as the gateway's DOM path answers them).
struct ParseError {
  std::size_t offset = 0;
  std::string message;
  std::string_view code;  ///< OpenAI's error code ("invalid_type", ...); empty when none
  std::string param;      ///< the member it names, as OpenAI's `param` ("messages[1].content")
};

/// A bump allocator: an inline first block, then heap blocks of growing size, all released at
/// once. Not thread-safe. Also builds strings piece by piece at its top (unescaped JSON strings).
/// An allocation of kLarge bytes or more gets a heap block of its own, freed as soon as it is
/// given back; what a smaller growing vector gives back (its old buffer) and the tail a new block
/// leaves behind are reused by later allocations of kMinReused bytes or more. So a body's
/// many-element vectors cost about their final size, not the sum of every size they grew through.
///
/// A request's arena is recycled (acquire() / Release): each thread keeps the last one released
/// on it, emptied but with its heap blocks up to kKept bytes, so a request costs no heap
/// allocation once its thread has served one of its size.
class RequestArena final : public std::pmr::memory_resource {
 public:
  /// Hands an arena back to the releasing thread's spare slot (or frees it when the slot is full).
  struct Release {
    void operator()(RequestArena* a) const noexcept;
  };
  /// An empty arena: this thread's spare one, or a new one.
  static std::unique_ptr<RequestArena, Release> acquire();

  RequestArena() {}  // user-provided: the inline block is not zeroed
  RequestArena(const RequestArena&) = delete;
  RequestArena& operator=(const RequestArena&) = delete;
  ~RequestArena() override;

  /// Whether [p, p + n) lies inside one of this arena's blocks.
  bool contains(const char* p, std::size_t n) const;
  /// Bytes of the heap blocks in use beyond the inline block (kept ones and large ones included).
  std::size_t heap_bytes() const { return heap_bytes_; }

  /// Appends to the string being built (started by the first append after finish_string()).
  void append(std::string_view piece);
  /// The string built since the last finish_string(); it stays valid while the arena lives.
  std::string_view finish_string();

 private:
  struct alignas(std::max_align_t) Block {
    Block* next;
    Block* prev;  ///< large blocks only (they leave the list out of order)
    std::size_t size;
  };
  /// Memory given back, to be reused: at its own start, a header for the list.
  struct Reusable {
    Reusable* next;
    std::size_t size;
  };
  void* do_allocate(std::size_t bytes, std::size_t align) override;
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override;
  void* reuse(std::size_t bytes, std::size_t align);
  void* allocate_large(std::size_t bytes);
  void free_large(void* p) noexcept;
  void give_back(char* p, std::size_t bytes);
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
    return this == &o;
  }
  void grow(std::size_t at_least);
  void reset() noexcept;
  static void free_blocks(Block* b) noexcept;

  static constexpr std::size_t kInline = 4096;
  static constexpr std::size_t kMinReused = 512;    ///< smaller pieces are not worth a search
  static constexpr std::size_t kLarge = 32 * 1024;  ///< from here, a heap block of its own
  static constexpr std::size_t kKept = 64 * 1024;   ///< heap bytes a recycled arena keeps at most
  alignas(std::max_align_t) char inline_[kInline];
  char* top_ = inline_;
  char* end_ = inline_ + kInline;
  Block* blocks_ = nullptr;  ///< in use, the newest first
  Block* spare_ = nullptr;   ///< kept from earlier requests, the smallest first
  Block* large_ = nullptr;   ///< the large allocations alive, the newest first
  std::size_t heap_bytes_ = 0;
  std::size_t block_bytes_ = 0;   ///< of heap_bytes_, the blocks in use (not the large ones)
  char* string_ = nullptr;        ///< start of the string being built, or nullptr
  Reusable* reusable_ = nullptr;  ///< given back, the latest first
};

/// A member of a JSON object as byte offsets of the body.
struct RawMember {
  std::string_view key;       ///< unescaped
  std::size_t key_begin = 0;  ///< the key's opening quote
  std::size_t value_begin = 0;
  std::size_t value_end = 0;  ///< one past the value's last byte
};

template <class T>
using ArenaVector = std::pmr::vector<T>;

/// What an image, audio or file part carries (ChatContentPart::media()): `image_url.url` (or a
/// bare string `image_url`) and `image_url.detail`; `input_audio`'s `format` and `data`;
/// `file.file_id`, `file.filename`, `file.file_data` (opaque).
struct ChatPartMedia {
  std::string_view url;
  bool bare_url = false;  ///< `url` came from a bare-string `image_url` (which OpenAI refuses)
  std::string_view detail;
  bool inline_data = false;     ///< the url is a data: URL (RFC 2397) with a comma
  std::string_view media_type;  ///< of the data URL, up to its first ';' (may be empty)
  /// The data URL's payload (base64 or not, not decoded); for input_audio, its `data`.
  std::string_view data;
  bool base64 = false;  ///< the data URL's header ends in ";base64"
  std::string_view format;
  std::string_view file_id;
  std::string_view filename;
  std::string_view file_data;
};

/// One part of an array `content`. Which members are set follows `kind`; the others stay empty.
/// A nested object (`image_url`, `input_audio`, `file`) sent twice, or followed by null, counts
/// as its last occurrence alone, as a DOM keeps it: the members of an earlier one are dropped.
/// A text part holds no media members: they live in the arena, made for a part that names one
/// (so a body of many short text parts costs about 80 bytes a part).
struct ChatContentPart {
  enum class Kind { text, image_url, input_audio, file, refusal, unknown };
  Kind kind = Kind::unknown;
  std::string_view type;  ///< as sent (may be empty when absent)
  /// The part's text: `text`, except for a refusal part: its `refusal` (copied when the part
  /// closes), so that a reader of text and refusal parts reads this one member.
  std::string_view text;
  std::string_view refusal;  ///< `refusal`, for every kind
  /// `text` came from a string the client sent (even an empty one); false when the member it
  /// reads (`text`, or `refusal` for a refusal part) was absent or null.
  bool text_set = false;
  bool refusal_set = false;  ///< the same for `refusal`
  std::uint32_t begin = 0;   ///< the part's bytes in the body (for unknown parts: pass them on)
  std::uint32_t end = 0;
  /// The image, audio or file members (all empty when the part named none).
  const ChatPartMedia& media() const { return media_ != nullptr ? *media_ : kNoMedia; }
  ChatPartMedia* media_ = nullptr;  ///< in the request's arena; set by the parser

 private:
  static constexpr ChatPartMedia kNoMedia{};
};

/// An assistant message's `tool_calls` entry. A `function` sent twice, or followed by null,
/// counts as its last occurrence alone (as for ChatContentPart's nested objects).
struct ChatToolCall {
  std::string_view id;
  std::string_view type;  ///< "function"
  std::string_view name;
  std::string_view arguments;  ///< the JSON text of the arguments, unescaped, as a string
  bool has_function = false;   ///< `function` is an object (absent or null: false)
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct ChatMessage {
  enum class Role { system, developer, user, assistant, tool, function, other };
  /// What `content` was: absent, JSON null, a string (`text`) or an array (`parts`).
  enum class Content { absent, null, text, parts };

  explicit ChatMessage(std::pmr::memory_resource* r) : parts(r), tool_calls(r), unknown(r) {}

  Role role = Role::other;
  std::string_view role_text;  ///< as sent (empty when absent)
  std::string_view name;
  Content content_kind = Content::absent;
  std::string_view text;
  ArenaVector<ChatContentPart> parts;
  ArenaVector<ChatToolCall> tool_calls;
  bool has_tool_calls = false;  ///< `tool_calls` is an array, even an empty one
  std::string_view tool_call_id;
  ArenaVector<RawMember> unknown;  ///< members not listed above
  std::size_t begin = 0;           ///< the message's bytes in the body
  std::size_t end = 0;
};

/// A `tools` entry. A `function` sent twice, or followed by null, counts as its last occurrence
/// alone (as for ChatContentPart's nested objects).
struct ChatTool {
  std::string_view type;  ///< "function" (others are kept with their bytes only)
  std::string_view name;
  std::string_view description;
  /// Raw JSON bytes of `function.parameters` (empty when absent; "null" when sent as null).
  std::string_view parameters;
  std::optional<bool> strict;
  bool has_function = false;  ///< `function` is an object (absent or null: false)
  std::size_t begin = 0;
  std::size_t end = 0;
};

struct ChatToolChoice {
  enum class Kind { none, automatic, required, function, other };
  Kind kind = Kind::other;
  std::string_view type;  ///< the object form's `type`
  std::string_view name;  ///< the object form's `function.name` (of its last `function`)
  std::string_view raw;   ///< the member's raw JSON bytes
};

struct ChatResponseFormat {
  std::string_view type;         ///< "text", "json_object", "json_schema"
  std::string_view json_schema;  ///< raw JSON bytes of `json_schema` (empty when absent)
};

/// A token of the body, in document order, as the parser met it: a string (key or value), a number
/// or literal, or a whole container. The tape the facts walker (chat_facts_canonical.cc) reads the
/// body's values in order from, without scanning the body again. Offsets are bytes of the body.
struct ChatToken {
  std::uint32_t begin;  ///< its first byte
  std::uint32_t end;    ///< one past its last byte (a container's closing bracket)
  std::uint32_t next;   ///< the token after it (for a container, after all it holds)
  std::uint32_t text;   ///< a string holding escapes: 1 + the index of its text in `unescaped`
};

/// The parsed request. Movable (its arena lives on the heap, recycled per thread); the body must
/// outlive it.
/// Members that were absent or null are empty / nullopt.
class ChatRequest {
  std::unique_ptr<RequestArena, RequestArena::Release>
      arena_;  // first: the vectors below allocate from it

 public:
  ChatRequest();

  std::string_view body;  ///< the parsed body
  std::string_view model;
  std::optional<bool> stream;
  std::optional<bool> include_usage;  ///< stream_options.include_usage
  std::optional<std::int64_t> max_completion_tokens;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> n;
  std::optional<std::int64_t> seed;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  ArenaVector<std::string_view> stop;  ///< a string `stop` is a list of one
  std::optional<ChatResponseFormat> response_format;
  std::string_view reasoning_effort;
  std::string_view user;
  ArenaVector<ChatTool> tools;
  std::optional<ChatToolChoice> tool_choice;
  std::optional<bool> parallel_tool_calls;
  ArenaVector<ChatMessage> messages;
  ArenaVector<RawMember> members;     ///< every top-level member, in order, duplicates included
  ArenaVector<RawMember> unknown;     ///< the top-level members not typed above
  std::span<const ChatToken> tokens;  ///< every token of the body, in order (in the arena)
  ArenaVector<std::string_view> unescaped;  ///< the texts of the strings holding escapes

  // Reading the tape (for what the typed members do not keep, such as the order of members):
  // a member of an object token `o` is a key token and its value token after it, the first key
  // at o + 1, each next one at tokens[value].next, until tokens[o].next.
  /// The first byte of token `t`: '"', '{', '[', 't', 'f', 'n', or a number's.
  char token_first(std::size_t t) const { return body[tokens[t].begin]; }
  /// The text of the string token `t`, unescaped.
  std::string_view token_text(std::size_t t) const {
    const ChatToken& k = tokens[t];
    if (k.text != 0) {
      return unescaped[k.text - 1];
    }
    return {body.data() + k.begin + 1, std::size_t{k.end} - k.begin - 2};
  }
  /// The JSON bytes of token `t`.
  std::string_view token_bytes(std::size_t t) const {
    return body.substr(tokens[t].begin, std::size_t{tokens[t].end} - tokens[t].begin);
  }

  /// The output-token limit: max_completion_tokens, else the deprecated max_tokens.
  std::optional<std::int64_t> output_cap() const {
    return max_completion_tokens ? max_completion_tokens : max_tokens;
  }
  /// The raw JSON bytes of the top-level member `key` as the body has them (its last occurrence,
  /// the one the typed members hold); empty when absent.
  std::string_view raw(std::string_view key) const;
  /// Whether `s` is empty or lies inside the body or the arena (the fuzz target's oracle).
  bool holds(std::string_view s) const;
  RequestArena& arena() { return *arena_; }
  const RequestArena& arena() const { return *arena_; }
};

/// The most a typed reading of a body of `body_bytes` may take from the heap by default: 16x the
/// text and 256 KiB. The typed reading of a body of long texts takes well under 1x (its strings
/// are views into the body); of a long agent conversation (many short messages, tool calls and
/// results, parts) 6x to 15x, where a DOM takes 5x to 8x. Only hostile shapes pass 16x: many empty
/// or near-empty objects (`[{},{},...]` as messages or parts take ~100x). Below a few hundred
/// messages the arena's growth steps (a message's record is 200 bytes, its vector doubles) take
/// up to 40x a dense conversation's few kilobytes: the 256 KiB cover them (a conversation of 150
/// turns of "ok", 5 KB, takes 155 KB).
constexpr std::size_t typed_heap_budget(std::size_t body_bytes) {
  constexpr std::size_t kBytesPerBodyByte = 16;
  constexpr std::size_t kSlack = 256 * 1024;
  return kBytesPerBodyByte * body_bytes + kSlack;
}

/// The code of the ParseError for a body past its memory budget.
inline constexpr std::string_view kOverBudget = "request_too_large";

/// Parses a chat-completions body. Errors, in the order the gateway checks them: malformed JSON,
/// a top level that is not an object, or nesting deeper than 128 ("We could not parse the JSON
/// body..."); a missing, non-string or empty model; a missing `messages` or one that is not an
/// array; a `stream` that is neither boolean nor null; then the first known member (by position)
/// of the wrong type ("Invalid type for 'messages[1].content': expected ..."). A body of 4 GiB or
/// more is refused as malformed (the tokens' offsets are 32 bits). `max_heap_bytes` (by default
/// typed_heap_budget(body.size())): once the arena has taken more than this from the heap, the
/// parse stops with an error of its own, code kOverBudget (a caller with a cheaper reading, such
/// as a DOM, uses that instead). `require_model`: false
/// accepts a body without a model (a translator that calls the backend's configured model).
/// Never throws but std::bad_alloc.
Result<ChatRequest, ParseError> parse_chat_request(std::string_view body,
                                                   std::optional<std::size_t> max_heap_bytes = {},
                                                   bool require_model = true);

}  // namespace sb::adapters
