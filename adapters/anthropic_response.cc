// Anthropic Messages responses, stream events and errors → OpenAI chat completions
// (AnthropicTranslator::response and ::stream). The request side is in anthropic_request.cc.
#include "adapters/anthropic.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// ---- response ------------------------------------------------------------------------------

/// Anthropic's usage counters, kept raw until the end (stream events update them piecemeal).
struct RawUsage {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::int64_t cache_read = 0;
  std::int64_t cache_creation = 0;

  /// Takes every counter present in an Anthropic `usage` object (message_delta's are cumulative,
  /// https://docs.anthropic.com/en/docs/build-with-claude/streaming).
  void update(const json::object& usage) {
    input = count_member(usage, "input_tokens").value_or(input);
    output = count_member(usage, "output_tokens").value_or(output);
    cache_read = count_member(usage, "cache_read_input_tokens").value_or(cache_read);
    cache_creation = count_member(usage, "cache_creation_input_tokens").value_or(cache_creation);
  }

  Usage to_usage() const { return split_prompt_usage(input, output, cache_read, cache_creation); }
};

/// How an Anthropic error (HTTP status and error.type) reaches an OpenAI client.
struct MappedError {
  unsigned status;
  std::string_view type;
  std::string_view code;
  bool retryable;
};

MappedError map_error(unsigned status, std::string_view anthropic_type) {
  // https://docs.anthropic.com/en/api/errors
  if (status == 529 || anthropic_type == "overloaded_error") {
    // 529 is Anthropic's own; OpenAI clients retry a 503 the same way.
    return {503, "api_error", "upstream_overloaded", true};
  }
  if (status == 429) {
    return {429, "rate_limit_error", "rate_limit_exceeded", true};
  }
  if (status >= 500) {
    const unsigned mapped = status == 503 || status == 504 ? status : 502;
    return {mapped, status == 504 ? "timeout_error" : "api_error", "upstream_error", true};
  }
  switch (status) {
    case 401:
      return {401, "authentication_error", {}, false};
    case 403:
      return {403, "permission_error", {}, false};
    case 404:
      return {404, "not_found_error", {}, false};
    case 408:
      return {408, "timeout_error", {}, true};
    case 413:
      return {413, "request_too_large", {}, false};
    default:
      return {status >= 400 ? status : 502u, "invalid_request_error", {}, false};
  }
}

/// Bounds an upstream message (it reaches the client and the logs) without splitting a UTF-8
/// sequence.
void truncate_message(std::string& message) {
  constexpr std::size_t kMax = 1024;
  if (message.size() <= kMax) {
    return;
  }
  std::size_t end = kMax;
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) {
    --end;  // message[end] continues a sequence: cut before the sequence starts
  }
  message.resize(end);
  message += "...";
}

TranslatedResponse upstream_error(unsigned status, std::string_view body) {
  std::string_view type;
  std::string message;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* e = member(v.get_object(), "error"); e != nullptr && e->is_object()) {
      type = string_member(e->get_object(), "type");
      message = std::string(string_member(e->get_object(), "message"));
    }
  }
  const MappedError m = map_error(status, type);
  if (message.empty()) {
    message = "upstream provider returned HTTP " + std::to_string(status);
  }
  truncate_message(message);
  if (m.status >= 500) {
    message = "upstream provider error (" +
              (type.empty() ? std::string("HTTP ") + std::to_string(status) : std::string(type)) +
              "): " + message;
  }
  TranslatedResponse r;
  r.status = m.status;
  r.body = error_body(message, m.type, m.code);
  r.retryable = m.retryable;
  return r;
}

std::string_view reported_model(const json::object& message, std::string_view alias) {
  const std::string_view m = string_member(message, "model");
  return m.empty() ? alias : m;
}

// ---- stream --------------------------------------------------------------------------------

/// One Anthropic stream to OpenAI chunks. Not thread-safe; one per response.
class AnthropicStream final : public StreamTranslator {
 public:
  AnthropicStream(std::int64_t created, bool include_usage, std::string_view alias)
      : created_(created), alias_(alias), chunks_(include_usage) {}

  bool feed(std::string_view bytes, std::string& out) override {
    // Anything after message_stop is not part of the answer.
    return feed_frames(
        parser_, bytes, events_, failed_, done_,
        [&](const SseEvent& ev) {
          failed_ = !on_event(ev, out);
          return !failed_;
        },
        [&] {
          // An upstream that never ends its line or event is cut off at SseParser's limit.
          failed_ = true;
          return protocol_error("a stream event larger than 1 MiB", out);
        });
  }

  bool finish(std::string& /*out*/) override {
    if (done_) {
      return true;
    }
    if (!failed_) {
      failed_ = true;
      error_ = TranslateError{502, "upstream stream ended before message_stop"};
    }
    return false;
  }

 private:
  enum class BlockKind { text, tool, other };
  struct Block {
    BlockKind kind = BlockKind::other;
    std::size_t tool_index = 0;
    bool has_arguments = false;
  };

