// What each value of a chat-completions body sets in the ChatRequest (the other half of the
// handler in adapters/canonical_internal.h; canonical_parse.cc locates the values).

#include <charconv>
#include <string>
#include <type_traits>

#include "adapters/canonical.h"
#include "adapters/canonical_internal.h"
#include "adapters/translate_common.h"

namespace sb::adapters::canonical_detail {
namespace {

// What a scalar member must be, for its type error.
std::string_view expected_of(F f) {
  switch (f) {
    case F::temperature:
    case F::top_p:
    case F::presence_penalty:
    case F::frequency_penalty:
      return "a number";
    case F::max_completion_tokens:
    case F::max_tokens:
    case F::n:
    case F::seed:
      return "an integer";
    case F::parallel_tool_calls:
    case F::include_usage:
    case F::tool_strict:
      return "a boolean";
    default:
      return "a string";
  }
}

}  // namespace

// `ctx` when the container is of the wanted kind; else a type error and Ctx::skip.
Ctx Handler::expect(bool object, bool want_object, Ctx ctx, std::string_view expected,
                    std::size_t at) {
  if (object == want_object) {
    return ctx;
  }
  type_error(at, expected);
  return Ctx::skip;
}

// The context a container value opens, given what it is for: Ctx::skip (after a type error when
// the member is typed otherwise) when the request does not look inside it.
Ctx Handler::container(F f, bool object, std::size_t at) {
  switch (f) {
    case F::model:
      out_.model = {};
      return Ctx::skip;
    case F::messages:
      messages_seen_ = true;
      messages_not_array_ = object;
      out_.messages.clear();
      if (!object) {
        // Room for eight, so that the vector does not move the first ones three times as it grows
        // (most bodies hold more than two); from there its growth is the vector's own, with which
        // the arena's blocks and the heap budget were measured.
        out_.messages.reserve(8);
      }
      return object ? Ctx::skip : Ctx::messages;
    case F::stream:
      stream_bad_ = true;
      return Ctx::skip;
    case F::stream_options:
      replaced(f, object);
      return expect(object, true, Ctx::stream_options, "an object", at);
    case F::response_format:
      out_.response_format.emplace();
      return expect(object, true, Ctx::response_format, "an object", at);
    case F::stop:
      out_.stop.clear();
      return expect(object, false, Ctx::stop, "a string or an array", at);
    case F::tools:
      out_.tools.clear();
      return expect(object, false, Ctx::tools, "an array", at);
    case F::tool_choice:
      out_.tool_choice.emplace();
      return expect(object, true, Ctx::tool_choice, "a string or an object", at);
    case F::top_unknown:
    case F::msg_unknown:
    case F::ignore:
    case F::rf_schema:
      return Ctx::skip;
    default:
      if (f < F::top_unknown) {
        type_error(at, expected_of(f));
        return Ctx::skip;
      }
      return element(f, object, at);
  }
}

// The same below the top level.
Ctx Handler::element(F f, bool object, std::size_t at) {
  switch (f) {
    case F::message:
      if (object) {
        out_.messages.emplace_back(&out_.arena()).begin = at;
      }
      return expect(object, true, Ctx::message, "an object", at);
    case F::content:
      msg().content_kind = ChatMessage::Content::parts;
      msg().parts.clear();
      msg().text = {};
      return expect(object, false, Ctx::content, "a string or an array", at);
    case F::tool_calls:
      msg().tool_calls.clear();
      msg().has_tool_calls = !object;
      return expect(object, false, Ctx::tool_calls, "an array", at);
    case F::part:
      if (object) {
        msg().parts.emplace_back().begin = at;
      }
      return expect(object, true, Ctx::part, "an object", at);
    case F::part_image:
      replaced(f, object);
      return expect(object, true, Ctx::image_url, "a string or an object", at);
    case F::part_audio:
      replaced(f, object);
      return expect(object, true, Ctx::input_audio, "an object", at);
    case F::part_file:
      replaced(f, object);
      return expect(object, true, Ctx::file, "an object", at);
    case F::call:
      if (object) {
        msg().tool_calls.emplace_back().begin = at;
      }
      return expect(object, true, Ctx::call, "an object", at);
    case F::call_function:
      replaced(f, object);
      return expect(object, true, Ctx::call_function, "an object", at);
    case F::tool:
      if (object) {
        out_.tools.emplace_back().begin = at;
      }
      return expect(object, true, Ctx::tool, "an object", at);
    case F::tool_function:
      replaced(f, object);
      return expect(object, true, Ctx::tool_function, "an object", at);
    case F::tool_parameters:
      return expect(object, true, Ctx::skip, "an object", at);
    case F::choice_function:
      replaced(f, object);
      return expect(object, true, Ctx::choice_function, "an object", at);
    default:
      type_error(at, expected_of(f));
      return Ctx::skip;
  }
}

// A member holding a nested object is (again) given a value (`object`: an object; else a scalar,
// null when valid): what an earlier occurrence set is dropped, as a DOM keeps the last one whole.
void Handler::replaced(F f, bool object) {
  switch (f) {
    case F::stream_options:
      out_.include_usage.reset();
      break;
    case F::part_image:  // the data-URL members are read from `url` when the part closes
      if (ChatPartMedia* m = cpart().media_) {
        m->url = m->detail = {};
        m->bare_url = false;
      }
      break;
    case F::part_audio:
      if (ChatPartMedia* m = cpart().media_) {
        m->data = m->format = {};
      }
      break;
    case F::part_file:
      if (ChatPartMedia* m = cpart().media_) {
        m->file_id = m->filename = m->file_data = {};
      }
      break;
    case F::call_function: {
      ChatToolCall& c = msg().tool_calls.back();
      c.name = c.arguments = {};
      c.has_function = object;
      break;
    }
    case F::tool_function: {
      ChatTool& t = out_.tools.back();
      t.name = t.description = t.parameters = {};
      t.strict.reset();
      t.has_function = object;
      break;
    }
    case F::choice_function:
      out_.tool_choice->name = {};
      break;
    default:
      break;
  }
}

// A container ended at `end`: what its frame built is complete.
void Handler::closed(const Frame& f, std::size_t end) {
  switch (f.ctx) {
    case Ctx::message:
      msg().end = end;
      break;
    case Ctx::call:
      msg().tool_calls.back().end = end;
      break;
    case Ctx::tool:
      out_.tools.back().end = end;
      break;
    case Ctx::tool_choice: {
      ChatToolChoice& c = *out_.tool_choice;
      c.kind = ChatToolChoice::Kind::other;
      if (!c.name.empty() && (c.type.empty() || c.type == "function")) {
        c.kind = ChatToolChoice::Kind::function;  // {"type": "function", "function": {"name": ...}}
      }
      break;
    }
    case Ctx::part: {
      ChatContentPart& p = cpart();
      p.end = end;
      p.kind = part_kind(p.type);
      if (p.kind == ChatContentPart::Kind::refusal) {
        p.text = p.refusal;  // the text of a refusal part
        p.text_set = p.refusal_set;
      } else if (ChatPartMedia* m = p.media_;
                 m != nullptr && p.kind == ChatContentPart::Kind::image_url) {
        if (std::optional<DataUrl> d = parse_data_url(m->url)) {
          m->inline_data = true;
          m->media_type = d->media_type;
          m->data = d->data;
          m->base64 = d->base64;
        }
      }
      break;
    }
    default:
      break;
  }
}

// A value of the innermost container ended: record its bytes where they are wanted. Most values
// are wanted nowhere: array elements only count, and below the top level three members keep
// their bytes.
void Handler::done(std::size_t begin, std::size_t end) {
  Frame& p = top();
  if (!p.object) {
    ++p.count;
    return;
  }
  const std::string_view raw(body_.data() + begin, end - begin);
  if (p.ctx == Ctx::root) {
    RawMember& m = out_.members.back();
    m.value_begin = begin;
    m.value_end = end;
    if (p.field == F::top_unknown) {
      out_.unknown.push_back(m);
    } else if (p.field == F::tool_choice && out_.tool_choice) {
      out_.tool_choice->raw = raw;
    }
    return;
  }
  switch (p.field) {
    case F::msg_unknown:
      msg().unknown.back().value_begin = begin;
      msg().unknown.back().value_end = end;
      break;
    case F::rf_schema:
      out_.response_format->json_schema = raw;
      break;
    case F::tool_parameters:
      out_.tools.back().parameters = raw;
      break;
    default:
      break;
  }
}

void Handler::str(const Scalar& v, std::size_t at, std::string_view& to) {
  if (v.type == Scalar::Type::string) {
    to = v.s;
  } else if (v.type == Scalar::Type::null) {
    to = {};
  } else {
    type_error(at, "a string");
  }
}

template <class T>
void Handler::opt(const Scalar& v, std::size_t at, std::optional<T>& to) {
  using Type = Scalar::Type;
  if (v.type == Type::null) {
    to.reset();
  } else if constexpr (std::is_same_v<T, bool>) {
    v.type == Type::boolean ? void(to = v.b) : type_error(at, "a boolean");
  } else if constexpr (std::is_same_v<T, double>) {
    v.type == Type::integer || v.type == Type::number ? void(to = v.d) : type_error(at, "a number");
  } else if (v.type == Type::integer && v.fits) {
    to = v.i;
  } else {
    type_error(at, "an integer");
  }
}

// A scalar where a top-level member is typed as a container (or is the model, the stream).
void Handler::assign_top(F f, const Scalar& v, std::size_t at) {
  using Type = Scalar::Type;
  const bool null = v.type == Type::null;
  switch (f) {
    case F::model:
      out_.model = v.type == Type::string ? v.s : std::string_view();
      break;
    case F::messages:
      messages_seen_ = messages_not_array_ = true;
      break;
    case F::stream:
      stream_bad_ = v.type != Type::boolean && !null;
      stream_bad_ ? void() : opt(v, at, out_.stream);
      break;
    case F::stream_options:
      replaced(f, false);
      null ? void() : type_error(at, "an object");
      break;
    case F::stop:
      out_.stop.clear();
      v.type == Type::string ? out_.stop.push_back(v.s)
      : null                 ? void()
                             : type_error(at, "a string or an array");
      break;
    case F::response_format:
      out_.response_format.reset();
      null ? void() : type_error(at, "an object");
      break;
    case F::tools:
      out_.tools.clear();
      null ? void() : type_error(at, "an array");
      break;
    case F::tool_choice: {
      using K = ChatToolChoice::Kind;
      out_.tool_choice.reset();
      if (v.type == Type::string) {
        out_.tool_choice = ChatToolChoice{v.s == "none"       ? K::none
                                          : v.s == "auto"     ? K::automatic
                                          : v.s == "required" ? K::required
                                                              : K::other};
      } else if (!null) {
        type_error(at, "a string or an object");
      }
      break;
    }
    default:
      assign_sampling(f, v, at);
      break;
  }
}

void Handler::assign_sampling(F f, const Scalar& v, std::size_t at) {
  ChatRequest& r = out_;
  switch (f) {
    case F::max_completion_tokens:
      return opt(v, at, r.max_completion_tokens);
    case F::max_tokens:
      return opt(v, at, r.max_tokens);
    case F::temperature:
      return opt(v, at, r.temperature);
    case F::top_p:
      return opt(v, at, r.top_p);
    case F::n:
      return opt(v, at, r.n);
    case F::seed:
      return opt(v, at, r.seed);
    case F::presence_penalty:
      return opt(v, at, r.presence_penalty);
    case F::frequency_penalty:
      return opt(v, at, r.frequency_penalty);
    case F::reasoning_effort:
      return str(v, at, r.reasoning_effort);
    case F::user:
      return str(v, at, r.user);
    case F::parallel_tool_calls:
      return opt(v, at, r.parallel_tool_calls);
    default:
      return;
  }
}

// A scalar below the top level, the most frequent first: in a message, stream_options,
// response_format, stop; the others in assign_part().
void Handler::assign_message(F f, const Scalar& v, std::size_t at) {
  const bool null = v.type == Scalar::Type::null;
  switch (f) {
    case F::include_usage:
      return opt(v, at, out_.include_usage);
    case F::rf_type:
      return str(v, at, out_.response_format->type);
    case F::choice_name:
      return str(v, at, out_.tool_choice->name);
    case F::stop_item:
      return v.type == Scalar::Type::string ? out_.stop.push_back(v.s) : type_error(at, "a string");
    case F::role:
      str(v, at, msg().role_text);
      msg().role = role_of(msg().role_text);
      return;
    case F::name:
      return str(v, at, msg().name);
    case F::tool_call_id:
      return str(v, at, msg().tool_call_id);
    case F::content:
      msg().parts.clear();
      msg().text = {};
      msg().content_kind = null ? ChatMessage::Content::null : ChatMessage::Content::text;
      return null ? void() : str(v, at, msg().text);
    case F::tool_calls:
      msg().tool_calls.clear();
      msg().has_tool_calls = false;
      return null ? void() : type_error(at, "an array");
    case F::message:
    case F::part:
    case F::call:
    case F::tool:
      return type_error(at, "an object");  // an array element
    case F::choice_type:
      return str(v, at, out_.tool_choice->type);
    case F::part_audio:
    case F::part_file:
    case F::call_function:
    case F::tool_function:
    case F::choice_function:
      replaced(f, false);
      return null ? void() : type_error(at, "an object");
    case F::tool_parameters:
      return null ? void() : type_error(at, "an object");
    default:
      return assign_part(f, v, at);
  }
}

// A scalar in a content part; the others in assign_tool().
void Handler::assign_part(F f, const Scalar& v, std::size_t at) {
  switch (f) {
    case F::part_type:
      return str(v, at, cpart().type);
    case F::part_text:
      str(v, at, cpart().text);
      cpart().text_set = v.type == Scalar::Type::string;
      return;
    case F::part_refusal:
      str(v, at, cpart().refusal);
      cpart().refusal_set = v.type == Scalar::Type::string;
      return;
    case F::part_image:  // the bare-string form
      replaced(f, false);
      str(v, at, cmedia().url);
      cmedia().bare_url = v.type == Scalar::Type::string;
      return;
    case F::image_url:
      return str(v, at, cmedia().url);
    case F::image_detail:
      return str(v, at, cmedia().detail);
    case F::audio_data:
      return str(v, at, cmedia().data);
    case F::audio_format:
      return str(v, at, cmedia().format);
    case F::file_id:
      return str(v, at, cmedia().file_id);
    case F::file_name:
      return str(v, at, cmedia().filename);
    case F::file_data:
      return str(v, at, cmedia().file_data);
    default:
      return assign_tool(f, v, at);
  }
}

// A scalar in a tool call or a tool.
void Handler::assign_tool(F f, const Scalar& v, std::size_t at) {
  switch (f) {
    case F::call_id:
      return str(v, at, msg().tool_calls.back().id);
    case F::call_type:
      return str(v, at, msg().tool_calls.back().type);
    case F::call_name:
      return str(v, at, msg().tool_calls.back().name);
    case F::call_arguments:
      return str(v, at, msg().tool_calls.back().arguments);
    case F::tool_type:
      return str(v, at, out_.tools.back().type);
    case F::tool_name:
      return str(v, at, out_.tools.back().name);
    case F::tool_description:
      return str(v, at, out_.tools.back().description);
    case F::tool_strict:
      return opt(v, at, out_.tools.back().strict);
    default:
      return;
  }
}

// "Invalid type for 'messages[1].content': expected a string.", built in the arena and kept in
// the slot of the top-level member it is under (a later duplicate of that member clears it).
void Handler::type_error(std::size_t at, std::string_view expected) {
  const auto top_field = static_cast<std::size_t>(frames_[0].field);
  if (top_field >= errors_.size() || (error_mask_ >> top_field & 1) != 0) {
    return;
  }
  RequestArena& a = out_.arena();
  a.append("Invalid type for '");
  for (std::size_t i = 0; i < depth_; ++i) {
    if (frames_[i].object) {
      a.append(i > 0 ? "." : "");
      a.append(frames_[i].key());
    } else {
      char index[24] = "[";
      char* end = std::to_chars(index + 1, index + sizeof index - 1, frames_[i].count).ptr;
      *end++ = ']';
      a.append(std::string_view(index, static_cast<std::size_t>(end - index)));
    }
  }
  a.append("': expected ");
  a.append(expected);
  a.append(".");
  errors_[top_field] = ErrorSlot{at, a.finish_string()};
  error_mask_ |= std::uint32_t{1} << top_field;
}

Result<ChatRequest, ParseError> Handler::finish(ChatRequest&& out, bool require_model) {
  if (require_model && out.model.empty()) {
    return ParseError{0, "you must provide a model parameter"};
  }
  if (!messages_seen_) {
    return ParseError{0, "Missing required parameter: 'messages'.", "missing_required_parameter",
                      "messages"};
  }
  if (messages_not_array_) {
    return ParseError{0, "Invalid type for 'messages': expected an array.", "invalid_type",
                      "messages"};
  }
  if (stream_bad_) {
    return ParseError{0, "Invalid type for 'stream': expected a boolean.", "invalid_type",
                      "stream"};
  }
  const ErrorSlot* first = nullptr;
  for (std::size_t i = 0; i < errors_.size(); ++i) {
    if ((error_mask_ >> i & 1) != 0 && (first == nullptr || errors_[i].offset < first->offset)) {
      first = &errors_[i];
    }
  }
  if (first != nullptr) {
    // "Invalid type for '<param>': expected ...": the member's path is OpenAI's `param`.
    constexpr std::string_view kLead = "Invalid type for '";
    const std::string_view m = first->message;
    const std::size_t end = m.find("': expected", kLead.size());
    return ParseError{first->offset, std::string(m), "invalid_type",
                      std::string(m.substr(kLead.size(), end - kLead.size()))};
  }
  return std::move(out);
}

}  // namespace sb::adapters::canonical_detail
