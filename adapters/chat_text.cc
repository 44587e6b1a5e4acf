#include "adapters/chat_text.h"

#include <boost/json/object.hpp>

#include "adapters/json_write.h"

namespace sb::adapters {
namespace {

constexpr std::string_view kTextHead = R"({"type":"text","text":)";

}  // namespace

void ContentParts::begin(bool is_text) {
  if (count_ == 0) {
    first_is_text_ = is_text;
  } else {
    json_ += ',';
  }
  ++count_;
}

void ContentParts::text(std::string_view t) {
  begin(true);
  json_ += kTextHead;
  append_json_string(json_, t);
  json_ += '}';
}

void ContentParts::image(std::string_view url, std::string_view detail) {
  object_part(R"({"type":"image_url","image_url":{"url":)", url, "detail", detail);
}

void ContentParts::file(std::string_view data, std::string_view filename) {
  object_part(R"({"type":"file","file":{"file_data":)", data, "filename", filename);
}

void ContentParts::object_part(std::string_view head, std::string_view first,
                               std::string_view second_key, std::string_view second) {
  begin(false);
  json_ += head;
  append_json_string(json_, first);
  if (!second.empty()) {
    json_ += ",\"";
    json_ += second_key;
    json_ += "\":";
    append_json_string(json_, second);
  }
  json_ += "}}";
}

void ContentParts::append(const ContentParts& more) {
  if (more.count_ == 0) {
    return;
  }
  if (count_ == 0) {
    first_is_text_ = more.first_is_text_;
  } else {
    json_ += ',';
  }
  json_ += more.json_;
  count_ += more.count_;
}

void ContentParts::write_content(std::string& out) const {
  if (count_ == 1 && first_is_text_) {
    // The part is {"type":"text","text":<string>}: the string is what lies between.
    out.append(json_, kTextHead.size(), json_.size() - kTextHead.size() - 1);
  } else if (count_ == 0) {
    out += R"("")";
  } else {
    write_array(out);
  }
}

void ContentParts::write_array(std::string& out) const {
  out += '[';
  out += json_;
  out += ']';
}

std::string& ChatMessages::begin(std::string_view role) {
  close();
  if (any_) {
    json_ += ',';
  }
  any_ = true;
  any_turn_ = any_turn_ || role != "system";
  json_ += R"({"role":)";
  append_json_string(json_, role);
  open_ = role == "assistant" ? Open::assistant : Open::other;
  return json_;
}

void ChatMessages::add(std::string_view role, std::string_view content) {
  append_json_string(begin(role) += R"(,"content":)", content);
}

void ChatMessages::add(std::string_view role, const ContentParts& parts) {
  parts.write_content(begin(role) += R"(,"content":)");
}

std::string& ChatMessages::tool_result(std::string_view call_id) {
  append_json_string(begin("tool") += R"(,"tool_call_id":)", call_id);
  return json_ += R"(,"content":)";
}

void ChatMessages::tool_call(std::string_view id, std::string_view name,
                             std::string_view arguments) {
  if (open_ == Open::calls) {
    json_ += ',';
  } else {
    if (open_ != Open::assistant) {
      begin("assistant") += R"(,"content":null)";
    }
    json_ += R"(,"tool_calls":[)";
    open_ = Open::calls;
  }
  append_tool_call(json_, id, name, arguments);
}

void ChatMessages::finish() {
  close();
  json_ += ']';
}

void ChatMessages::close() {
  json_ += open_ == Open::calls ? "]}" : open_ == Open::none ? "" : "}";
  open_ = Open::none;
}

namespace {

// A tool call up to its arguments' value.
void tool_call_head(std::string& out, std::string_view id, std::string_view name) {
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"type":"function","function":{"name":)";
  append_json_string(out, name);
  out += R"(,"arguments":)";
}

}  // namespace

void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      std::string_view arguments) {
  tool_call_head(out, id, name);
  append_json_string(out, arguments);
  out += "}}";
}

void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      const boost::json::object& input) {
  tool_call_head(out, id, name);
  append_json_text_string(out, input);
  out += "}}";
}

void append_chat_members(std::string& text, const boost::json::object& members,
                         std::string_view tools_text) {
  for (const auto& kv : members) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (key == "model" || key == "messages") {
      continue;
    }
    text += ',';
    append_json_string(text, key);
    text += ':';
    key == "tools" ? void(text += tools_text) : append_json(text, kv.value());
  }
}

}  // namespace sb::adapters