  bool on_event(const SseEvent& ev, std::string& out) {
    boost::system::error_code ec;
    const json::value v = json::parse(ev.data, ec);
    if (ec || !v.is_object()) {
      return protocol_error("an event that is not a JSON object", out);
    }
    const json::object& o = v.get_object();
    std::string_view type = string_member(o, "type");
    if (type.empty()) {
      type = ev.event;
    }
    if (type == "error") {
      return stream_error(o, out);
    }
    if (type == "message_start") {
      return on_message_start(o, out);
    }
    if (type == "ping") {
      return true;
    }
    if (!chunks_.identified()) {
      // Only event types added after this code was written may come before message_start;
      // content before it has no id to carry.
      if (type.starts_with("content_block") || type.starts_with("message_")) {
        return protocol_error("content before message_start", out);
      }
      return true;
    }
    if (type == "content_block_start") {
      return on_block_start(o, out);
    }
    if (type == "content_block_delta") {
      return on_block_delta(o, out);
    }
    if (type == "content_block_stop") {
      return on_block_stop(o, out);
    }
    if (type == "message_delta") {
      if (const json::value* d = member(o, "delta"); d != nullptr && d->is_object()) {
        if (const std::string_view r = string_member(d->get_object(), "stop_reason"); !r.empty()) {
          finish_reason_ = openai_finish_reason(r);
        }
      }
      if (const json::value* u = member(o, "usage"); u != nullptr && u->is_object()) {
        raw_usage_.update(u->get_object());
      }
      return true;
    }
    if (type == "message_stop") {
      on_message_stop(out);
      return true;
    }
    return true;  // event types added later (https://docs.anthropic.com/en/api/versioning)
  }

  bool on_message_start(const json::object& o, std::string& out) {
    const json::value* m = member(o, "message");
    if (m == nullptr || !m->is_object() || chunks_.identified()) {
      return protocol_error("a malformed or repeated message_start", out);
    }
    const json::object& message = m->get_object();
    if (const json::value* u = member(message, "usage"); u != nullptr && u->is_object()) {
      raw_usage_.update(u->get_object());
    }
    chunks_.identify("chatcmpl-" + std::string(string_member(message, "id")), created_,
                     reported_model(message, alias_));
    chunk(out, kRoleDelta);
    return true;
  }

  Block* block_at(const json::object& o) {
    const auto index = count_member(o, "index");
    if (!index) {
      return nullptr;
    }
    const auto it = blocks_.find(*index);
    return it != blocks_.end() ? &it->second : nullptr;
  }

  bool on_block_start(const json::object& o, std::string& out) {
    const auto index = count_member(o, "index");
    const json::value* cb = member(o, "content_block");
    if (!index || cb == nullptr || !cb->is_object()) {
      return protocol_error("a malformed content_block_start", out);
    }
    const json::object& block = cb->get_object();
    const std::string_view type = string_member(block, "type");
    Block b;
    if (type == "text") {
      b.kind = BlockKind::text;
      content_delta(string_member(block, "text"), out);
    } else if (type == "tool_use") {
      b.kind = BlockKind::tool;
      b.tool_index = tools_++;
      std::string delta = R"({"tool_calls":[{"index":)" + std::to_string(b.tool_index) +
                          ",\"id\":" + quote(string_member(block, "id")) +
                          R"(,"type":"function","function":{"name":)" +
                          quote(string_member(block, "name")) + R"(,"arguments":""}}]})";
      chunk(out, delta);
    }
    // thinking, redacted_thinking and server-tool blocks are not part of an OpenAI answer.
    blocks_.emplace(*index, b);  // a repeated start leaves the first block in place
    return true;
  }

  bool on_block_delta(const json::object& o, std::string& out) {
    Block* b = block_at(o);
    const json::value* d = member(o, "delta");
    if (b == nullptr || d == nullptr || !d->is_object()) {
      return protocol_error("a content_block_delta for no open block", out);
    }
    const json::object& delta = d->get_object();
    const std::string_view type = string_member(delta, "type");
    if (type == "text_delta" && b->kind == BlockKind::text) {
      content_delta(string_member(delta, "text"), out);
    } else if (type == "input_json_delta" && b->kind == BlockKind::tool) {
      arguments_delta(*b, string_member(delta, "partial_json"), out);
    }
    // thinking_delta, signature_delta, citations_delta: dropped.
    return true;
  }

  bool on_block_stop(const json::object& o, std::string& out) {
    Block* b = block_at(o);
    if (b == nullptr) {
      return protocol_error("a content_block_stop for no open block", out);
    }
    if (b->kind == BlockKind::tool && !b->has_arguments) {
      // A tool without parameters may stream no input at all; OpenAI clients parse the
      // arguments, so they get the empty object rather than "".
      arguments_delta(*b, "{}", out);
    }
    return true;
  }

  void on_message_stop(std::string& out) {
    chunks_.choice(out, 0, "{}",
                   finish_reason_.empty() ? std::string_view("stop") : finish_reason_);
    usage_ = raw_usage_.to_usage();
    if (chunks_.include_usage()) {
      chunks_.usage(out, *usage_);
    }
    ChunkWriter::done(out);
    done_ = true;
  }

