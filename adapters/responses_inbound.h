#pragma once
// OpenAI's Responses API as an INBOUND protocol (https://platform.openai.com/docs/api-reference/
// responses): clients such as Codex CLI and the `openai` SDKs' `responses.create` /
// `responses.stream` send `POST /v1/responses`; the gateway routes the request like any chat
// request, in OpenAI chat-completions form, and answers with Response objects and the Responses
// event stream. Same shape as adapters/anthropic_inbound.h does for Anthropic's Messages API.
//
// Pure and per request: no sockets, no clock, no config types. new_response_id() is the only
// source of randomness.
//
// Request (Responses -> chat completions), see responses_to_chat_request():
// - `model` kept as sent; `instructions` (a string) -> one leading system message; then the
//   stored conversation of `previous_response_id` (`history`, given by the caller); then `input`;
// - `input` a string -> one user message; or items
//   (https://platform.openai.com/docs/api-reference/responses/create#responses-create-input):
//   * `message` (or an item without `type` that has a `role`): roles user, assistant, system and
//     developer (developer -> system: self-hosted engines know no developer role, and OpenAI
//     treats the two alike for chat models). Content a string or parts: input_text -> text;
//     input_image with `image_url` (a URL or a data: URL) -> image_url part, `detail` kept; by
//     `file_id` -> 400 (needs OpenAI's Files API, which the gateway does not serve); input_file
//     with `file_data` -> the chat `file` part ({file_data, filename}, what chat completions takes
//     for PDFs, https://platform.openai.com/docs/guides/pdf-files), by file_id or file_url ->
//     400; output_text and refusal (assistant) -> text. Images and files only in user turns;
//   * `function_call` -> an assistant tool call (call_id -> the tool call id; `namespace` joins
//     the name as below). Consecutive calls, and calls right after an assistant message, form one
//     assistant message with `tool_calls`, as the chat model produced them;
//   * `function_call_output` -> a `tool` message (output a string, or parts: input_text as its
//     text; input_image and input_file parts, which chat tool messages cannot carry, follow the
//     run of tool messages as one user message, where chat models take images; Codex CLI's
//     view_image tool answers that way);
//   * `custom_tool_call` / `custom_tool_call_output` -> the same, the call's `input` as the
//     arguments `{"input": ...}` of the flattened custom tool (below);
//   * `reasoning` items are dropped: their text is the model's own and their encrypted_content
//     can only be read by OpenAI; the chat wire has no way to send either back;
//   * `item_reference` -> 400: it points into OpenAI's item store, which the gateway does not
//     keep (it keeps whole conversations for previous_response_id only);
//   * any other item type, or a role outside the four -> 400;
// - tools (https://platform.openai.com/docs/guides/function-calling):
//   * function {name, description, parameters, strict} -> a chat function tool (strict kept);
//   * custom {name, description, format} (https://platform.openai.com/docs/guides/
//     function-calling#custom-tools) -> a function taking one string `input`; a grammar format's
//     definition goes into the parameter's description (the engine does not enforce it). The
//     model's call comes back as a custom_tool_call item with that `input`;
//   * namespace {name, description, tools} (function and custom tools grouped; calls carry
//     `namespace` and the inner `name`) -> its tools flattened to "<namespace>__<name>", the
//     namespace's description ahead of each tool's. Codex CLI sends one (multi_agent_v1);
//   * web_search / web_search_preview are DROPPED: Codex CLI sends `{"type":"web_search"}` on
//     every request by default, and without it the model simply has no search tool, which an
//     engine without search is anyway. Every other built-in tool (file_search, computer_use*,
//     code_interpreter, image_generation, local_shell, shell, apply_patch, mcp, tool_search)
//     runs inside OpenAI's service -> 400 naming the type and the tool's index;
//   * the flattened names are returned in ResponsesTurn::tool_aliases, for ResponseMeta, so the
//     answer's calls are given back their item type, namespace and name;
// - tool_choice: "auto" | "none" | "required" as is; {type: function|custom, name} -> the named
//   function; {type: allowed_tools, mode, tools} -> chat's allowed_tools; built-in tool types ->
//   400. Without tools "auto"/"none" are dropped (OpenAI rejects tool_choice without tools),
//   "required" and a named tool -> 400. `parallel_tool_calls` is sent only with tools;
// - text.format (https://platform.openai.com/docs/guides/structured-outputs): json_schema {name,
//   schema, strict, description} -> response_format json_schema; json_object -> json_object;
//   text -> nothing (the default). text.verbosity is echoed only;
// - reasoning.effort -> reasoning_effort (reasoning.summary echoed only: chat has no summaries);
//   max_output_tokens -> max_completion_tokens; temperature and top_p with the client's number
//   text; user -> user; stream -> stream + stream_options {include_usage: true} (never without
//   stream: OpenAI rejects it);
// - echoed in the Response, not forwarded: store, include, metadata, prompt_cache_key,
//   truncation, service_tier, safety_identifier, top_logprobs, max_tool_calls, text.verbosity,
//   reasoning.summary. They ask things of OpenAI's own service (its store, its cache routing,
//   its tiers, its encrypted reasoning) that an engine behind the gateway cannot do, and several
//   are rejected by OpenAI-compatible servers. store and previous_response_id are the gateway's
//   own business (its conversation store). Members the API does not define (Codex's
//   client_metadata) are ignored;
// - rejected (400 invalid_request_error, OpenAI's wording where known, `param` naming the
//   member): a missing or non-string model, input missing or of another type, bad items, roles,
//   parts and tools as above, background: true (needs OpenAI's asynchronous store), `prompt`
//   templates and `conversation` (OpenAI-side objects).
//
// Response (chat.completion -> Response object, https://platform.openai.com/docs/api-reference/
// responses/object): {id, object: "response", created_at, status, background: false, error,
// incomplete_details, model, output, previous_response_id, <echo>, usage}. Output items in
// order: `reasoning` ({id "rs_..", summary: [], content: [{type: reasoning_text, text}]}) from
// the reasoning_content / reasoning member engines such as vLLM add; `message` ({id "msg_..",
// status, role assistant, content: [{type: output_text, text, annotations: [], logprobs: []}]},
// refusal text included as text); one `function_call` ({id "fc_..", call_id, name, arguments,
// status: completed}, plus `namespace` when flattened) or `custom_tool_call` ({id "ctc_..",
// call_id, name, input}) per tool call. finish_reason length -> status "incomplete" with
// incomplete_details.reason "max_output_tokens", content_filter -> "incomplete" with
// "content_filter"; anything else -> "completed". Item ids share the response id's hex and end in
// the item's output index. `output_text` is not a member (the SDKs compute it).
//
// Usage: input_tokens = prompt_tokens (cached ones included, as the Responses API counts),
// input_tokens_details.cached_tokens, output_tokens = completion_tokens,
// output_tokens_details.reasoning_tokens, total_tokens = input + output. The Responses usage
// has no cache-write counter: cache writes stay part of input_tokens.
//
// Stream: see ResponsesStreamWriter.

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
}  // namespace boost::json

