// The Responses API inbound, request side: a Responses request -> an OpenAI chat-completions
// request (responses_to_chat_request). Tools, tool_choice and the echo are in
// responses_inbound_tools.cc; the answer's way back in responses_inbound_response.cc.
#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "adapters/chat_text.h"
#include "adapters/json_edit.h"
#include "adapters/json_lex.h"
#include "adapters/json_sax.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/responses_inbound.h"
#include "adapters/responses_inbound_request_internal.h"
#include "adapters/translate_common.h"

namespace sb::adapters {
namespace {

namespace json = boost::json;
using responses_detail::missing;
using responses_detail::Path;
using responses_detail::Reject;

// ---- content parts ----------------------------------------------------------------------------

/// An input_image part as an image_url part
/// (https://platform.openai.com/docs/guides/images-vision).
bool image_part(const json::object& part, const Path& at, ContentParts& parts,
                const Reject& reject) {
  const std::string_view url = string_member(part, "image_url");
  if (url.empty()) {
    if (member(part, "file_id") != nullptr) {
      return reject(at / ".file_id",
                    "Images by file_id need OpenAI's Files API, which the gateway does not "
                    "serve; send image_url (a URL or a data: URL) instead.");
    }
    return missing(reject, at / ".image_url");
  }
  parts.image(url, string_member(part, "detail"));
  return true;
}

/// An input_file part as chat's file part: only inline `file_data` has a chat equivalent.
bool file_part(const json::object& part, const Path& at, ContentParts& parts,
               const Reject& reject) {
  const std::string_view data = string_member(part, "file_data");
  if (data.empty()) {
    return reject(at,
                  "Files by file_id or file_url need OpenAI's Files API, which the gateway "
                  "does not serve; send the file inline as file_data instead.");
  }
  parts.file(data, string_member(part, "filename"));
  return true;
}

/// One content part of a message of `role` (or of a tool output when `role` is "tool": its
/// images and files go to `media`, for a user message after the tool messages).
bool content_part(const json::value& v, std::string_view role, const Path& at, ContentParts& parts,
                  ContentParts* media, const Reject& reject) {
  const json::object* part = v.if_object();
  const std::string_view type = part != nullptr ? string_member(*part, "type") : "";
  if (part == nullptr) {
    return reject(at, responses_detail::invalid_type(at.str(), "an object", v));
  }
  const bool assistant = role == "assistant";
  if (type == "input_text" || (assistant && (type == "output_text" || type == "refusal"))) {
    const bool refusal = type == "refusal";
    const json::value* text = part->if_contains(refusal ? "refusal" : "text");
    if (text == nullptr || !text->is_string()) {
      const Path param = at / (refusal ? ".refusal" : ".text");
      return reject(param, responses_detail::invalid_type(param.str(), "a string",
                                                          text != nullptr ? *text : json::value()));
    }
    parts.text(view(text->get_string()));
    return true;
  }
  ContentParts* into = role == "user" ? &parts : role == "tool" ? media : nullptr;
  if (into != nullptr && type == "input_image") {
    return image_part(*part, at, *into, reject);
  }
  if (into != nullptr && type == "input_file") {
    return file_part(*part, at, *into, reject);
  }
  if (type == "input_image" || type == "input_file") {
    return reject(at / ".type", "Part type '" + std::string(type) + "' is not supported in a " +
                                    std::string(role) + (role == "tool" ? " output" : " message") +
                                    ": the chat wire carries it in user messages only.");
  }
  return reject(at / ".type",
                "Invalid value: '" + std::string(type) + "'. Supported values " +
                    (assistant ? "are: 'output_text' and 'refusal'."
                               : "are: 'input_text', 'input_image' and 'input_file'."));
}

/// A message's or tool output's content (a string or parts) as chat content, appended to `out`:
/// the string, the one text part's text, or the parts.
bool chat_content(const json::value& content, std::string_view role, const Path& at,
                  std::string& out, ContentParts* media, const Reject& reject) {
  if (content.is_string()) {
    append_json_string(out, view(content.get_string()));
    return true;
  }
  const json::array* list = content.if_array();
  if (list == nullptr) {
    return reject(at, responses_detail::invalid_type(
                          at.str(), "one of a string or array of input content", content));
  }
  ContentParts parts;
  for (std::size_t k = 0; k < list->size(); ++k) {
    if (!content_part((*list)[k], role, at.element(k), parts, media, reject)) {
      return false;
    }
  }
  parts.write_content(out);
  return true;
}

// ---- items ------------------------------------------------------------------------------------

bool message_item(const json::object& item, const Path& at, ChatMessages& out,
                  const Reject& reject) {
  const json::value* r = member(item, "role");
  const std::string_view role = string_of(r);
  if (r == nullptr) {
    return missing(reject, at / ".role");
  }
  if (role != "user" && role != "assistant" && role != "system" && role != "developer") {
    return reject(at / ".role", "Invalid value: '" + std::string(role.empty() ? "?" : role) +
                                    "'. Supported values are: 'user', 'assistant', 'system', "
                                    "and 'developer'.");
  }
  const json::value* content = member(item, "content");
  if (content == nullptr) {
    return missing(reject, at / ".content");
  }
  const std::string_view chat_role = role == "developer" ? "system" : role;
  // System turns carry text only on the chat wire (content_part refuses images there).
  return chat_content(*content, chat_role, at / ".content",
                      out.begin(chat_role) += R"(,"content":)", nullptr, reject);
}

/// A function_call or custom_tool_call item as a tool call of the assistant message before it
/// (a new one when the previous message is not the assistant's).
bool call_item(const json::object& item, bool custom, const Path& at, ChatMessages& out,
               const Reject& reject) {
  const std::string_view call_id = string_member(item, "call_id");
  const std::string_view name = string_member(item, "name");
  if (call_id.empty()) {
    return missing(reject, at / ".call_id");
  }
  if (name.empty()) {
    return missing(reject, at / ".name");
  }
  const std::string_view key = custom ? "input" : "arguments";
  const json::value* payload = item.if_contains(key);
  if (payload == nullptr || !payload->is_string()) {
    const Path param = at / (custom ? ".input" : ".arguments");
    return reject(param, responses_detail::invalid_type(param.str(), "a string",
                                                        payload ? *payload : json::value()));
  }
  std::string chat_name(name);
  if (const std::string_view ns = string_member(item, "namespace"); !ns.empty()) {
    chat_name = responses_detail::flat_name(ns, name);
  }
  if (custom) {
    std::string arguments = R"({"input":)";
    append_json_string(arguments, view(payload->get_string()));
    arguments += '}';
    out.tool_call(call_id, chat_name, arguments);
  } else {
    out.tool_call(call_id, chat_name, view(payload->get_string()));
  }
  return true;
}

/// A function_call_output or custom_tool_call_output item as a tool message; its images and files
/// into `media`.
bool output_item(const json::object& item, const Path& at, ChatMessages& out, ContentParts& media,
                 const Reject& reject) {
  const std::string_view call_id = string_member(item, "call_id");
  if (call_id.empty()) {
    return missing(reject, at / ".call_id");
  }
  const json::value* output = member(item, "output");
  if (output == nullptr) {
    return missing(reject, at / ".output");
  }
  return chat_content(*output, "tool", at / ".output", out.tool_result(call_id), &media, reject);
}

bool convert_item(const json::value& v, const Path& at, ChatMessages& out, ContentParts& media,
                  const Reject& reject) {
  const json::object* item = v.if_object();
  if (item == nullptr) {
    return reject(at, responses_detail::invalid_type(at.str(), "an object", v));
  }
  const json::value* t = member(*item, "type");
  if (t != nullptr && !t->is_string()) {
    return reject(at / ".type",
                  responses_detail::invalid_type((at / ".type").str(), "a string", *t));
  }
  const std::string_view type = string_of(t);
  if (type == "message" || (t == nullptr && item->contains("role"))) {
    return message_item(*item, at, out, reject);
  }
  if (type == "function_call" || type == "custom_tool_call") {
    return call_item(*item, type == "custom_tool_call", at, out, reject);
  }
  if (type == "function_call_output" || type == "custom_tool_call_output") {
    return output_item(*item, at, out, media, reject);
  }
  if (type == "reasoning") {
    return true;  // dropped: see the header (the chat wire cannot carry it back)
  }
  if (type == "item_reference") {
    return reject(at,
                  "Item references need the items stored by OpenAI's Responses API; the "
                  "gateway stores whole conversations for previous_response_id only. Send "
                  "the item itself.");
  }
  if (t == nullptr) {
    return missing(reject, at / ".type");
  }
  return reject(at / ".type",
                "Invalid value: '" + std::string(type) +
                    "'. Supported values are: 'message', 'function_call', "
                    "'function_call_output', 'custom_tool_call', 'custom_tool_call_output', "
                    "'reasoning'.");
}

bool is_tool_output(const json::value& v) {
  const json::object* item = v.if_object();
  const std::string_view type = item != nullptr ? string_member(*item, "type") : "";
  return type == "function_call_output" || type == "custom_tool_call_output";
}

bool convert_input(const json::value& input, ChatMessages& out, const Reject& reject) {
  if (input.is_string()) {
    append_json_string(out.begin("user") += R"(,"content":)", view(input.get_string()));
    return true;
  }
  const json::array* items = input.if_array();
  if (items == nullptr) {
    return reject("input", responses_detail::invalid_type(
                               "input", "one of a string or array of input items", input));
  }
  ContentParts media;  // images and files of the tool outputs just read
  const Path input_path("input", Path::Index::bracketed);
  for (std::size_t k = 0; k < items->size(); ++k) {
    if (!convert_item((*items)[k], input_path.element(k), out, media, reject)) {
      return false;
    }
    if (!media.empty() && (k + 1 == items->size() || !is_tool_output((*items)[k + 1]))) {
      // Chat tool messages carry text only: what the tools returned besides follows them as a
      // user message, after the last of the run (OpenAI wants tool messages right after the
      // assistant message that called the tools).
      media.write_array(out.begin("user") += R"(,"content":)");
      media = ContentParts();
    }
  }
  return true;
}

/// Members the gateway cannot serve at all.
bool refuse_unservable(const json::object& body, const Reject& reject) {
  if (is_true(member(body, "background"))) {
    return reject("background",
                  "background: true needs OpenAI's asynchronous response store, "
                  "which the gateway does not provide.");
  }
  if (member(body, "prompt") != nullptr) {
    return reject("prompt",
                  "Prompt templates live in OpenAI's service; the gateway cannot "
                  "expand them. Send instructions and input instead.");
  }
  if (member(body, "conversation") != nullptr) {
    return reject("conversation",
                  "Conversations live in OpenAI's service; use "
                  "previous_response_id with the gateway instead.");
  }
  return true;
}

/// Reads the stored conversation: an array of objects (the messages), and whether one of them is
/// not a system message (its last `role` not "system", as a DOM keeps the last).
class StoredConversation : public SaxUnbounded {
 public:
  using string_view = json::string_view;
  using error_code = boost::system::error_code;

