// The Responses API inbound, request options: tools (function, custom, namespace; built-ins
// refused or dropped), tool_choice, text.format, reasoning, limits, stream, and the Response's
// request echo. The mapping is documented in responses_inbound.h.
#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/responses_inbound.h"
#include "adapters/responses_inbound_internal.h"
#include "adapters/responses_inbound_request_internal.h"
#include "adapters/translate_common.h"

namespace sb::adapters::responses_detail {
namespace {

namespace json = boost::json;

/// Built-in tools that run inside OpenAI's service
/// (https://platform.openai.com/docs/guides/tools).
bool is_builtin(std::string_view type) {
  static constexpr std::string_view kBuiltins[] = {"file_search",
                                                   "computer_use_preview",
                                                   "computer_use",
                                                   "code_interpreter",
                                                   "image_generation",
                                                   "local_shell",
                                                   "shell",
                                                   "apply_patch",
                                                   "mcp",
                                                   "tool_search"};
  return std::find(std::begin(kBuiltins), std::end(kBuiltins), type) != std::end(kBuiltins);
}

/// web_search and its dated variants: dropped (Codex CLI sends one on every request).
bool is_web_search(std::string_view type) {
  return type.starts_with("web_search");
}

/// `description` of a namespace member: the namespace's own description ahead of the tool's.
std::string joined_description(std::string_view ns_description, std::string_view description) {
  if (ns_description.empty()) {
    return std::string(description);
  }
  if (description.empty()) {
    return std::string(ns_description);
  }
  return std::string(ns_description) + "\n\n" + std::string(description);
}

/// A function or custom tool (inside namespace `ns` when not empty) as a chat function tool.
bool flat_tool(const json::object& tool, const Path& at, std::string_view ns,
               std::string_view ns_description, std::string& out, std::vector<ToolAlias>& aliases,
               const Reject& reject) {
  const std::string_view type = string_member(tool, "type");
  const std::string_view name = string_member(tool, "name");
  if (name.empty()) {
    return missing(reject, at / ".name");
  }
  const bool custom = type == "custom";
  std::string chat_name = ns.empty() ? std::string(name) : flat_name(ns, name);
  // {"type":"function","function":{"name","description","parameters","strict"}}, as text: the
  // parameters are written from the client's DOM, not copied into a second one first.
  out += out.empty() ? "[" : ",";
  out += R"({"type":"function","function":{"name":)";
  append_json_string(out, chat_name);
  const std::string description =
      joined_description(ns_description, string_member(tool, "description"));
  if (!description.empty()) {
    out += R"(,"description":)";
    append_json_string(out, description);
  }
  if (custom) {
    // A custom tool takes free text: one string parameter. A grammar (lark or regex) is shown to
    // the model, not enforced.
    std::string input_doc = "The tool's input, as free text.";
    if (const json::object* format = object_member(tool, "format");
        format != nullptr && string_member(*format, "type") == "grammar") {
      input_doc = "The tool's input; it must match this " +
                  std::string(string_member(*format, "syntax")) + " grammar:\n" +
                  std::string(string_member(*format, "definition"));
    }
    out +=
        R"(,"parameters":{"type":"object","properties":{"input":{"type":"string","description":)";
    append_json_string(out, input_doc);
    out += R"(}},"required":["input"],"additionalProperties":false})";
  } else {
    if (const json::value* p = member(tool, "parameters")) {
      if (!p->is_object()) {
        return reject(at / ".parameters",
                      invalid_type((at / ".parameters").str(), "an object", *p));
      }
      out += R"(,"parameters":)";
      append_json(out, *p);
    }
    if (const json::value* s = member(tool, "strict")) {
      out += R"(,"strict":)";
      append_json(out, *s);
    }
  }
  out += "}}";
  if (custom || !ns.empty()) {
    aliases.push_back(ToolAlias{chat_name, std::string(name), std::string(ns), custom});
  }
  return true;
}

bool namespace_tool(const json::object& tool, const Path& at, std::string& out,
                    std::vector<ToolAlias>& aliases, const Reject& reject) {
  const std::string_view ns = string_member(tool, "name");
  if (ns.empty()) {
    return missing(reject, at / ".name");
  }
  const json::value* t = member(tool, "tools");
  const json::array* members = t != nullptr ? t->if_array() : nullptr;
  if (members == nullptr) {
    return reject(at / ".tools", invalid_type((at / ".tools").str(), "an array",
                                              t != nullptr ? *t : json::value()));
  }
  const std::string_view ns_description = string_member(tool, "description");
  const Path members_at = at / ".tools";
  for (std::size_t k = 0; k < members->size(); ++k) {
    const Path member_at = members_at.element(k);
    const json::object* m = (*members)[k].if_object();
    const std::string_view type = m != nullptr ? string_member(*m, "type") : "";
    if (type != "function" && type != "custom") {
      return reject(member_at / ".type",
                    "Invalid value: '" + std::string(type) +
                        "'. Supported values are: 'function' and 'custom' (in a namespace).");
    }
    if (!flat_tool(*m, member_at, ns, ns_description, out, aliases, reject)) {
      return false;
    }
  }
  return true;
}

bool convert_tools(const json::value& tools, std::string& out, std::vector<ToolAlias>& aliases,
                   const Reject& reject) {
  const json::array* list = tools.if_array();
  if (list == nullptr) {
    return reject("tools", invalid_type("tools", "an array", tools));
  }
  const Path tools_at("tools", Path::Index::bracketed);
  for (std::size_t k = 0; k < list->size(); ++k) {
    const Path at = tools_at.element(k);
    const json::object* tool = (*list)[k].if_object();
    if (tool == nullptr) {
      return reject(at, invalid_type(at.str(), "an object", (*list)[k]));
    }
    const std::string_view type = string_member(*tool, "type");
    bool ok = true;
    if (type == "function" || type == "custom") {
      ok = flat_tool(*tool, at, {}, {}, out, aliases, reject);
    } else if (type == "namespace") {
      ok = namespace_tool(*tool, at, out, aliases, reject);
    } else if (is_web_search(type)) {
      continue;  // dropped: see the header
    } else if (is_builtin(type)) {
      return reject(at / ".type", "The built-in tool '" + std::string(type) + "' (" + at.str() +
                                      ") runs inside OpenAI's service and cannot be served by "
                                      "this gateway's chat-completions backends.");
    } else {
      return reject(at / ".type", "Invalid value: '" + std::string(type) +
                                      "'. Supported values are: 'function', 'custom' and "
                                      "'namespace'.");
    }
    if (!ok) {
      return false;
    }
  }
  if (!out.empty()) {
    out += ']';
  }
  return true;
}

/// The chat function name a tool_choice names (a function or custom tool outside a namespace).
json::object named_choice(std::string_view name) {
  return json::object{{"type", "function"}, {"function", json::object{{"name", name}}}};
}

bool allowed_tools_choice(const json::object& c, json::value& mapped, const Reject& reject) {
  const std::string_view mode = string_member(c, "mode");
  if (mode != "auto" && mode != "required") {
    return reject("tool_choice.mode", "Invalid value: '" + std::string(mode) +
                                          "'. Supported values are: 'auto' and 'required'.");
  }
  const json::array* tools = array_member(c, "tools");
  if (tools == nullptr) {
    return reject("tool_choice.tools", "Missing required parameter: 'tool_choice.tools'.");
  }
  json::array allowed;
  for (std::size_t k = 0; k < tools->size(); ++k) {
    const json::object* t = (*tools)[k].if_object();
    const std::string_view type = t != nullptr ? string_member(*t, "type") : "";
    const std::string_view name = t != nullptr ? string_member(*t, "name") : "";
    if ((type != "function" && type != "custom") || name.empty()) {
      const Path allowed_at("tool_choice.tools", Path::Index::bracketed);
      return reject(allowed_at.element(k).str(),
                    "Only function and custom tools (with a name) can be allowed through the "
                    "gateway.");
    }
    allowed.push_back(named_choice(name));
  }
  mapped =
      json::object{{"type", "allowed_tools"},
                   {"allowed_tools", json::object{{"mode", mode}, {"tools", std::move(allowed)}}}};
  return true;
}

bool convert_tool_choice(const json::value& choice, bool has_tools, json::object& out,
                         const Reject& reject) {
  json::value mapped;
  bool forcing = true;  // needs tools
  if (choice.is_string()) {
    const std::string_view s = view(choice.get_string());
    if (s != "auto" && s != "none" && s != "required") {
      return reject("tool_choice", "Invalid value: '" + std::string(s) +
                                       "'. Supported values are: 'none', 'auto', and "
                                       "'required'.");
    }
    forcing = s == "required";
    mapped = choice;
  } else if (const json::object* c = choice.if_object()) {
    const std::string_view type = string_member(*c, "type");
    if (type == "function" || type == "custom") {
      const std::string_view name = string_member(*c, "name");
      if (name.empty()) {
        return reject("tool_choice.name", "Missing required parameter: 'tool_choice.name'.");
      }
      mapped = named_choice(name);
    } else if (type == "allowed_tools") {
      if (!allowed_tools_choice(*c, mapped, reject)) {
        return false;
      }
    } else {
      return reject("tool_choice.type", "tool_choice type '" + std::string(type) +
                                            "' names a tool the gateway cannot serve.");
    }
  } else {
    return reject("tool_choice", invalid_type("tool_choice", "a string or an object", choice));
  }
  if (!has_tools) {
    // OpenAI rejects tool_choice without tools; auto and none say nothing then.
    return !forcing || reject("tool_choice", "tool_choice requires tools.");
  }
  out["tool_choice"] = std::move(mapped);
  return true;
}

/// text.format
/// (https://platform.openai.com/docs/api-reference/responses/create#responses-create-text)
/// -> response_format.
bool convert_text(const json::value& text, json::object& out, const Reject& reject) {
  const json::object* t = text.if_object();
  if (t == nullptr) {
    return reject("text", invalid_type("text", "an object", text));
  }
  const json::object* format = object_member(*t, "format");
  if (format == nullptr) {
    return true;
  }
  const std::string_view type = string_member(*format, "type");
  if (type == "json_object") {
    out["response_format"] = json::object{{"type", "json_object"}};
  } else if (type == "json_schema") {
    const std::string_view name = string_member(*format, "name");
    const json::value* schema = member(*format, "schema");
    if (name.empty()) {
      return reject("text.format.name", "Missing required parameter: 'text.format.name'.");
    }
    if (schema == nullptr || !schema->is_object()) {
      return reject("text.format.schema", "Missing required parameter: 'text.format.schema'.");
    }
    json::object js{{"name", name}, {"schema", *schema}};
    for (std::string_view key : {"strict", "description"}) {
      if (const json::value* v = member(*format, key)) {
        js[key] = *v;
      }
    }
    out["response_format"] = json::object{{"type", "json_schema"}, {"json_schema", std::move(js)}};
  } else if (type != "text") {
    return reject("text.format.type", "Invalid value: '" + std::string(type) +
                                          "'. Supported values are: 'text', 'json_schema', "
                                          "and 'json_object'.");
  }
  return true;
}

/// The members a Response echoes from its request, in the order it writes them, each with what it
/// says when the request did not set it (raw JSON). `reasoning` and `text` are objects of their own
/// (see make_echo).
struct EchoKey {
  std::string_view key;
  std::string_view fallback;
};
constexpr EchoKey kEcho[] = {{"instructions", "null"},
                             {"max_output_tokens", "null"},
                             {"max_tool_calls", "null"},
                             {"metadata", "{}"},
                             {"parallel_tool_calls", "true"},
                             {"prompt_cache_key", "null"},
                             {"reasoning", ""},
                             {"safety_identifier", "null"},
                             {"service_tier", "\"default\""},
                             {"store", "true"},
                             {"temperature", "1.0"},
                             {"text", ""},
                             {"tool_choice", "\"auto\""},
                             {"tools", "[]"},
                             {"top_logprobs", "0"},
                             {"top_p", "1.0"},
                             {"truncation", "\"disabled\""},
                             {"user", "null"}};
constexpr std::size_t kEchoReasoning = 6;
constexpr std::size_t kEchoText = 11;

/// `reasoning` as echoed: `{"effort":..,"summary":..}`, each the request's when set, else null.
void echo_reasoning(std::string& echo, const json::value* reasoning) {
  const json::object* r = reasoning != nullptr ? reasoning->if_object() : nullptr;
  for (std::string_view key : {"effort", "summary"}) {
    echo += key == "effort" ? "{\"effort\":" : ",\"summary\":";
    if (const json::value* v = r != nullptr ? member(*r, key) : nullptr) {
      append_json(echo, *v);
    } else {
      echo += "null";
    }
  }
  echo += '}';
}

/// `text` as echoed: the request's object, with `format` `{"type":"text"}` when it sets none.
void echo_text(std::string& echo, const json::value* text) {
  const json::object* t = text != nullptr ? text->if_object() : nullptr;
  if (t == nullptr) {
    echo += R"({"format":{"type":"text"}})";
    return;
  }
  if (member(*t, "format") != nullptr) {
    append_json(echo, *t);
    return;
  }
  json::object with_format = *t;  // rare: a text object without a format (or a null one)
  with_format["format"] = json::object{{"type", "text"}};
  append_json(echo, with_format);
}

/// The echo members for `body`, in kEcho's order: one pass over the body's members, then one write
/// of each, the request's value (a double in its shortest round-trip form) or the fallback.
std::string make_echo(const json::object& body) {
  std::array<const json::value*, std::size(kEcho)> given{};
  for (const json::key_value_pair& m : body) {
    const std::string_view key(m.key().data(), m.key().size());
    for (std::size_t i = 0; i < given.size(); ++i) {
      if (kEcho[i].key == key) {
        given[i] = m.value().is_null() ? nullptr : &m.value();
        break;
      }
    }
  }
  std::string echo;
  echo.reserve(512);
  for (std::size_t i = 0; i < given.size(); ++i) {
    echo += i == 0 ? "\"" : ",\"";  // the keys are plain names: nothing in them to escape
    echo += kEcho[i].key;
    echo += "\":";
    const json::value* v = given[i];
    if (i == kEchoReasoning) {
      echo_reasoning(echo, v);
    } else if (i == kEchoText) {
      echo_text(echo, v);
    } else if (v == nullptr) {
      echo += kEcho[i].fallback;
    } else if (std::optional<std::string> n =
                   v->is_double() ? json_number_text(*v) : std::nullopt) {
      echo += *n;
    } else {
      append_json(echo, *v);
    }
  }
  return echo;
}

/// The type checks of the members that are echoed or steer the gateway.
bool check_types(const json::object& body, const Reject& reject) {
  struct Check {
    std::string_view key;
    bool (json::value::*is)() const noexcept;
    std::string_view expected;
  };
  static constexpr Check kChecks[] = {
      {"stream", &json::value::is_bool, "a boolean"},
      {"store", &json::value::is_bool, "a boolean"},
      {"parallel_tool_calls", &json::value::is_bool, "a boolean"},
      {"metadata", &json::value::is_object, "an object"},
      {"reasoning", &json::value::is_object, "an object"},
      {"previous_response_id", &json::value::is_string, "a string"},
      {"user", &json::value::is_string, "a string"},
      {"prompt_cache_key", &json::value::is_string, "a string"},
      {"include", &json::value::is_array, "an array"},
  };
  for (const Check& c : kChecks) {
    if (const json::value* v = member(body, c.key); v != nullptr && !(v->*c.is)()) {
      return reject(std::string(c.key), invalid_type(c.key, c.expected, *v));
    }
  }
  return true;
}

bool convert_limits(const json::object& body, json::object& out, const Reject& reject) {
  if (const json::value* m = member(body, "max_output_tokens")) {
    const std::optional<std::int64_t> n = positive_integer(*m);
    if (!n) {
      return reject("max_output_tokens",
                    invalid_type("max_output_tokens", "a positive integer", *m));
    }
    out["max_completion_tokens"] = *n;
  }
  if (const json::object* r = object_member(body, "reasoning")) {
    if (const json::value* e = member(*r, "effort")) {
      if (!e->is_string()) {
        return reject("reasoning.effort", invalid_type("reasoning.effort", "a string", *e));
      }
      out["reasoning_effort"] = *e;
    }
  }
  if (const std::string_view user = string_member(body, "user"); !user.empty()) {
    out["user"] = user;
  }
  return true;
}

}  // namespace

std::string invalid_type(std::string_view param, std::string_view expected,
                         const json::value& got) {
  std::string_view kind = "null";
  switch (got.kind()) {
    case json::kind::object:
      kind = "an object";
      break;
    case json::kind::array:
      kind = "an array";
      break;
    case json::kind::string:
      kind = "a string";
      break;
    case json::kind::bool_:
      kind = "a boolean";
      break;
    case json::kind::int64:
    case json::kind::uint64:
      kind = "an integer";
      break;
    case json::kind::double_:
      kind = "a decimal";
      break;
    case json::kind::null:
      break;
  }
  return "Invalid type for '" + std::string(param) + "': expected " + std::string(expected) +
         ", but got " + std::string(kind) + " instead.";
}

std::string flat_name(std::string_view ns, std::string_view name) {
  return std::string(ns) + "__" + std::string(name);
}

bool convert_options(const json::object& body, json::object& out, std::string& tools_text,
                     std::size_t tools_room, SamplingText& sampling, ResponsesTurn& turn,
                     const Reject& reject) {
  if (!check_types(body, reject) || !convert_limits(body, out, reject)) {
    return false;
  }
  std::string sampling_error;
  if (!sampling.read(body, sampling_error)) {
    const std::string key = sampling_error.substr(0, sampling_error.find(':'));
    const json::value* v = member(body, key);
    return reject(key, v != nullptr ? invalid_type(key, "a number", *v) : sampling_error);
  }
  if (const json::value* tools = member(body, "tools")) {
    tools_text.reserve(tools_room);
    if (!convert_tools(*tools, tools_text, turn.tool_aliases, reject)) {
      return false;
    }
    if (!tools_text.empty()) {
      out["tools"] = nullptr;  // its place: the text is tools_text
    }
  }
  const bool has_tools = !tools_text.empty();
  if (const json::value* choice = member(body, "tool_choice")) {
    if (!convert_tool_choice(*choice, has_tools, out, reject)) {
      return false;
    }
  }
  if (const json::value* p = member(body, "parallel_tool_calls"); p != nullptr && has_tools) {
    out["parallel_tool_calls"] = *p;
  }
  if (const json::value* text = member(body, "text")) {
    if (!convert_text(*text, out, reject)) {
      return false;
    }
  }
  turn.stream = is_true(member(body, "stream"));
  if (turn.stream) {
    out["stream"] = true;
    out["stream_options"] = json::object{{"include_usage", true}};
  }
  if (const json::value* s = member(body, "store")) {
    turn.store = s->get_bool();
  }
  turn.previous_response_id = string_member(body, "previous_response_id");
  turn.echo = make_echo(body);
  return true;
}

}  // namespace sb::adapters::responses_detail
