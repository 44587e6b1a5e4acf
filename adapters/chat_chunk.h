#pragma once
// One OpenAI chat.completion.chunk read in one pass into the members the inbound stream writers
// use: no DOM, no allocation per member. The usual chunk is read by hand
// (chat_chunk_internal.h), any other by a SAX pass. The reading is exactly what parsing the chunk
// with Boost.JSON (default options) and looking the members up would give: the same JSON accepted,
// the last of duplicate keys wins, a member of the wrong kind reads as absent.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/usage.h"

namespace sb::adapters {

/// An element of a delta's `tool_calls` that is an object. Strings are empty when absent or not
/// strings.
struct ChunkToolCall {
  std::optional<std::int64_t> index;  ///< `index` when an integer that fits an int64
  bool has_function = false;          ///< `function` is an object
  std::string_view id;
  std::string_view name;       ///< function.name
  std::string_view arguments;  ///< function.arguments
};

/// An element of `choices` that is an object. The delta's (or message's) members are empty when
/// it is absent or not an object.
struct ChunkChoice {
  /// `index`: absent or null; an integer that fits an int64 (in `index`); anything else.
  enum class Index : std::uint8_t { absent, integer, other };
  std::size_t position = 0;    ///< where in `choices` it stands (counting elements of every kind)
  bool has_body = false;       ///< the delta (or message) is an object
  bool content_parts = false;  ///< its content is an array (of parts; `content` is then empty)
  Index index_kind = Index::absent;
  std::int64_t index = 0;                     ///< 0 unless index_kind is integer
  std::string_view content;                   ///< delta.content
  std::string_view refusal;                   ///< delta.refusal
  std::string_view reasoning_content;         ///< delta.reasoning_content (vLLM, SGLang, DeepSeek)
  std::string_view reasoning;                 ///< delta.reasoning (Ollama, OpenRouter, newer vLLM)
  std::span<const ChunkToolCall> tool_calls;  ///< delta.tool_calls, when an array
  std::string_view finish_reason;

  /// The reasoning text: reasoning_content, else reasoning.
  std::string_view reasoning_text() const {
    return reasoning_content.empty() ? reasoning : reasoning_content;
  }
};

struct ChatChunk {
  std::string_view id;
  std::span<const ChunkChoice> choices;  ///< `choices`, when an array
  /// An `error` member that is not null: an object (its string members type, code and message)
  /// or anything else (a string is the message).
  bool has_error = false;
  std::string_view error_type;
  std::string_view error_code;
  std::string_view error_message;
  /// usage_from_openai() of the chunk.
  std::optional<Usage> usage;
};

/// What a choice carries: a stream chunk's `delta`, or a whole answer's `message` (a
/// chat.completion read the same way).
enum class ChunkBody : std::uint8_t { delta, message };

namespace chunk_detail {
/// The leading bytes of the last chunk read by hand, up to its first member the reader takes
/// besides `id` (`choices`, `usage`, `error`): `{"id":..,"object":..,"created":..,"model":..,
/// "system_fingerprint":..,` in the usual chunk, about two thirds of it. A stream's chunks repeat
/// them byte for byte, and bytes already checked need no second check: a chunk that starts with
/// them is read from where they end, its `id` at the same place. Kept by ChatChunkParser.
struct ChunkPrefix {
  std::string bytes;         ///< empty: none yet
  std::size_t id_begin = 0;  ///< `id`'s text within `bytes`, when has_id
  std::size_t id_size = 0;
  bool has_id = false;
};

/// A content delta of the last chunks read by hand, kept as the bytes around its content string:
/// the usual chunk of a stream is one choice whose delta carries text (a reasoning model's
/// thinking, a tool call's arguments) and nothing else the readers take
/// (`{"id":..,...,"choices":[{"index":0,"delta":
/// {"content":"` + text + `"},"logprobs":null,"finish_reason":null}],"usage":null}`), and the next
/// is the same bytes around other text. A
/// chunk that is those bytes around a string reads as that chunk did, with its own text: one
/// string is checked, not the chunk. Kept by ChatChunkParser.
struct ChunkContent {
  std::string around;        ///< the bytes before the string, then those after it; empty: none
  std::size_t before = 0;    ///< how many of `around` come before the string
  std::size_t id_begin = 0;  ///< `id`'s text among the bytes before, when has_id
  std::size_t id_size = 0;
  bool has_id = false;
  /// Which member the string is: the text, a reasoning model's thinking, or the arguments of the
  /// delta's one tool call (its `index` in call_index; no id, no name).
  enum class Field : std::uint8_t {
    content,
    reasoning_content,
    reasoning,
    arguments
  } field = Field::content;
  std::optional<std::int64_t> call_index;
  ChunkChoice::Index index_kind = ChunkChoice::Index::absent;
  std::int64_t index = 0;
};

}  // namespace chunk_detail

/// Reads chunks, one at a time, reusing its buffers (no allocation once they have grown to the
/// largest chunk). Not thread-safe.
class ChatChunkParser {
 public:
  /// Reads `data`, one event's data, into `out`: false when it is not JSON or not an object. The
  /// views point into `data` (strings without escapes) or into this parser (decoded ones): valid
  /// while `data` lives and until the next parse().
  bool parse(std::string_view data, ChatChunk& out, ChunkBody body = ChunkBody::delta);
  /// Reads a whole answer (a chat.completion) into `out`: its first choice when that is the first
  /// element of `choices` and carries a message object; nullptr when the text is no such answer.
  const ChunkChoice* parse_answer(std::string_view answer, ChatChunk& out);

 private:
  std::span<const ChunkChoice> with_calls();

  std::vector<ChunkChoice> choices_;
  std::vector<ChunkToolCall> calls_;
  std::vector<std::size_t> calls_begin_;  ///< per choice, its first call in calls_
  std::string decoded_;                   ///< strings with escapes, decoded
  chunk_detail::ChunkPrefix prefix_;      ///< the last chunk's leading members, checked
  chunk_detail::ChunkContent content_;    ///< the last content delta's bytes around its text
};

}  // namespace sb::adapters
