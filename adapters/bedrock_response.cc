// Bedrock Converse responses, ConverseStream event streams and AWS errors → OpenAI chat
// completions (BedrockTranslator::response* and ::stream). The request side is in
// bedrock_request.cc.
#include "adapters/bedrock.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/eventstream.h"
#include "adapters/json_edit.h"
#include "adapters/openai_shapes.h"
#include "adapters/sigv4.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

/// The largest event-stream message a Bedrock stream may carry (see BedrockStream::decoder_).
constexpr std::size_t kMaxStreamMessageBytes = 1024 * 1024;

// ---- responses ------------------------------------------------------------------------------

/// Bedrock TokenUsage as OpenAI counts it. nullopt when absent or malformed.
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
std::optional<Usage> usage_from_bedrock(const json::object* u) {
  if (u == nullptr) {
    return std::nullopt;
  }
  const auto in = int64_member(*u, "inputTokens");
  const auto out = int64_member(*u, "outputTokens");
  if (!in || !out || *in < 0 || *out < 0) {
    return std::nullopt;
  }
  const std::int64_t read = int64_member(*u, "cacheReadInputTokens").value_or(0);
  const std::int64_t write = int64_member(*u, "cacheWriteInputTokens").value_or(0);
  if (read < 0 || write < 0) {
    return std::nullopt;
  }
  return split_prompt_usage(*in, *out, read, write);
}

struct MappedError {
  unsigned status;
  std::string_view type;
  std::string_view code;
  bool retryable;
};

/// "ThrottlingException:http://internal..." or "com.amazon...#ThrottlingException" -> the
/// exception name, compared case-insensitively on the first letter (stream exception frames use
/// lowerCamelCase: "throttlingException").
std::string exception_name(std::string_view type) {
  if (const std::size_t colon = type.find(':'); colon != std::string_view::npos) {
    type = type.substr(0, colon);
  }
  if (const std::size_t hash = type.rfind('#'); hash != std::string_view::npos) {
    type = type.substr(hash + 1);
  }
  std::string name(type);
  if (!name.empty() && name[0] >= 'a' && name[0] <= 'z') {
    name[0] = static_cast<char>(name[0] - 'a' + 'A');
  }
  return name;
}

MappedError map_error(unsigned status, std::string_view name) {
  // https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html
  if (name == "ThrottlingException" || name == "ServiceQuotaExceededException" || status == 429) {
    return {429, "rate_limit_error", "rate_limit_exceeded", true};
  }
  if (name == "ServiceUnavailableException" || name == "ModelNotReadyException" || status == 503) {
    return {503, "api_error", "upstream_unavailable", true};
  }
  if (name == "ModelTimeoutException" || status == 408 || status == 504) {
    return {504, "timeout_error", "upstream_timeout", true};
  }
  if (name == "InternalServerException" || name == "ModelStreamErrorException" ||
      name == "ModelErrorException" || status >= 500) {
    return {502, "api_error", "upstream_error", true};
  }
  if (name == "AccessDeniedException" || status == 403) {
    return {403, "permission_error", {}, false};
  }
  if (name == "UnrecognizedClientException" || status == 401) {
    return {401, "authentication_error", {}, false};
  }
  if (name == "ResourceNotFoundException" || status == 404) {
    return {404, "not_found_error", {}, false};
  }
  if (name == "ValidationException") {
    return {400, "invalid_request_error", {}, false};
  }
  return {status >= 400 && status < 500 ? status : 502u, "invalid_request_error", {}, false};
}

std::string derive_id(std::int64_t created, std::string_view amz_date) {
  return "chatcmpl-" +
         sha256_hex(std::to_string(created) + "|" + std::string(amz_date)).substr(0, 24);
}

// ---- stream ---------------------------------------------------------------------------------

class BedrockStream final : public StreamTranslator {
 public:
  BedrockStream(std::string id, std::int64_t created, bool include_usage, std::string_view alias)
      : chunks_(include_usage) {
    chunks_.identify(id, created, alias);
  }

  bool feed(std::string_view bytes, std::string& out) override {
    // Nothing is due after [DONE]; trailing frames are ignored.
    return feed_frames(
        decoder_, bytes, scratch_, failed_, done_,
        [&](const EventStreamMessage& m) { return on_message(m, out); },
        [&] {
          return fail(502, "Bedrock stream framing error: " + std::string(decoder_.error_message()),
                      "api_error", "upstream_error", out);
        });
  }

  bool finish(std::string& out) override {
    if (failed_) {
      return false;
    }
    if (done_) {
      return true;
    }
    if (stopped_ && decoder_.at_boundary()) {
      // messageStop arrived but no metadata frame after it: report usage if metadata came
      // early, then end the stream.
      end_stream(out);
      return true;
    }
    failed_ = true;
    error_ = TranslateError{502, "Bedrock stream ended before messageStop"};
    return false;
  }

