#pragma once
// Anthropic's Messages API as an INBOUND protocol (https://docs.anthropic.com/en/api/messages):
// clients using an Anthropic SDK send `POST /v1/messages`; the gateway routes the request like any
// chat request, in OpenAI chat-completions form, and answers in Anthropic's form. This is the
// reverse of adapters/anthropic.h (which speaks to Anthropic as an upstream).
//
// Pure and per request: no sockets, no clock, no config types.
//
// Request (Anthropic -> OpenAI chat completions), see anthropic_to_openai_request():
// - `model` is kept as sent (the gateway's alias); `max_tokens` (required, as Anthropic requires
//   it) -> `max_tokens`, lowered to AnthropicInboundOptions::max_tokens_cap when that is set and
//   smaller; `stop_sequences` -> `stop`; temperature and top_p pass through with the client's
//   number text; `metadata.user_id` -> `user`; `stream: true` -> `stream` plus
//   `stream_options: {include_usage: true}` (the usage chunk is how the gateway learns the true
//   token counts; OpenAI rejects stream_options on a non-stream request, so it is only sent with
//   `stream`);
// - `system` (a string or text blocks) -> one leading system message; system turns inside
//   `messages` (Claude Code sends them, anywhere, some carrying only `output_config`) -> system
//   messages in their place, in order (one with no content adds nothing);
// - messages: text blocks -> a plain string (one block) or text parts (several); image blocks
//   (https://docs.anthropic.com/en/docs/build-with-claude/vision) -> image_url parts (base64
//   sources as `data:` URLs); document blocks with plain-text or content sources -> a text part
//   ("Document: <title>\n\n" and "<context>\n\n" first when given); PDF documents (base64 or URL)
//   and Files API sources are refused (the engine cannot read them; dropping them would change
//   the question); assistant `tool_use` blocks -> `tool_calls` (arguments = the input
//   serialized); user `tool_result` blocks -> `tool` messages placed before the rest of their
//   turn (OpenAI wants tool messages right after the assistant message that called the tools),
//   their text blocks joined by newlines, `is_error: true` as the prefix "Error: " (the text
//   alone "Error" when empty), images in them moved to the user message that follows, after a
//   text part "Image from the result of tool call <id>:";
// - assistant `thinking` blocks -> `reasoning_content` (their text concatenated) when
//   AnthropicInboundOptions::reasoning_content says the engine takes it back (vLLM, SGLang,
//   llama.cpp, DeepSeek), else dropped; `redacted_thinking` is always dropped (encrypted); the
//   calls and results of Anthropic's server tools in history (server_tool_use,
//   *_tool_result, mcp_tool_use) are dropped (only Anthropic can take them back; the answer
//   text that used them stays);
// - tools `[{name, description, input_schema}]` -> function tools; Anthropic's server tools
//   (typed tools: web search, web fetch, code execution, tool search, ...) are left out, as the
//   engine cannot run them; `defer_loading` is ignored (every client tool is declared up
//   front); tool_choice auto | any | tool | none -> "auto" | "required" | {function} | "none"
//   (naming a tool that is not a client tool is refused); `disable_parallel_tool_use: true` ->
//   `parallel_tool_calls: false` (https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/
//   implement-tool-use);
// - `thinking` -> `reasoning_effort` when AnthropicInboundOptions::reasoning_effort says the
//   engine takes one: enabled by budget_tokens (< 8192 "low", < 24576 "medium", else "high"),
//   adaptive by output_config.effort (low/medium/high, "max" as "high"; none: nothing), disabled:
//   nothing; without thinking, output_config.effort alone. The answer shows the engine's
//   reasoning as thinking only when thinking is asked for (anthropic_thinking_requested);
// - `output_config.format` (`{type: json_schema, schema}`) -> `response_format` json_schema
//   (name "output", strict);
// - ignored, as they only tune the answer or the provider's own machinery and the answer is
//   still a valid Messages answer without them: `cache_control` (anywhere), `context_management`
//   (the engine gets the history as sent), the rest of `output_config`, top_k, service_tier,
//   container, mcp_servers, inference_geo and members unknown to this code;
// - rejected (HTTP 400, invalid_request_error) in the wording of Anthropic's own validator
//   (`<dotted path>: <reason>`: "model: Field required", "max_tokens: Input should be greater
//   than or equal to 1", "messages: at least one message is required", "messages.1.role: Input
//   should be 'user', 'assistant' or 'system'", "messages.0.content.2: Input tag 'x' found
//   using 'type' does not match any of the expected tags: ...", "tools.0.custom.input_schema:
//   Field required", "stream: Input should be a valid boolean", ...) for the shapes Anthropic
//   would refuse that this code reads; and, in plain words naming the path, what Anthropic takes
//   but this lane cannot carry (PDF and file documents, search results and other blocks an OpenAI
//   engine cannot read, file image sources, tool_choice naming a server tool).
//
// Response and stream: see openai_to_anthropic_response() and AnthropicStreamWriter.
//
// Usage mapping (both paths): Anthropic's input_tokens excludes cache reads while OpenAI's
// prompt_tokens includes them, so input_tokens = prompt_tokens - cached_tokens and
// cache_read_input_tokens = cached_tokens; output_tokens = completion_tokens;
// cache_creation_input_tokens = 0 (OpenAI-format backends do not report cache writes).
//
// Stop reasons: stop -> end_turn, length -> max_tokens, tool_calls (and the legacy
// function_call) -> tool_use, content_filter -> refusal, anything else -> end_turn. OpenAI does
// not say whether a stop sequence ended the answer, so stop_reason is never "stop_sequence" and
// stop_sequence is always null.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "adapters/chat_chunks.h"
#include "adapters/sse.h"
#include "adapters/usage.h"

