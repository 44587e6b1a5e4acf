#include "adapters/chat_text.h"

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

void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      std::string_view arguments) {
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"type":"function","function":{"name":)";
  append_json_string(out, name);
  out += R"(,"arguments":)";
  append_json_string(out, arguments);
  out += "}}";
}

}  // namespace sb::adapters