namespace sb::adapters {

/// A tool the request flattened to a chat function name (a namespace member or a custom tool).
struct ToolAlias {
  std::string chat_name;   ///< the name the chat model sees and calls
  std::string name;        ///< the tool's own name
  std::string namespace_;  ///< its namespace; empty for a custom tool outside one
  bool custom = false;     ///< a custom tool: calls carry `{"input": ...}` and answer as input
};

struct ResponsesTurn {
  /// OpenAI chat-completions request JSON; "model" = the client's model string as sent.
  std::string chat_body;
  /// This turn's input as chat messages (JSON array text), instructions and history excluded:
  /// stored for previous_response_id follow-ups.
  std::string input_messages;
  bool stream = false;
  bool store = true;                 ///< OpenAI's default
  std::string previous_response_id;  ///< empty when none
  /// The Response object's request-echo members, as JSON object member text without braces
  /// (instructions, max_output_tokens, max_tool_calls, metadata, parallel_tool_calls,
  /// prompt_cache_key, reasoning, safety_identifier, service_tier, store, temperature, text,
  /// tool_choice, tools, top_logprobs, top_p, truncation, user), with OpenAI's defaults when
  /// absent.
  std::string echo;
  /// Flattened tools (namespace members, custom tools): copy into ResponseMeta.
  std::vector<ToolAlias> tool_aliases;
};

/// Translates a Responses request body. `history`: the stored conversation (chat messages JSON
/// array text from earlier turns: their input_messages + output_messages), "" when none;
/// prepended after the instructions' system message. On a request that cannot be served returns
/// nullopt with `error` (OpenAI's wording where known, naming the member, e.g. "Invalid type for
/// 'input[2].content': ...") and `error_param` (the member, or empty) -> the gateway answers 400
/// invalid_request_error with param. `body_bytes`: the size of the body's text, when known (the
/// turn's messages are about as long, and their string is given that room from the start).
/// Thread-safe (pure).
std::optional<ResponsesTurn> responses_to_chat_request(const boost::json::object& body,
                                                       std::string_view history, std::string& error,
                                                       std::string& error_param,
                                                       std::size_t body_bytes = 0);

/// The same from the body's text: a body that is not JSON, or not a JSON object, is rejected.
std::optional<ResponsesTurn> responses_to_chat_request(std::string_view body,
                                                       std::string_view history, std::string& error,
                                                       std::string& error_param);

/// What the answer side needs to know of the request.
struct ResponseMeta {
  std::string id;  ///< new_response_id()
  std::int64_t created_at = 0;
  std::string model;  ///< the client's model string
  std::string previous_response_id;
  std::string echo;                     ///< ResponsesTurn::echo ("" -> OpenAI's defaults)
  std::vector<ToolAlias> tool_aliases;  ///< ResponsesTurn::tool_aliases
};

/// "resp_" + 48 hex digits of randomness. Thread-safe without locks (a thread_local generator
/// seeded from std::random_device).
std::string new_response_id();

/// chat.completion JSON -> Response object JSON (see the header comment). `output_messages`: the
/// assistant turn as chat messages JSON array text (for the store; reasoning is not kept, as
/// reasoning input items are dropped). nullopt + `error` when the input is not a chat.completion
/// (the caller answers 502). `cache_write`: accepted for symmetry with the Anthropic inbound; the
/// Responses usage has no member for it (see Usage above).
std::optional<std::string> chat_to_response(std::string_view chat_completion,
                                            const ResponseMeta& meta, std::string& output_messages,
                                            std::string& error, std::int64_t cache_write = 0);

/// An OpenAI error body (`{"error":{...}}`) as the Responses API's error body: the same OpenAI
/// shape `{"error":{"message","type","param","code"}}`, message, type, param and code kept (null
/// when absent). A body without a readable error gets message "HTTP <status>" and the type
/// error_type_for(status).
std::string responses_error_body(unsigned status, std::string_view openai_error_body);

/// Turns the OpenAI chat.completion.chunk SSE stream the gateway relays (`data: {chunk}\n\n` ...
/// `data: [DONE]\n\n`) into the Responses event stream
/// (https://platform.openai.com/docs/api-reference/responses-streaming), each event written as
/// `event: NAME\ndata: {...,"sequence_number":N}\n\n` with N = 0, 1, ...:
///
/// - response.created and response.in_progress (the Response with status in_progress, empty
///   output, usage null) when the first event arrives;
/// - text (content and refusal deltas): response.output_item.added (a message item, status
///   in_progress, content []), response.content_part.added (output_text, text ""),
///   response.output_text.delta (item_id, output_index, content_index 0, delta, logprobs []);
///   at its end response.output_text.done (text), response.content_part.done (the part) and
///   response.output_item.done (the item, status completed, or incomplete when the answer was
///   cut);
/// - reasoning (a chunk's reasoning_content or reasoning member): a `reasoning` item (summary
///   [], content []), response.content_part.added (reasoning_text), response.reasoning_text.delta
///   ... .done, response.content_part.done, response.output_item.done;
/// - tool calls: a function_call item (status in_progress, arguments ""), then
///   response.function_call_arguments.delta per fragment; at its end
///   response.function_call_arguments.done (arguments, name) and response.output_item.done. A
///   flattened custom tool's call is a custom_tool_call item whose input is sent whole at its end
///   (response.custom_tool_call_input.delta and .done): its fragments are pieces of the JSON
///   `{"input": ...}`, not of the input. Items are closed one after another, as OpenAI sends
///   them: a new segment (text, reasoning, another call) closes the open one, and a fragment for
///   a closed call is dropped (an item cannot be reopened; chat streams send calls one by one);
/// - at `data: [DONE]` (or the body's end after a finish_reason): the open items are closed, then
///   response.completed, or response.incomplete when the finish_reason was length or
///   content_filter, carrying the whole Response with usage (null when the upstream sent none);
/// - an OpenAI error event (`data: {"error":{...}}`), data that is not a JSON object, an event
///   past the size limit, or the body ending before a finish_reason -> an `error` event
///   ({type: "error", code, message, param: null}) and response.failed (the Response with status
///   failed and error {code, message}; code rate_limit_exceeded for rate limits, else the
///   upstream's code or server_error); the stream is over (feed() returns false).
///
/// Bytes may be split anywhere (SseParser). Not thread-safe; one per response.
class ResponsesStreamWriter final : public ChatChunkReader {
 public:
  explicit ResponsesStreamWriter(ResponseMeta meta);
  ~ResponsesStreamWriter();
  ResponsesStreamWriter(const ResponsesStreamWriter&) = delete;
  ResponsesStreamWriter& operator=(const ResponsesStreamWriter&) = delete;