namespace boost::json {
class object;
}

namespace sb::adapters {

/// What the translated lane knows of the engine behind it (the gateway fills it from the chosen
/// backend's configuration).
struct AnthropicInboundOptions {
  /// The engine takes `reasoning_content` on assistant messages (and so gets the history's
  /// thinking text back). Off: thinking blocks are dropped.
  bool reasoning_content = false;
  /// The engine takes `reasoning_effort` (a reasoning model). Off: thinking and
  /// output_config.effort send nothing.
  bool reasoning_effort = false;
  /// The backend's max_output_tokens; max_tokens above it is lowered to it. 0: no cap.
  std::uint64_t max_tokens_cap = 0;
  /// The size of the client's body text, when known: the chat text is about as long, and its
  /// string is given that room from the start.
  std::size_t body_bytes = 0;
};

/// Translates a client's Anthropic Messages request body into an OpenAI chat-completions request
/// body (JSON text). On an invalid shape returns nullopt and sets `error` to a message in
/// Anthropic's wording naming the member (e.g. "messages.1.content.0.text: Field required"); the
/// caller answers 400 invalid_request_error in Anthropic's shape. Thread-safe (pure).
std::optional<std::string> anthropic_to_openai_request(const boost::json::object& anthropic_body,
                                                       std::string& error,
                                                       const AnthropicInboundOptions& options = {});

/// The gateway's estimate of a count_tokens body's input tokens (POST /v1/messages/count_tokens
/// routed to a backend that is not Anthropic-format; an Anthropic backend counts exactly, see
/// anthropic_native.h): the body is checked and translated as a Messages request (max_tokens not
/// required; thinking text included) and measured by collect_chat_facts'
/// estimated_prompt_tokens (about four bytes per token plus a per-message overhead; images not
/// counted). An estimate, not the model's tokenizer. nullopt with `error` (Anthropic's wording)
/// when the body would be refused.
std::optional<std::int64_t> anthropic_count_tokens_estimate(
    const boost::json::object& anthropic_body, std::string& error);

/// Whether the request asked to see thinking (`thinking.type` "enabled" or "adaptive", and not
/// `display: "omitted"`, with which Anthropic returns thinking blocks without their text, which
/// the gateway could not sign either): then the answer carries the engine's reasoning as a
/// thinking block (see the answer functions).
bool anthropic_thinking_requested(const boost::json::object& anthropic_body);

/// Translates an OpenAI chat.completion (a 200 answer) into an Anthropic Message:
/// `{id, type:"message", role:"assistant", model, content, stop_reason, stop_sequence:null,
/// usage}`. `id`: an upstream id that already starts with "msg_" is kept, else "msg_" + the OpenAI
/// id without its "chatcmpl-" prefix (so "chatcmpl-msg_01X" is "msg_01X", never "msg_msg_");
/// `model` is the alias the client asked for. Content: the answer's text (and refusal text) as
/// one text block when not empty, then one tool_use block per tool call (input = the parsed
/// arguments; arguments that are not a JSON object, which a model can produce, become `{}`
/// because Anthropic requires an object). Only the first choice is read. Reasoning text some
/// backends add (`reasoning_content`, or `reasoning`) is dropped, as the client did not ask for
/// thinking (see try_openai_to_anthropic_response for when it did).
///
/// When the input is not a chat.completion object (no choices[0].message), returns an Anthropic
/// error body (`"type":"error"`, api_error); use try_openai_to_anthropic_response to tell the
/// cases apart.
std::string openai_to_anthropic_response(std::string_view openai_chat_completion_json,
                                         std::string_view model);

/// Same as openai_to_anthropic_response, but returns nullopt (and sets `error`) when the input
/// cannot be read as a chat.completion, so the caller can answer 502. `cache_write`: prompt-cache
/// writes the upstream reported that the OpenAI shape cannot carry (an Anthropic or Bedrock
/// upstream's), for `cache_creation_input_tokens`; 0 keeps what the body says. `thinking`: the
/// request asked for thinking (anthropic_thinking_requested); then the message's
/// `reasoning_content` (else `reasoning`) text comes first as a thinking block
/// `{"type":"thinking","thinking":..,"signature":""}` (the gateway cannot sign; Anthropic SDKs
/// accept the empty signature; sent back, it becomes reasoning_content again on this lane, and
/// the native lane removes it before Anthropic sees it, see anthropic_native.h). Without it,
/// reasoning is dropped.
std::optional<std::string> try_openai_to_anthropic_response(
    std::string_view openai_chat_completion_json, std::string_view model, std::string& error,
    std::int64_t cache_write = 0, bool thinking = false);

/// The Anthropic error `type` for an HTTP status (https://docs.anthropic.com/en/api/errors):
/// 400 and other 4xx -> invalid_request_error, 401 authentication_error, 403 permission_error,
/// 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 503 and 529
/// overloaded_error (the gateway's 503 means no backend can take the request now, which Anthropic
/// SDKs should treat as they treat 529), 504 timeout_error, other statuses api_error.
std::string_view anthropic_error_type(unsigned status);

/// An OpenAI error body (`{"error":{"message",...}}`) as Anthropic's
/// `{"type":"error","error":{"type","message"}}`, the type chosen by `status`
/// (anthropic_error_type). The message is kept; when the body has none, it says "HTTP <status>".
/// The HTTP status itself is the caller's (it is sent unchanged).
std::string openai_error_to_anthropic(unsigned status, std::string_view openai_error_body);

/// Turns the OpenAI chat.completion.chunk SSE stream the gateway relays (`data: {chunk}\n\n` ...
/// `data: [DONE]\n\n`) into Anthropic's streaming events
/// (https://docs.anthropic.com/en/docs/build-with-claude/streaming), each written as
/// `event: NAME\ndata: {...}\n\n`:
///
/// - `message_start` when the first chunk arrives, its `id` as the answer's (see
///   openai_to_anthropic_response). Anthropic reports input tokens at the start, but an OpenAI
///   stream reports usage only at its end, so message_start carries, in this order of
///   preference: the usage of that first chunk when it has one, the upstream's own count given
///   to set_upstream_input() before the first chunk, else the estimate given to the constructor
///   (0 by default); the true counts (input_tokens, cache_read_input_tokens, output_tokens) come
///   in `message_delta`, whose usage Anthropic SDKs take as final;
/// - when the request asked for thinking (constructor), `reasoning_content` (or `reasoning`)
///   deltas -> a thinking block: `content_block_start` `{"type":"thinking","thinking":"",
///   "signature":""}`, `thinking_delta` deltas, `content_block_stop` (no signature_delta: the
///   SDKs' accumulators keep the start's empty signature). Without thinking they are dropped;
/// - one content block per text or tool-call segment, numbered 0, 1, ... in order:
///   `content_block_start` (text: `{"type":"text","text":""}`; tool call: `{"type":"tool_use",
///   "id","name","input":{}}`), `content_block_delta` (`text_delta`, or `input_json_delta` with
///   the tool call's argument fragments as `partial_json`), and `content_block_stop` when the next
///   segment starts or the message ends. Refusal deltas are text. Tool calls are expected one after
///   another, as OpenAI streams them; an argument fragment for a call whose block is already
///   stopped is dropped (Anthropic's protocol cannot reopen a block);
/// - at `data: [DONE]`: `message_delta` (stop_reason, stop_sequence null, usage) and
///   `message_stop`. Anything after [DONE] is ignored;
/// - an OpenAI error event (`data: {"error":{...}}`) -> `event: error` with
///   `{"type":"error","error":{"type","message"}}` (the type from the OpenAI error's type/code:
///   rate limits -> rate_limit_error, overload -> overloaded_error, else api_error), and the
///   stream is over (feed() returns false). Data that is not JSON does the same with api_error.
///
/// Bytes may be split anywhere (SseParser). Not thread-safe; one per response.
class AnthropicStreamWriter final : public ChatChunkReader {
 public:
  /// `model`: the alias the client asked for. `estimated_input_tokens`: the gateway's pre-dispatch
  /// prompt estimate for message_start (0 when unknown). `thinking`: the request asked for
  /// thinking (anthropic_thinking_requested), so reasoning deltas become a thinking block.
  explicit AnthropicStreamWriter(std::string_view model, std::int64_t estimated_input_tokens = 0,
                                 bool thinking = false);

