#pragma once
// Pieces of an OpenAI chat request written as JSON text while a translator walks a client's body
// (the /v1/messages and /v1/responses inbound dialects), byte for byte what json_write writes for
// the same pieces built as a DOM: no DOM of the chat request is built.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::adapters {

/// The content parts of one chat message, as JSON text (comma-joined), and the content they make.
class ContentParts {
 public:
  /// A text part `{"type":"text","text":...}`.
  void text(std::string_view t);
  /// An image part `{"type":"image_url","image_url":{"url":...}}` (with `"detail"` after the url
  /// when given).
  void image(std::string_view url, std::string_view detail = {});
  /// A file part `{"type":"file","file":{"file_data":...}}` (with `"filename"` when given).
  void file(std::string_view data, std::string_view filename);
  /// `more`'s parts after these.
  void append(const ContentParts& more);

  bool empty() const { return count_ == 0; }
  /// The message content they make: the text of a single text part as a plain string (what
  /// every OpenAI-compatible server accepts), "" for none, the parts array otherwise.
  void write_content(std::string& out) const;
  /// The parts array, whatever they are.
  void write_array(std::string& out) const;

 private:
  void begin(bool is_text);
  /// A part `<head><first>[,"<second_key>":<second>]}}`: `head` opens the part and its object
  /// up to its first member's value; the second member is written when not empty.
  void object_part(std::string_view head, std::string_view first, std::string_view second_key,
                   std::string_view second);

  std::string json_;
  std::size_t count_ = 0;
  bool first_is_text_ = false;
};

/// Appends a tool call `{"id":...,"type":"function","function":{"name":...,"arguments":...}}`.
void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      std::string_view arguments);

}  // namespace sb::adapters