  // feed(), finish(), done(), failed(), usage() and set_cache_write() are ChatChunkReader's.
  // feed() appends Responses SSE bytes. finish() completes the response after a finish_reason or
  // [DONE], else fails it (response.failed, false). done(): after response.completed or
  // response.incomplete; failed(): after response.failed. set_cache_write(): prompt-cache writes
  // kept in usage() (not a Responses member).

  /// The Response object as in response.completed / response.incomplete (empty until then).
  const std::string& final_response() const { return final_response_; }
  /// The assistant turn as chat messages JSON array text (empty until done).
  const std::string& output_messages() const { return output_messages_; }

 private:
  struct Item;
  /// What a delta event carries (emit_delta): a message's text, reasoning, a call's arguments.
  enum class Delta { text, reasoning, arguments };

  void on_chunk(const ChatChunk& chunk, std::string& out) override;
  std::string_view error_kind(std::string_view type, std::string_view code) const override;
  bool finish_reason_seen() const override { return !finish_reason_.empty(); }
  void write_complete(std::string& out) override;
  void write_failure(std::string_view code, std::string_view message, std::string& out) override;
  void start(std::string& out);
  void text_delta(bool reasoning, std::string_view text, std::string& out);
  void on_tool_delta(const ChunkToolCall& call, std::string& out);
  void open_item(Item item, std::string& out);
  void close_open(std::string& out);
  void close_item(Item& item, std::size_t index, std::string& out);
  void close_call(const Item& item, std::size_t index, std::string& out);
  void append_item(std::string& out, const Item& item, std::size_t index) const;
  std::string output_json() const;
  void emit(std::string_view type, std::string& out);
  void emit_delta(Delta kind, const Item& item, std::size_t index, std::string_view delta,
                  std::string& out);

  ResponseMeta meta_;
  std::vector<Item> items_;
  /// The chat tool-call indexes given an item (a set: an upstream may stream thousands).
  std::unordered_set<std::int64_t> call_indexes_;
  std::string scratch_;  ///< the event being written
  std::int64_t sequence_ = 0;
  bool started_ = false;
  std::string finish_reason_;
  std::string final_response_;
  std::string output_messages_;
};

}  // namespace sb::adapters