  bool has_turn = false;

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return open(depth_ != 1); }
  bool on_array_end(std::size_t, error_code&) { return close(); }
  bool on_object_begin(error_code&) {
    system_ = depth_ == 1 ? false : system_;  // a message begins
    return open(depth_ > 0);
  }
  bool on_object_end(std::size_t, error_code&) {
    has_turn = has_turn || (depth_ == 2 && !system_);
    return close();
  }
  bool on_key_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_key(string_view s, std::size_t, error_code&) {
    role_ = depth_ == 2 && joined(s) == "role";
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_string(string_view s, std::size_t, error_code&) { return scalar(joined(s) == "system"); }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, string_view, error_code&) { return scalar(false); }
  bool on_uint64(std::uint64_t, string_view, error_code&) { return scalar(false); }
  bool on_double(double, string_view, error_code&) { return scalar(false); }
  bool on_bool(bool, error_code&) { return scalar(false); }
  bool on_null(error_code&) { return scalar(false); }
  bool on_comment_part(string_view, error_code&) { return false; }
  bool on_comment(string_view, error_code&) { return false; }

 private:
  // A container where it may be: the array at the top, objects in it, anything below them.
  bool open(bool allowed) {
    if (role_) {  // a role that is not a string: not "system"
      system_ = false;
      role_ = false;
    }
    ++depth_;
    return allowed;
  }
  bool close() {
    --depth_;
    return true;
  }
  bool scalar(bool system) {
    if (role_) {
      system_ = system;  // the last role decides
      role_ = false;
    }
    return depth_ >= 2;  // not the document, not an element of the array
  }
  bool part(string_view s) {
    parts_.append(s.data(), s.size());
    return true;
  }
  std::string_view joined(string_view last) {
    if (parts_.empty()) {
      return {last.data(), last.size()};
    }
    parts_.append(last.data(), last.size());
    whole_ = std::move(parts_);
    parts_.clear();
    return whole_;
  }

