#pragma once
// Pieces of an OpenAI chat request written as JSON text while a translator walks a client's body
// (the /v1/messages and /v1/responses inbound dialects), byte for byte what json_write writes for
// the same pieces built as a DOM: no DOM of the chat request is built. Content parts, tool calls
// and the messages array, one writer for both dialects.

#include <cstddef>
#include <string>
#include <string_view>

namespace boost::json {
class object;
}

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

/// The `messages` array of a chat request, written message by message into `json`: `[` when
/// made, `]` at finish(). A message stays open for its caller's members until the next one
/// begins (or finish()), which closes it.
class ChatMessages {
 public:
  explicit ChatMessages(std::string& json) : json_(json) { json_ += '['; }

  /// Opens a message of `role` (the open one is closed first): `{"role":"<role>"`. Returns the
  /// text, for the message's other members.
  std::string& begin(std::string_view role);
  /// A message of `role` with `content`, a string.
  void add(std::string_view role, std::string_view content);
  /// A message of `role` whose content is `parts` (ContentParts::write_content).
  void add(std::string_view role, const ContentParts& parts);
  /// Opens a tool message answering `call_id`, up to its content: the caller writes the content.
  std::string& tool_result(std::string_view call_id);
  /// A tool call: it joins the open assistant message, else opens one with null content.
  void tool_call(std::string_view id, std::string_view name, std::string_view arguments);
  /// Closes the open message and the array: the text is whole.
  void finish();
  /// Whether a message that is not a system message was written.
  bool any_turn() const { return any_turn_; }

 private:
  enum class Open { none, other, assistant, calls };
  void close();

  std::string& json_;
  bool any_ = false;
  bool any_turn_ = false;
  Open open_ = Open::none;
};

/// Appends a tool call `{"id":...,"type":"function","function":{"name":...,"arguments":...}}`.
void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      std::string_view arguments);
/// The same with `input`'s JSON text as the arguments.
void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      const boost::json::object& input);

/// Appends the chat request's members after `model` and `messages` (both skipped), in the order of
/// `members`, the translator's DOM of them: `,"key":value` each. The tools are the exception:
/// written as text while the client's tools were read (`tools_text`, their schemas straight from
/// the client's body), they keep their place in `members` as null, and `tools_text` goes there.
void append_chat_members(std::string& text, const boost::json::object& members,
                         std::string_view tools_text);

}  // namespace sb::adapters
