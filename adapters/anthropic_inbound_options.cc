// The Messages API inbound, request side: the members around the conversation (model,
// max_tokens, sampling, stop sequences, stream, tools, tool_choice, thinking, output_config,
// metadata) and the wording of Anthropic's own validator for every refusal.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/anthropic_inbound.h"
#include "adapters/anthropic_inbound_internal.h"
#include "adapters/json_write.h"
#include "adapters/openai_shapes.h"
#include "adapters/translate_common.h"

namespace sb::adapters::anthropic_inbound {

namespace json = boost::json;

// ---- errors in the wording of Anthropic's validator -----------------------------------------
// Anthropic reports a request it cannot validate as `<dotted path>: <reason>`, e.g.
// "max_tokens: Field required", "messages.0.role: Input should be 'user' or 'assistant'",
// "messages.1.content.0: Input tag 'x' found using 'type' does not match any of the expected
// tags: ...", "messages: at least one message is required". The same paths and reasons here.

bool fail(std::string& error, std::string message) {
  error = std::move(message);
  return false;
}

bool fail(std::string& error, const Path& where, std::string_view message) {
  return fail(error, where.str().append(message));
}

bool required(std::string& error, const Path& where) {
  return fail(error, where, ": Field required");
}

bool expected(std::string& error, const Path& where, std::string_view what) {
  return fail(error, where, ": Input should be " + std::string(what));
}

/// A tagged union's unknown tag.
bool unknown_tag(std::string& error, const Path& where, std::string_view tag,
                 std::string_view tags) {
  return fail(
      error, where,
      ": Input tag '" + std::string(tag) +
          "' found using 'type' does not match any of the expected tags: " + std::string(tags));
}

/// The string `v` as a view, or an Anthropic validation error for `where`.
bool string_at(const json::value* v, const Path& where, std::string_view& out, std::string& error) {
  if (v == nullptr) {
    return required(error, where);
  }
  if (!v->is_string()) {
    return expected(error, where, "a valid string");
  }
  out = view(v->get_string());
  return true;
}

namespace {

// ---- tools ---------------------------------------------------------------------------------

/// Client tools as function tools. Anthropic's server tools (a `type` other than "custom":
/// web_search_..., web_fetch_..., code_execution_..., tool_search_tool_..., bash_...,
/// text_editor_..., memory_...) run on Anthropic's side only: they are left out, so the engine
/// sees only the tools it can call; `names` gets the client tools' names. `defer_loading` (load a
/// tool only when tool search finds it) is ignored: every client tool is declared up front, as
/// an OpenAI engine has no tool search. cache_control on a tool is ignored.
bool convert_tools(const json::value& tools, std::string& out, std::vector<std::string>& names,
                   std::string& error) {
  const json::array* list = tools.if_array();
  if (list == nullptr) {
    return expected(error, "tools", "a valid list");
  }
  const Path tools_at = "tools";
  for (std::size_t k = 0; k < list->size(); ++k) {
    const Path where = at(tools_at, k);
    const json::object* tool = (*list)[k].if_object();
    if (tool == nullptr) {
      return expected(error, where, "a valid dictionary");
    }
    if (const std::string_view type = string_member(*tool, "type");
        !type.empty() && type != "custom") {
      continue;  // a server tool (see above)
    }
    std::string_view name;
    if (!string_at(member(*tool, "name"), where / ".custom.name", name, error)) {
      return false;
    }
    const json::value* schema = member(*tool, "input_schema");
    if (schema == nullptr) {
      return required(error, where / ".custom.input_schema");
    }
    if (!schema->is_object()) {
      return expected(error, where / ".custom.input_schema", "a valid dictionary");
    }
    // {"type":"function","function":{"name","description","parameters"}}, as text: the schema
    // is written from the client's DOM, not copied into a second one first.
    out += out.empty() ? "[" : ",";
    out += R"({"type":"function","function":{"name":)";
    append_json_string(out, name);
    if (const std::string_view d = string_member(*tool, "description"); !d.empty()) {
      out += R"(,"description":)";
      append_json_string(out, d);
    }
    out += R"(,"parameters":)";
    append_json(out, *schema);
    out += "}}";
    names.emplace_back(name);
  }
  if (!out.empty()) {
    out += ']';
  }
  return true;
}

/// `tool_choice` (https://docs.anthropic.com/en/api/messages#body-tool-choice) into `out`.
bool convert_tool_choice(const json::value& choice, const std::vector<std::string>& names,
                         json::object& out, std::string& error) {
  const json::object* c = choice.if_object();
  if (c == nullptr) {
    return expected(error, "tool_choice", "a valid dictionary");
  }
  const std::string_view type = string_member(*c, "type");
  json::value mapped;
  if (type == "auto") {
    mapped = "auto";
  } else if (type == "any") {
    mapped = "required";
  } else if (type == "none") {
    mapped = "none";
  } else if (type == "tool") {
    std::string_view name;
    if (!string_at(member(*c, "name"), "tool_choice.tool.name", name, error)) {
      return false;
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      return fail(error, "tool_choice.tool.name: '" + std::string(name) +
                             "' is not a client tool of this request (server tools cannot run "
                             "on an OpenAI-format backend)");
    }
    mapped = json::object{{"type", "function"}, {"function", json::object{{"name", name}}}};
  } else {
    return unknown_tag(error, "tool_choice", type, "'auto', 'any', 'tool', 'none'");
  }
  if (names.empty()) {
    if (type == "any") {
      return fail(error, "tool_choice: 'any' requires tools this backend can call");
    }
    return true;  // OpenAI rejects tool_choice without tools; auto and none say nothing then.
  }
  out["tool_choice"] = std::move(mapped);
  if (is_true(member(*c, "disable_parallel_tool_use")) && type != "none") {
    out["parallel_tool_calls"] = false;
  }
  return true;
}

// ---- thinking, effort and output format ----------------------------------------------------

/// temperature and top_p as the client wrote them, in Anthropic's wording on error.
bool read_sampling(const json::object& body, SamplingText& sampling, std::string& error) {
  if (sampling.read(body, error)) {
    return true;
  }
  const std::size_t colon = error.find(':');
  return fail(error, error.substr(0, colon) + ": Input should be a valid number");
}

}  // namespace

/// `thinking` (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking): checked,
/// and as `reasoning_effort` when the engine takes one (options.reasoning_effort): enabled by
/// budget_tokens (< 8192 low, < 24576 medium, else high: Claude Code's "think" 4000, "think
/// hard" 10000 and "ultrathink" 31999 land on low, medium and high); adaptive by
/// output_config.effort (low, medium, high; max reads as high), else the engine's default;
/// disabled sends nothing. Without thinking, output_config.effort alone sets it the same way.
bool convert_thinking(const json::object& body, const AnthropicInboundOptions& options,
                      json::object& out, std::string& error) {
  std::string_view effort;
  if (const json::object* oc = object_member(body, "output_config")) {
    effort = string_member(*oc, "effort");
    effort = effort == "max" ? "high" : effort;
    if (effort != "low" && effort != "medium" && effort != "high") {
      effort = {};
    }
  }
  if (const json::value* t = member(body, "thinking")) {
    const json::object* thinking = t->if_object();
    if (thinking == nullptr) {
      return expected(error, "thinking", "a valid dictionary");
    }
    const std::string_view type = string_member(*thinking, "type");
    if (type == "enabled") {
      const json::value* b = member(*thinking, "budget_tokens");
      const std::optional<std::int64_t> budget = b != nullptr ? positive_integer(*b) : std::nullopt;
      if (!budget) {
        return b == nullptr ? required(error, "thinking.enabled.budget_tokens")
                            : expected(error, "thinking.enabled.budget_tokens", "a valid integer");
      }
      effort = *budget < 8192 ? "low" : *budget < 24576 ? "medium" : "high";
    } else if (type == "disabled") {
      effort = {};
    } else if (type != "adaptive") {
      return unknown_tag(error, "thinking", type, "'adaptive', 'disabled', 'enabled'");
    }
  }
  if (options.reasoning_effort && !effort.empty()) {
    out["reasoning_effort"] = effort;
  }
  return true;
}

/// `output_config.format` (structured outputs, https://docs.anthropic.com/en/docs/
/// build-with-claude/structured-outputs) `{type: json_schema, schema}` -> OpenAI's
/// `response_format: {type: json_schema, json_schema: {name: "output", schema, strict: true}}`.
/// The rest of output_config tunes the answer only (effort: see convert_thinking).
bool convert_output_format(const json::object& body, json::object& out, std::string& error) {
  const json::value* oc = member(body, "output_config");
  if (oc == nullptr) {
    return true;
  }
  if (!oc->is_object()) {
    return expected(error, "output_config", "a valid dictionary");
  }
  const json::object* format = object_member(oc->get_object(), "format");
  if (format == nullptr) {
    return true;
  }
  if (const std::string_view type = string_member(*format, "type"); type != "json_schema") {
    return unknown_tag(error, "output_config.format", type, "'json_schema'");
  }
  const json::value* schema = member(*format, "schema");
  if (schema == nullptr || !schema->is_object()) {
    return schema == nullptr ? required(error, "output_config.format.schema")
                             : expected(error, "output_config.format.schema", "a valid dictionary");
  }
  out["response_format"] = json::object{
      {"type", "json_schema"},
      {"json_schema", json::object{{"name", "output"}, {"schema", *schema}, {"strict", true}}}};
  return true;
}

// ---- options -------------------------------------------------------------------------------

/// `stop_sequences`, `stream`, `tools`, `tool_choice` and `metadata.user_id` into `out`;
/// `temperature` and `top_p` into `sampling`. Checked in that order (stop_sequences, sampling,
/// then the rest), so the first error reported stays the same.
bool convert_options(const json::object& body, json::object& out, std::string& tools_text,
                     std::size_t tools_room, SamplingText& sampling, std::string& error) {
  if (const json::value* stop = member(body, "stop_sequences")) {
    const json::array* list = stop->if_array();
    if (list == nullptr) {
      return expected(error, "stop_sequences", "a valid list");
    }
    for (std::size_t k = 0; k < list->size(); ++k) {
      if (!(*list)[k].is_string()) {
        const Path stop_sequences = "stop_sequences";
        return expected(error, at(stop_sequences, k), "a valid string");
      }
    }
    if (!list->empty()) {
      out["stop"] = *list;
    }
  }
  if (!read_sampling(body, sampling, error)) {
    return false;
  }
  if (const json::value* s = member(body, "stream")) {
    if (!s->is_bool()) {
      return expected(error, "stream", "a valid boolean");
    }
    if (s->get_bool()) {
      out["stream"] = true;
      out["stream_options"] = json::object{{"include_usage", true}};
    }
  }
  std::vector<std::string> names;
  if (const json::value* tools = member(body, "tools")) {
    tools_text.reserve(tools_room);
    if (!convert_tools(*tools, tools_text, names, error)) {
      return false;
    }
    if (!tools_text.empty()) {
      out["tools"] = nullptr;  // its place: the text is tools_text
    }
  }
  if (const json::value* choice = member(body, "tool_choice")) {
    if (!convert_tool_choice(*choice, names, out, error)) {
      return false;
    }
  }
  if (const json::value* meta = member(body, "metadata")) {
    if (!meta->is_object()) {
      return expected(error, "metadata", "a valid dictionary");
    }
    if (const std::string_view user = string_member(meta->get_object(), "user_id"); !user.empty()) {
      out["user"] = user;
    }
  }
  return true;
}

/// `model` and `max_tokens` (clamped to the cap), as Anthropic validates them. A count_tokens
/// body has no max_tokens (`counting`): then it is 1.
bool read_head(const json::object& body, const AnthropicInboundOptions& options, bool counting,
               std::string_view& model, std::int64_t& max_tokens, std::string& error) {
  if (!string_at(member(body, "model"), "model", model, error)) {
    return false;
  }
  if (model.empty()) {
    return fail(error, "model: String should have at least 1 character");
  }
  const json::value* m = member(body, "max_tokens");
  if (counting) {
    max_tokens = 1;
    return true;
  }
  if (m == nullptr) {
    return required(error, "max_tokens");
  }
  if (!m->is_int64() && !m->is_uint64() && !(m->is_double() && positive_integer(*m))) {
    return expected(error, "max_tokens", "a valid integer");
  }
  const std::optional<std::int64_t> max = positive_integer(*m);
  if (!max) {
    return expected(error, "max_tokens", "greater than or equal to 1");
  }
  max_tokens = *max;
  if (options.max_tokens_cap != 0 &&
      static_cast<std::uint64_t>(max_tokens) > options.max_tokens_cap) {
    max_tokens = static_cast<std::int64_t>(options.max_tokens_cap);
  }
  return true;
}

}  // namespace sb::adapters::anthropic_inbound