  // feed(), finish(), done(), failed(), usage() and set_cache_write() are ChatChunkReader's.
  // feed() appends Anthropic SSE bytes. finish(), at the relayed body's end, appends nothing after
  // [DONE]; after a finish_reason (some servers omit [DONE]) it completes the message as [DONE]
  // would; otherwise the answer was cut short: an `error` event (api_error), false. done(): after
  // message_stop; failed(): after an error event. usage(): the include_usage chunk's, as OpenAI
  // counts. set_cache_write(): cache_creation_input_tokens (call before the usage chunk).

  /// The upstream's own input count, when the gateway learns it before the first chunk (e.g. an
  /// Anthropic or Bedrock upstream's message_start, or a count_tokens answer), in the gateway's
  /// units (input includes cached_input and cache_write); message_start reports it instead of
  /// the estimate. Ignored once message_start was written.
  void set_upstream_input(const Usage& u) { upstream_input_ = u; }

 private:
  enum class BlockKind { none, text, tool, thinking };

  void on_chunk(const ChatChunk& chunk, std::string& out) override;
  std::string_view error_kind(std::string_view type, std::string_view code) const override;
  bool finish_reason_seen() const override { return !stop_reason_.empty(); }
  void write_complete(std::string& out) override;
  void write_failure(std::string_view type, std::string_view message, std::string& out) override;
  void start_message(std::string_view openai_id, std::string& out);
  void on_text(std::string_view text, std::string& out);
  void on_thinking(std::string_view text, std::string& out);
  void open_block(BlockKind kind, std::string_view content_block, std::string& out);
  void on_tool_delta(const ChunkToolCall& call, std::string& out);
  void close_block(std::string& out);

  std::string model_;
  std::int64_t estimated_input_;
  std::string message_id_;
  std::string scratch_;
  bool started_ = false;
  BlockKind open_ = BlockKind::none;
  std::int64_t next_block_ = 0;  ///< index of the next content block
  std::int64_t open_tool_ = -1;  ///< OpenAI tool-call index of the open tool block
  /// OpenAI tool-call indexes already given a block (a set: an upstream may stream thousands).
  std::unordered_set<std::int64_t> seen_tools_;
  std::string_view stop_reason_;  ///< points at a literal; empty until a finish_reason
  std::optional<Usage> upstream_input_;
  bool thinking_ = false;
};

}  // namespace sb::adapters
