// OpenAI chat request → Bedrock Converse request, SigV4-signed (BedrockTranslator::build_request,
// from the typed request; request() reads the typed reading of its text). Responses, event
// streams and errors are in bedrock_response.cc.
#include "adapters/bedrock.h"
#include "adapters/json_write.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/canonical.h"
#include "adapters/openai_shapes.h"
#include "adapters/sigv4.h"
#include "adapters/translate_common.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;

// The SigV4 signing name of bedrock-runtime.{region}.amazonaws.com is "bedrock".
// https://docs.aws.amazon.com/general/latest/gr/bedrock.html
constexpr std::string_view kSigningService = "bedrock";

// ---- request -------------------------------------------------------------------------------

struct Turn {
  std::string role;  // "user" or "assistant"
  json::array content;
};

/// Appends `text` as a text block unless empty (Converse rejects blank text blocks).
void push_text(json::array& content, std::string_view text) {
  if (!text.empty()) {
    content.push_back(json::object{{"text", text}});
  }
}

/// The text of a message's content: a string, or the concatenated text parts of an array.
std::optional<std::string> plain_text(const ChatMessage& m) {
  if (m.content_kind != ChatMessage::Content::parts) {
    return std::string(m.text);  // absent and null are empty
  }
  std::string out;
  for (const ChatContentPart& p : m.parts) {
    if (p.type != "text" && p.type != "input_text") {
      return std::nullopt;
    }
    if (!out.empty()) {
      out.push_back('\n');
    }
    out.append(p.text);
  }
  return out;
}

/// A base64 data URL as a Converse image block.
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html
std::optional<json::object> image_block(std::string_view url, std::string& why) {
  constexpr std::string_view kPrefix = "data:image/";
  constexpr std::string_view kBase64 = ";base64";
  const std::optional<DataUrl> data = parse_data_url(url);
  if (!url.starts_with(kPrefix) || !data || !data->header.ends_with(kBase64)) {
    why = "Bedrock accepts images only as base64 data URLs (data:image/...;base64,...)";
    return std::nullopt;
  }
  // Everything between "image/" and ";base64": parameters make it no format Bedrock knows.
  std::string_view format = data->header.substr(6, data->header.size() - 6 - kBase64.size());
  if (format == "jpg") {
    format = "jpeg";
  }
  if (format != "png" && format != "jpeg" && format != "gif" && format != "webp") {
    why = "Bedrock accepts png, jpeg, gif and webp images, not image/" + std::string(format);
    return std::nullopt;
  }
  return json::object{
      {"image", json::object{{"format", format}, {"source", json::object{{"bytes", data->data}}}}}};
}

/// An image part's `image_url.url`. A bare-string `image_url` (which the typed reading takes as
/// the url) has none.
std::string_view image_url(const ChatContentPart& p) {
  return p.media().bare_url ? std::string_view() : p.media().url;
}

/// User content (string or parts) as Converse content blocks.
bool user_content(const ChatMessage& m, json::array& out, std::string& why) {
  if (m.content_kind == ChatMessage::Content::text) {
    push_text(out, m.text);
    return true;
  }
  if (m.content_kind != ChatMessage::Content::parts) {
    why = "message content must be a string or an array of parts";
    return false;
  }
  for (const ChatContentPart& p : m.parts) {
    if (p.type == "text") {
      push_text(out, p.text);
    } else if (p.type == "image_url") {
      auto block = image_block(image_url(p), why);
      if (!block) {
        return false;
      }
      out.push_back(std::move(*block));
    } else {
      why = "content part type '" + std::string(p.type) + "' is not supported by Bedrock";
      return false;
    }
  }
  return true;
}

bool assistant_content(const ChatMessage& m, json::array& out, std::string& why) {
  if (m.content_kind != ChatMessage::Content::absent) {
    auto text = plain_text(m);
    if (!text) {
      why = "assistant content must be a string or text parts";
      return false;
    }
    push_text(out, *text);
  }
  for (const ChatToolCall& call : m.tool_calls) {
    if (!call.has_function) {  // its last `function` must be an object
      why = "tool_calls entries must carry a function";
      return false;
    }
    std::optional<json::value> input = tool_arguments_object(call.arguments);
    if (!input) {
      why = "tool call arguments must be a JSON object for Bedrock";
      return false;
    }
    // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html
    out.push_back(json::object{
        {"toolUse",
         json::object{{"toolUseId", call.id}, {"name", call.name}, {"input", std::move(*input)}}}});
  }
  return true;
}