  void content_delta(std::string_view text, std::string& out) {
    if (!text.empty()) {
      chunk(out, sb::adapters::content_delta(text));
    }
  }

  void arguments_delta(Block& b, std::string_view partial, std::string& out) {
    if (partial.empty()) {
      return;
    }
    b.has_arguments = true;
    chunk(out, R"({"tool_calls":[{"index":)" + std::to_string(b.tool_index) +
                   R"(,"function":{"arguments":)" + quote(partial) + "}}]}");
  }

  void chunk(std::string& out, std::string_view delta) { chunks_.choice(out, 0, delta); }

  /// An `error` event (https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events)
  /// as OpenAI's in-stream error event.
  bool stream_error(const json::object& o, std::string& out) {
    std::string_view type;
    std::string message;
    if (const json::value* e = member(o, "error"); e != nullptr && e->is_object()) {
      type = string_member(e->get_object(), "type");
      message = string_member(e->get_object(), "message");
    }
    // A mid-stream error carries no HTTP status; overloaded_error is the usual one.
    const MappedError m = map_error(type == "overloaded_error"   ? 529
                                    : type == "rate_limit_error" ? 429
                                                                 : 500,
                                    type);
    if (message.empty()) {
      message = "upstream stream error";
    }
    truncate_message(message);
    message =
        "upstream provider error (" + std::string(type.empty() ? "error" : type) + "): " + message;
    append_sse(out, error_body(message, m.type, m.code));
    error_ = TranslateError{m.status, std::move(message)};
    return false;
  }

  bool protocol_error(std::string_view what, std::string& out) {
    std::string message = "upstream provider sent " + std::string(what);
    append_sse(out, error_body(message, "api_error", "upstream_error"));
    error_ = TranslateError{502, std::move(message)};
    return false;
  }

  std::int64_t created_;
  std::string alias_;
  ChunkWriter chunks_;
  SseParser parser_;
  std::vector<SseEvent> events_;
  // By Anthropic content block index (a map: a stream may hold thousands of blocks).
  std::unordered_map<std::int64_t, Block> blocks_;
  std::size_t tools_ = 0;
  std::string_view finish_reason_;  // points at a literal
  RawUsage raw_usage_;
  bool done_ = false;
  bool failed_ = false;
};

}  // namespace

TranslatedResponse AnthropicTranslator::response(unsigned status, std::string_view /*content_type*/,
                                                 std::string_view body,
                                                 std::string_view model_alias) const {
  if (status != 200) {
    return upstream_error(status, body);
  }
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return unreadable_upstream("not a JSON object");
  }
  const json::object& message = v.get_object();
  if (string_member(message, "type") == "error") {
    return upstream_error(500, body);
  }
  const json::value* content = member(message, "content");
  if (string_member(message, "type") != "message" || content == nullptr || !content->is_array()) {
    return unreadable_upstream("not a message");
  }

  std::string text;
  json::array tool_calls;
  for (const json::value& b : content->get_array()) {
    if (!b.is_object()) {
      continue;
    }
    const json::object& block = b.get_object();
    const std::string_view type = string_member(block, "type");
    if (type == "text") {
      text += string_member(block, "text");
    } else if (type == "tool_use") {
      const json::value* input = block.if_contains("input");
      tool_calls.push_back(tool_call_object(string_member(block, "id"),
                                            string_member(block, "name"),
                                            input != nullptr ? json::serialize(*input) : "{}"));
    }
    // thinking, redacted_thinking and server-tool blocks are not part of an OpenAI answer.
  }

  const bool null_content = text.empty() && !tool_calls.empty();
  json::object msg = assistant_message(null_content ? json::value(nullptr) : json::value(text),
                                       std::move(tool_calls));

  RawUsage raw;
  if (const json::value* u = member(message, "usage"); u != nullptr && u->is_object()) {
    raw.update(u->get_object());
  }
  return completion_response(
      completion_object(
          "chatcmpl-" + std::string(string_member(message, "id")), created_,
          reported_model(message, model_alias),
          json::array{completion_choice(
              0, std::move(msg), openai_finish_reason(string_member(message, "stop_reason")))}),
      raw.to_usage());
}

TranslatedResponse AnthropicTranslator::response_with_retry_after(
    unsigned status, std::string_view content_type, std::string_view body,
    std::string_view model_alias, std::string_view retry_after) const {
  TranslatedResponse r = response(status, content_type, body, model_alias);
  if (r.retryable) {
    r.retry_after = parse_retry_after(retry_after);
  }
  return r;
}

std::unique_ptr<StreamTranslator> AnthropicTranslator::stream(bool include_usage,
                                                              std::string_view model_alias) const {
  return std::make_unique<AnthropicStream>(created_, include_usage, model_alias);
}

std::optional<std::string> parse_retry_after(std::string_view v) {
  return delta_seconds(v, 10);
}

}  // namespace sb::adapters