  int depth_ = 0;
  bool role_ = false;
  bool system_ = false;
  std::string parts_;
  std::string whole_;
};

/// The stored conversation `history` read (not parsed into a DOM: it is spliced into the chat
/// request as it is): its messages' text in `elements`, and whether one is not a system message.
/// False when it is not an array of objects.
bool read_history(std::string_view history, std::string_view& elements, bool& has_turn) {
  constexpr std::size_t kMaxDepth = 32;  // Boost's default, which the stored text was held to
  StoredConversation reader;
  bool read = json_lex::lex(history, reader, kMaxDepth);
  if (!read) {  // what json_lex does not take on, basic_parser reads from scratch
    json::parse_options opts;
    opts.max_depth = kMaxDepth;
    json::basic_parser<StoredConversation> parser(opts);
    boost::system::error_code ec;
    const std::size_t used = parser.write_some(false, history.data(), history.size(), ec);
    read = !ec && history.find_first_not_of(" \t\r\n", used) == std::string_view::npos;
    reader.has_turn = parser.handler().has_turn;
  }
  // The reader refuses a document that is not an array (its first byte is the bracket then).
  if (!read) {
    return false;
  }
  elements = json_array_elements(history);
  has_turn = reader.has_turn;
  return true;
}

/// [instructions as a system message] + history + this turn's messages: the first in
/// `instructions`, the history's messages in `history_elements` (their text).
bool full_conversation(const json::object& body, std::string_view history, bool turn_has_turn,
                       json::array& instructions, std::string_view& history_elements,
                       const Reject& reject) {
  if (const json::value* i = member(body, "instructions")) {
    if (!i->is_string()) {
      return reject("instructions", responses_detail::invalid_type("instructions", "a string", *i));
    }
    if (!i->get_string().empty()) {
      instructions.push_back(
          json::object({{"role", "system"}, {"content", *i}}, instructions.storage()));
    }
  }
  bool history_has_turn = false;
  if (!history.empty() && !read_history(history, history_elements, history_has_turn)) {
    return reject("previous_response_id",
                  "The conversation stored for previous_response_id cannot be read.");
  }
  return turn_has_turn || history_has_turn ||
         reject("input",
                "Invalid 'input': the conversation has no user, assistant "
                "or tool turn.");
}

/// The chat request's text: "model" first, then "messages" (`instructions`, the stored
/// history's `history_elements` and the turn's messages, already written as `turn_text`: both
/// spliced, not written again), then the other members of `out` (`tools` in the place of
/// theirs).
void write_chat_body(const json::value& model, const json::array& instructions,
                     std::string_view history_elements, std::string_view turn_text,
                     const json::object& out, std::string_view tools, std::string& text) {
  text.reserve(history_elements.size() + turn_text.size() + 1024);
  text += "{\"model\":";
  append_json(text, model);
  text += ",\"messages\":[";
  bool first = true;
  for (const json::value& m : instructions) {
    text += first ? "" : ",";
    first = false;
    append_json(text, m);
  }
  if (!history_elements.empty()) {
    text += first ? "" : ",";
    first = false;
    text += history_elements;
  }
  if (const std::string_view elements = json_array_elements(turn_text); !elements.empty()) {
    text += first ? "" : ",";
    text += elements;
  }
  text += ']';
  append_chat_members(text, out, tools);
  text += '}';
}

}  // namespace