bool tool_result(const ChatMessage& m, json::array& out, std::string& why) {
  auto text = plain_text(m);
  if (!text) {
    why = "tool message content must be a string or text parts";
    return false;
  }
  json::array content;
  // A result block must not be empty; an empty tool output is sent as an empty JSON object.
  if (text->empty()) {
    content.push_back(json::object{{"json", json::object{}}});
  } else {
    content.push_back(json::object{{"text", *text}});
  }
  // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html
  out.push_back(json::object{{"toolResult", json::object{{"toolUseId", m.tool_call_id},
                                                         {"content", std::move(content)}}}});
  return true;
}

bool append_turn(std::vector<Turn>& turns, std::string_view role, json::array&& content) {
  if (content.empty()) {
    return true;
  }
  if (!turns.empty() && turns.back().role == role) {
    for (json::value& v : content) {
      turns.back().content.push_back(std::move(v));
    }
  } else {
    turns.push_back(Turn{std::string(role), std::move(content)});
  }
  return true;
}

/// OpenAI function tools as Converse tool specifications.
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolSpecification.html
std::optional<json::array> tool_specs(const ChatRequest& r, std::string& why) {
  json::array specs;
  for (const ChatTool& tool : r.tools) {
    if (!tool.has_function || tool.type != "function") {
      why = "only function tools are supported by Bedrock";
      return std::nullopt;
    }
    json::object spec{{"name", tool.name}};
    if (!tool.description.empty()) {
      spec["description"] = tool.description;
    }
    spec["inputSchema"] = json::object{
        {"json",
         tool.parameters.starts_with('{')
             ? json_of(tool.parameters)
             : json::value(json::object{{"type", "object"}, {"properties", json::object{}}})}};
    specs.push_back(json::object{{"toolSpec", std::move(spec)}});
  }
  return specs;
}

/// `specs` and the tool choice as a Converse toolConfig (empty: send no tools); nullopt with `why`
/// set when Bedrock cannot express the choice.
std::optional<json::object> tool_config(json::array specs, const std::optional<ToolChoice>& choice,
                                        bool history_uses_tools, std::string& why) {
  json::object config{{"tools", std::move(specs)}};
  // https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html
  if (choice) {
    using Kind = ToolChoice::Kind;
    if (choice->is_string) {
      if (choice->kind == Kind::required) {
        config["toolChoice"] = json::object{{"any", json::object{}}};
      } else if (choice->kind == Kind::automatic) {
        config["toolChoice"] = json::object{{"auto", json::object{}}};
      } else if (choice->kind == Kind::none) {
        // Converse has no "none": drop the tools unless the history holds tool blocks, which
        // Bedrock only accepts with a toolConfig present.
        if (!history_uses_tools) {
          return json::object{};
        }
        why =
            "tool_choice 'none' cannot be expressed by Bedrock when the conversation "
            "contains tool calls";
        return std::nullopt;
      } else {
        why = "unsupported tool_choice '" + std::string(choice->text) + "'";
        return std::nullopt;
      }
    } else if (choice->object != nullptr) {
      // Any object naming function.name (its type unchecked).
      if (choice->name.empty() || choice->legacy_name) {
        why = "tool_choice must name a function";
        return std::nullopt;
      }
      config["toolChoice"] = json::object{{"tool", json::object{{"name", choice->name}}}};
    }
  }
  return config;
}

std::optional<json::object> tool_config(const ChatRequest& r, bool history_uses_tools,
                                        std::string& why) {
  if (r.tools.empty()) {
    return json::object{};  // nothing to send
  }
  std::optional<json::array> specs = tool_specs(r, why);
  if (!specs) {
    return std::nullopt;
  }
  json::object holder;  // the tool_choice, read as the DOM helpers read it
  return tool_config(std::move(*specs), tool_choice_of(r, false, holder), history_uses_tools, why);
}

/// OpenAI messages as Converse `messages` and `system` in `out`; `uses_tools` says whether the
/// history holds tool calls or results.
bool convert_messages(const ChatRequest& r, json::object& out, bool& uses_tools, std::string& why) {
  json::array system;
  std::vector<Turn> turns;
  for (const ChatMessage& m : r.messages) {
    const std::string_view role = m.role_text;
    json::array content;
    if (role == "system" || role == "developer") {
      auto text = plain_text(m);
      if (!text) {
        why = "system content must be a string or text parts";
        return false;
      }
      push_text(system, *text);
    } else if (role == "user") {
      if (m.content_kind == ChatMessage::Content::absent || !user_content(m, content, why)) {
        why = why.empty() ? "user message needs content" : why;
        return false;
      }
      append_turn(turns, "user", std::move(content));
    } else if (role == "assistant") {
      if (!assistant_content(m, content, why)) {
        return false;
      }
      uses_tools = uses_tools || m.has_tool_calls;  // an empty `tool_calls` array counts too
      append_turn(turns, "assistant", std::move(content));
    } else if (role == "tool") {
      if (!tool_result(m, content, why)) {
        return false;
      }
      uses_tools = true;
      // Tool results travel in a user turn; consecutive results merge into one turn.
      append_turn(turns, "user", std::move(content));
    } else {
      why = "unsupported message role '" + std::string(role) + "'";
      return false;
    }
  }
  json::array out_messages;
  for (Turn& t : turns) {
    out_messages.push_back(json::object{{"role", t.role}, {"content", std::move(t.content)}});
  }
  out["messages"] = std::move(out_messages);
  if (!system.empty()) {
    out["system"] = std::move(system);
  }
  return true;
}

