#pragma once
// What a routing decision needs to know about an OpenAI request, read from its parsed body: every
// text the upstream will receive (for sensitivity detection), the content the gateway cannot read,
// and the request's shape (for capability tier and policies). Pure.
//
// What is scanned is the whole body, whatever its fields are called, at any depth: every object
// key, every string value and every number of 100,000 or more in magnitude, as decimal text (one
// written with a fraction or an exponent, `4111111111111111.0`, as the digits of its whole part,
// so a card number sent as a float is read as one; from 10^21 on, `1e+308`, in its shortest form,
// so that a body of numbers written short is not a text many times its size). Strings holding
// JSON (tool call arguments, or any string that starts with '{' or '[' and contains an escape) are
// parsed (bounded in size and depth) and their decoded keys and strings scanned as well, so
// escaped digits are seen as digits. Conversation text comes first, as the model reads it: the
// text parts of one message concatenated with no separator, adjacent messages joined by one
// space. Base64 payloads (data: URLs, input_audio data, Anthropic base64 sources, file_data) are
// not scanned: they are flagged as unscannable content instead, as are token-id prompts and
// inputs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::json {
class object;
class value;
}  // namespace boost::json

namespace sb::adapters {

class ChatRequest;

struct ChatFacts {
  /// Everything to scan, as views into `text` (one buffer: the conversation transcript, then every
  /// other key and string of the body, one per line). Valid while this ChatFacts lives unchanged.
  std::vector<std::string_view> texts;
  std::string text;
  std::uint64_t text_bytes = 0;  ///< string values (not keys, model or roles): the prompt's size
  std::uint64_t estimated_prompt_tokens = 0;  ///< ~4 bytes per token + per-message overhead
  /// An upper bound of the prompt's tokens, for worst-case reservations: one token per byte of
  /// every key and string scanned, plus the per-message overhead and, with tools, the tool-use
  /// preamble providers add. A byte-level BPE token (GPT, Llama 3, Qwen) or a SentencePiece
  /// byte-fallback token (Llama 2, Mistral, Gemma) covers at least one byte of UTF-8, so no such
  /// tokenizer exceeds it whatever the text: digits (one token per digit in SentencePiece), CJK
  /// (up to three tokens per character), base64 or random strings. Content the gateway cannot
  /// read (images, audio, files) is not bounded; its usage reconciles.
  std::uint64_t prompt_tokens_bound = 0;
  std::optional<std::uint64_t> max_tokens;  ///< max_completion_tokens, else max_tokens
  /// The answers the request asks for, each up to max_tokens: `n`, and for completions the
  /// larger of `n` and `best_of` (read as output_tokens_asked reads a limit); 1 when absent or
  /// less. The worst case of a request's output is max_tokens times this.
  std::uint64_t choices = 1;
  bool tools = false;        ///< tools or functions declared
  bool images = false;       ///< an image (image_url / input_image / image part, image data URL)
  bool json_schema = false;  ///< response_format.type == "json_schema"
  bool token_ids = false;    ///< a prompt or input given as token ids
  bool audio = false;        ///< input audio (input_audio parts, a message's audio, audio data)
  bool files = false;        ///< files (file parts, file_id, file_data, documents, other data:)
  std::uint64_t depth = 0;   ///< number of messages
  std::string reasoning_effort;

  /// Every member equal (the texts by their contents).
  bool operator==(const ChatFacts&) const = default;
};

/// An output-token limit (`max_tokens`, `max_completion_tokens`) as an engine may read it: an
/// integer of 0 or more; a number with a fraction or an exponent (`1e5`, `100000.0`), rounded
/// up; a string holding such a number (`"100000"`), as lenient readers coerce it (vLLM's and
/// SGLang's request models). nullopt for anything else (absent, null, negative, other strings,
/// other types): a value no engine reads as a limit. Saturates at the largest uint64.
std::optional<std::uint64_t> output_tokens_asked(const boost::json::value& v);

/// Collects the facts of a chat-completions body (already validated as an object). `out` is
/// cleared first; its storage is reused.
void collect_chat_facts(const boost::json::object& body, ChatFacts& out);

/// The same from a request parse_chat_request() accepted (adapters/canonical.h), without a DOM:
/// equal in every field to what the overload above collects from the same body parsed as a DOM.
/// `request` (and the body it views) must outlive the call only. `repeated`, when given, says
/// whether an object of the body names a key twice (the walk merges each object's members as a
/// DOM does, so it knows at no cost): such a body's bytes hold values the facts do not
/// (collect_raw_facts).
void collect_chat_facts(const ChatRequest& request, ChatFacts& out, bool* repeated = nullptr);

/// The same for a legacy completions body (`prompt` as text or token ids, `suffix`, the rest).
void collect_completion_facts(const boost::json::object& body, ChatFacts& out);

/// The same for an embeddings body (`input` as text or token ids). max_tokens is 0.
void collect_embedding_facts(const boost::json::object& body, ChatFacts& out);

/// Any other body (e.g. an Anthropic Messages request before translation): every key and string
/// is scanned and unscannable content flagged, with no shape facts.
void collect_body_facts(const boost::json::object& body, ChatFacts& out);

/// Every key, string and large integer of the JSON text `json`, read from its bytes in document
/// order: the facts of a body that names a key twice in one object. RFC 8259 leaves such an
/// object's meaning to the reader: the DOM and the typed reading keep the last value of the key,
/// other parsers the first, and the bytes forwarded hold every one. Strings are scanned and
/// decoded as the walks above do (JSON held in strings, base64 data URLs flagged), parts flagged
/// by `type`; no shape facts. Base64 members that are not data URLs (`file_data`, an Anthropic
/// source's `data`) are scanned as text here: more than the walks above read, never less. Text
/// that is not JSON adds what was read before the error.
void collect_raw_facts(std::string_view json, ChatFacts& out);

}  // namespace sb::adapters