std::optional<ResponsesTurn> responses_to_chat_request(const json::object& body,
                                                       std::string_view history, std::string& error,
                                                       std::string& error_param,
                                                       std::size_t body_bytes) {
  const Reject reject{error, error_param};
  const json::value* model = member(body, "model");
  if (model == nullptr) {
    reject("model", "Missing required parameter: 'model'.");
    return std::nullopt;
  }
  if (!model->is_string() || model->get_string().empty()) {
    reject("model", responses_detail::invalid_type("model", "a non-empty string", *model));
    return std::nullopt;
  }
  const json::value* input = member(body, "input");
  if (input == nullptr) {
    reject("input", "Missing required parameter: 'input'.");
    return std::nullopt;
  }
  ResponsesTurn turn;
  // The turn's messages are written as text while the input is walked (they are kept as they are
  // for the next turn, and spliced into the chat request); the rest of the chat request (the
  // instructions, the history, the options) is built in one monotonic resource: every node of it
  // is a bump of one pointer, none freed one by one.
  alignas(std::max_align_t) unsigned char first_block[4096];
  json::monotonic_resource memory(first_block, sizeof first_block);
  const json::storage_ptr sp(&memory);
  json::array messages(sp);
  json::object out({{"model", *model}}, sp);
  SamplingText sampling;
  std::string tools;  // the tools' text (convert_options), with the body's size as its room
  turn.input_messages.reserve(body_bytes + 64);
  ChatMessages turn_text(turn.input_messages);
  if (!refuse_unservable(body, reject) || !convert_input(*input, turn_text, reject) ||
      !responses_detail::convert_options(body, out, tools, body_bytes, sampling, turn, reject)) {
    return std::nullopt;
  }
  turn_text.finish();
  std::string_view history_elements;
  if (!full_conversation(body, history, turn_text.any_turn(), messages, history_elements, reject)) {
    return std::nullopt;
  }
  write_chat_body(*model, messages, history_elements, turn.input_messages, out, tools,
                  turn.chat_body);
  sampling.write(turn.chat_body);
  return turn;
}

std::optional<ResponsesTurn> responses_to_chat_request(std::string_view body,
                                                       std::string_view history, std::string& error,
                                                       std::string& error_param) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec) {
    error =
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
        "but what was sent was not valid JSON.)";
    error_param.clear();
    return std::nullopt;
  }
  if (!v.is_object()) {
    error = responses_detail::invalid_type("body", "an object", v);
    error_param.clear();
    return std::nullopt;
  }
  return responses_to_chat_request(v.get_object(), history, error, error_param, body.size());
}

}  // namespace sb::adapters