/// The numbers as the client wrote them (their raw bytes).
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InferenceConfiguration.html
json::object inference_config(const ChatRequest& r) {
  json::object inference;
  if (json::value cap = output_cap_json(r); !cap.is_null()) {
    inference["maxTokens"] = std::move(cap);
  }
  if (r.temperature) {
    inference["temperature"] = json_of(r.raw("temperature"));
  }
  if (r.top_p) {
    inference["topP"] = json_of(r.raw("top_p"));
  }
  // A string is a list of one; an empty array (in `r.stop` no different from none) is sent too.
  if (const std::string_view stop = r.raw("stop"); !stop.empty() && stop != "null") {
    inference["stopSequences"] = stop_json(r);
  }
  return inference;
}

bool missing_credentials(const BackendSpec& spec) {
  return spec.api_key.empty() || spec.secret_key.empty() || spec.region.empty() ||
         spec.host.empty();
}

/// Headers SigV4-signed for `req` (target and body set), or false when the signing time is bad.
bool sign(UpstreamRequest& req, const BackendSpec& spec, std::string_view amz_date) {
  SigV4Request sreq;
  sreq.method = req.method;
  sreq.path = req.target;
  sreq.host = spec.host;
  sreq.headers = {
      {"accept", req.stream ? "application/vnd.amazon.eventstream" : "application/json"},
      {"content-type", "application/json"}};
  sreq.payload = req.body;
  SigV4Options opt;
  opt.region = spec.region;
  opt.service = kSigningService;
  opt.content_sha256_header = true;
  auto signed_req =
      sigv4_sign(sreq, {spec.api_key, spec.secret_key, spec.session_token}, opt, amz_date);
  if (!signed_req) {
    return false;
  }
  req.headers = std::move(sreq.headers);
  for (auto& h : signed_req->headers) {
    req.headers.push_back(std::move(h));
  }
  return true;
}

/// `POST {base_path}/model/{model}/converse[-stream]` with `out` as its body, signed.
Result<UpstreamRequest, TranslateError> converse_request(const json::object& out, bool stream,
                                                         std::string_view model,
                                                         const BackendSpec& spec,
                                                         std::string_view amz_date) {
  UpstreamRequest req;
  req.method = "POST";
  req.stream = stream;
  // The model id is one path segment: ':' becomes %3A, '/' (ARNs) %2F.
  req.target = spec.base_path + "/model/" + sigv4_uri_encode(model, false) +
               (req.stream ? "/converse-stream" : "/converse");
  req.body = to_json(out);
  if (!sign(req, spec, amz_date)) {
    return TranslateError{500, "cannot sign the Bedrock request (bad signing time)"};
  }
  return req;
}

}  // namespace

std::optional<TranslateError> BedrockTranslator::unconfigured(const BackendSpec& spec) const {
  if (missing_credentials(spec)) {
    return TranslateError{500, "Bedrock backend is missing its region, host or credentials"};
  }
  return std::nullopt;
}

Result<UpstreamRequest, TranslateError> BedrockTranslator::build_request(
    const ChatRequest& r, const BackendSpec& spec) const {
  const std::string_view model = spec.model.empty() ? r.model : std::string_view(spec.model);
  if (model.empty()) {
    return TranslateError{400, "no Bedrock model id to call"};
  }
  if (r.n && *r.n != 1) {
    return TranslateError{400, "Bedrock returns one choice per request; n must be 1"};
  }
  std::string why;
  json::object out;
  bool uses_tools = false;
  if (!convert_messages(r, out, uses_tools, why)) {
    return TranslateError{400, std::move(why)};
  }
  if (json::object inference = inference_config(r); !inference.empty()) {
    out["inferenceConfig"] = std::move(inference);
  }
  auto tools = tool_config(r, uses_tools, why);
  if (!tools) {
    return TranslateError{400, std::move(why)};
  }
  if (!tools->empty()) {
    out["toolConfig"] = std::move(*tools);
  }
  return converse_request(out, r.stream.value_or(false), model, spec, amz_date_);
}

}  // namespace sb::adapters