 private:
  bool on_message(const EventStreamMessage& m, std::string& out) {
    const std::string_view message_type = m.string_header(":message-type");
    if (message_type == "exception") {
      return on_exception(m.string_header(":exception-type"), m.payload, out);
    }
    if (message_type == "error") {
      // https://smithy.io/2.0/aws/amazon-eventstream.html (error messages carry the code and
      // the message in headers)
      return on_exception(m.string_header(":error-code"), m.string_header(":error-message"), out);
    }
    if (message_type != "event") {
      return true;  // unknown message types are skipped, as the SDKs do
    }
    const std::string_view event = m.string_header(":event-type");
    boost::system::error_code ec;
    json::value v = json::parse(m.payload, ec);
    if (ec || !v.is_object()) {
      return fail(502, "Bedrock stream event '" + std::string(event) + "' is not a JSON object",
                  "api_error", "upstream_error", out);
    }
    const json::object& o = v.get_object();
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
    if (event == "messageStart") {
      role_chunk(out);
    } else if (event == "contentBlockStart") {
      on_block_start(o, out);
    } else if (event == "contentBlockDelta") {
      return on_block_delta(o, out);
    } else if (event == "messageStop") {
      role_chunk(out);
      finish_chunk(out, openai_finish_reason(string_member(o, "stopReason")));
      stopped_ = true;
    } else if (event == "metadata") {
      usage_ = usage_from_bedrock(object_member(o, "usage"));
      if (!stopped_) {
        return true;  // metadata comes after messageStop; keep waiting for it
      }
      end_stream(out);
    }
    // contentBlockStop carries nothing OpenAI sends.
    return true;
  }

  /// A toolUse block starts: the tool call's first chunk (id, name, empty arguments).
  void on_block_start(const json::object& o, std::string& out) {
    const json::object* start = object_member(o, "start");
    const json::object* tool = start != nullptr ? object_member(*start, "toolUse") : nullptr;
    if (tool == nullptr) {
      return;
    }
    role_chunk(out);
    const std::int64_t block = int64_member(o, "contentBlockIndex").value_or(-1);
    const std::size_t index = tool_index_.size();
    tool_index_[block] = index;
    json::object call{
        {"index", index},
        {"id", string_member(*tool, "toolUseId")},
        {"type", "function"},
        {"function", json::object{{"name", string_member(*tool, "name")}, {"arguments", ""}}}};
    chunk(out, json::serialize(json::object{{"tool_calls", json::array{std::move(call)}}}));
  }

  /// Text, or a tool call's next piece of arguments.
  bool on_block_delta(const json::object& o, std::string& out) {
    const json::object* delta = object_member(o, "delta");
    if (delta == nullptr) {
      return true;
    }
    if (const json::value* text = delta->if_contains("text");
        text != nullptr && text->is_string()) {
      role_chunk(out);
      chunk(out, content_delta(text->get_string()));
    } else if (const json::object* tool = object_member(*delta, "toolUse")) {
      const std::int64_t block = int64_member(o, "contentBlockIndex").value_or(-1);
      const auto it = tool_index_.find(block);
      if (it == tool_index_.end()) {
        return fail(502, "Bedrock stream sent tool input for an unknown content block", "api_error",
                    "upstream_error", out);
      }
      chunk(out,
            json::serialize(json::object{
                {"tool_calls",
                 json::array{json::object{
                     {"index", it->second},
                     {"function", json::object{{"arguments", string_member(*tool, "input")}}}}}}}));
    }
    // reasoningContent deltas have no place in an OpenAI chat completion: dropped.
    return true;
  }

  /// The usage chunk (when asked for and known), then [DONE].
  void end_stream(std::string& out) {
    if (chunks_.include_usage() && usage_) {
      chunks_.usage(out, *usage_);
    }
    ChunkWriter::done(out);
    done_ = true;
  }

  bool on_exception(std::string_view type, std::string_view payload, std::string& out) {
    std::string message;
    boost::system::error_code ec;
    const json::value v = json::parse(payload, ec);
    if (!ec && v.is_object()) {
      message = std::string(string_member(v.get_object(), "message"));
      if (message.empty()) {
        message = std::string(string_member(v.get_object(), "Message"));
      }
    } else {
      message = std::string(payload);
    }
    const std::string name = exception_name(type);
    const MappedError e = map_error(0, name);
    return fail(e.status,
                "upstream provider error (" + (name.empty() ? std::string("exception") : name) +
                    "): " + (message.empty() ? std::string("no message") : message),
                e.type, e.code, out);
  }

  bool fail(unsigned status, std::string message, std::string_view type, std::string_view code,
            std::string& out) {
    append_sse(out, error_body(message, type, code));
    error_ = TranslateError{status, std::move(message)};
    failed_ = true;
    return false;
  }

  void role_chunk(std::string& out) {
    if (role_sent_) {
      return;
    }
    role_sent_ = true;
    chunks_.choice(out, 0, kRoleDelta);
  }

  void chunk(std::string& out, std::string_view delta) { chunks_.choice(out, 0, delta); }

  void finish_chunk(std::string& out, std::string_view reason) {
    chunks_.choice(out, 0, "{}", reason);
  }

  ChunkWriter chunks_;
  /// ConverseStream messages are one delta each; a prelude announcing more than 1 MiB fails the
  /// stream before any of it is held (the event stream spec itself allows 16 MiB).
  EventStreamDecoder decoder_{kMaxStreamMessageBytes};
  std::vector<EventStreamMessage> scratch_;
  std::map<std::int64_t, std::size_t> tool_index_;  // contentBlockIndex -> tool_calls index
  bool role_sent_ = false;
  bool stopped_ = false;
  bool done_ = false;
  bool failed_ = false;
};

}  // namespace

BedrockTranslator::BedrockTranslator(std::int64_t created, std::string amz_date,
                                     std::string completion_id)
    : created_(created), amz_date_(std::move(amz_date)), id_(std::move(completion_id)) {
  if (id_.empty()) {
    id_ = derive_id(created_, amz_date_);
  }
}

TranslatedResponse BedrockTranslator::response(unsigned status, std::string_view /*content_type*/,
                                               std::string_view body,
                                               std::string_view model_alias) const {
  if (status != 200) {
    return response_with_error_type(status, body, model_alias, {});
  }
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return unreadable_upstream("not a JSON object");
  }
  const json::object& o = v.get_object();
  const json::object* output = object_member(o, "output");
  const json::object* message = output != nullptr ? object_member(*output, "message") : nullptr;
  const json::array* content = message != nullptr ? array_member(*message, "content") : nullptr;
  if (content == nullptr) {
    return unreadable_upstream("no output.message.content");
  }
  std::string text;
  bool has_text = false;
  json::array tool_calls;
  for (const json::value& b : *content) {
    const json::object* block = b.if_object();
    if (block == nullptr) {
      continue;
    }
    if (const json::value* t = block->if_contains("text"); t != nullptr && t->is_string()) {
      text.append(t->get_string());
      has_text = true;
    } else if (const json::object* tool = object_member(*block, "toolUse")) {
      const json::value* input = tool->if_contains("input");
      tool_calls.push_back(tool_call_object(string_member(*tool, "toolUseId"),
                                            string_member(*tool, "name"),
                                            input != nullptr ? json::serialize(*input) : "{}"));
    }
    // reasoningContent, guardContent, citations...: nothing OpenAI sends.
  }
  const bool null_content = !has_text && !tool_calls.empty();
  json::object msg = assistant_message(null_content ? json::value(nullptr) : json::value(text),
                                       std::move(tool_calls));
  return completion_response(
      completion_object(
          id_, created_, model_alias,
          json::array{completion_choice(0, std::move(msg),
                                        openai_finish_reason(string_member(o, "stopReason")))}),
      usage_from_bedrock(object_member(o, "usage")));
}

TranslatedResponse BedrockTranslator::response_with_header(unsigned status,
                                                           std::string_view content_type,
                                                           std::string_view body,
                                                           std::string_view model_alias,
                                                           std::string_view header_value) const {
  if (status == 200) {
    return response(status, content_type, body, model_alias);
  }
  return response_with_error_type(status, body, model_alias, header_value);
}

TranslatedResponse BedrockTranslator::response_with_error_type(unsigned status,
                                                               std::string_view body,
                                                               std::string_view /*model_alias*/,
                                                               std::string_view amzn_error_type,
                                                               std::string_view retry_after) const {
  std::string message;
  std::string type(amzn_error_type);
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    message = std::string(string_member(o, "message"));
    if (message.empty()) {
      message = std::string(string_member(o, "Message"));
    }
    if (type.empty()) {
      type = std::string(string_member(o, "__type"));
    }
  }
  const std::string name = exception_name(type);
  const MappedError m = map_error(status, name);
  if (message.empty()) {
    message = "upstream provider returned HTTP " + std::to_string(status);
  }
  if (m.status >= 500 || m.status == 429) {
    message = "upstream provider error (" +
              (name.empty() ? "HTTP " + std::to_string(status) : name) + "): " + message;
  }
  TranslatedResponse r;
  r.status = m.status;
  r.body = error_body(message, m.type, m.code);
  r.retryable = m.retryable;
  if (m.retryable) {
    r.retry_after = delta_seconds(retry_after, 9);
  }
  return r;
}

std::unique_ptr<StreamTranslator> BedrockTranslator::stream(bool include_usage,
                                                            std::string_view model_alias) const {
  return std::make_unique<BedrockStream>(id_, created_, include_usage, model_alias);
}

}  // namespace sb::adapters