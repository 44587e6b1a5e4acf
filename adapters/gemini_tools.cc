// OpenAI tools and tool_choice → Gemini function declarations (OpenAPI-subset schemas) and
// FunctionCallingConfig, for gemini_request.cc.

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "adapters/gemini_internal.h"
#include "adapters/openai_shapes.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"
#include "adapters/usage.h"

namespace sb::adapters::gemini_detail {
namespace json = boost::json;

namespace {

// ---- request: schemas -------------------------------------------------------------------------

/// The fields of Gemini's `Schema` (an OpenAPI 3.0 subset); anything else is rejected upstream
/// with "Invalid JSON payload received. Unknown name". https://ai.google.dev/api/caching#Schema
constexpr std::array<std::string_view, 22> kGeminiSchemaFields = {
    "type",      "format",    "title",      "description", "nullable",      "enum",
    "maxItems",  "minItems",  "properties", "required",    "minProperties", "maxProperties",
    "minLength", "maxLength", "pattern",    "example",     "anyOf",         "propertyOrdering",
    "default",   "items",     "minimum",    "maximum"};

bool gemini_schema_field(std::string_view key) {
  return std::find(kGeminiSchemaFields.begin(), kGeminiSchemaFields.end(), key) !=
         kGeminiSchemaFields.end();
}

/// True for an object schema that declares no properties: Gemini rejects those as function
/// parameters ("properties: should be non-empty for OBJECT type"), and a function without
/// parameters is declared by leaving `parameters` out.
bool empty_object_schema(const json::value& schema) {
  const json::object* o = schema.if_object();
  if (o == nullptr) {
    return true;
  }
  const json::object* props = object_of(o->if_contains("properties"));
  return (props == nullptr || props->empty()) && !o->contains("anyOf");
}

// ---- request: tools ---------------------------------------------------------------------------

/// A function declaration `{name, description, parameters}`, the parameters reduced to Gemini's
/// Schema; an object schema without properties is left out (see empty_object_schema).
/// https://ai.google.dev/api/caching#FunctionDeclaration
bool function_declaration(std::string_view name, std::string_view description,
                          const json::value* params, json::array& decls,
                          const RequestFailure& fail) {
  if (name.empty()) {
    return fail("tool function without a name");
  }
  json::object decl{{"name", name}};
  if (!description.empty()) {
    decl["description"] = description;
  }
  if (params != nullptr && !empty_object_schema(*params)) {
    decl["parameters"] = gemini_schema(*params);
  }
  decls.push_back(std::move(decl));
  return true;
}

/// An OpenAI function object (a legacy `functions` entry, a tool's `function`) as a function
/// declaration.
bool function_declaration(const json::object* fn, json::array& decls, const RequestFailure& fail) {
  return function_declaration(string_of(member_of(fn, "name")),
                              string_of(member_of(fn, "description")), member_of(fn, "parameters"),
                              decls, fail);
}

/// An `allowed_tools` choice: in required mode the names go to allowedFunctionNames; in auto mode
/// `allowed` gets them, to restrict the declarations sent.
bool allowed_tools_config(const json::object& o, json::object& config,
                          std::vector<std::string>& allowed, const RequestFailure& fail) {
  const json::object* at = object_of(o.if_contains("allowed_tools"));
  const std::string_view mode = string_of(member_of(at, "mode"));
  json::array names;
  if (const json::array* tools = array_of(member_of(at, "tools"))) {
    for (const json::value& t : *tools) {
      const std::string_view n =
          string_of(member_of(object_of(member_of(t.if_object(), "function")), "name"));
      if (!n.empty()) {
        names.push_back(json::string(n));
        allowed.emplace_back(n);
      }
    }
  }
  if (mode == "required") {
    // Gemini takes allowedFunctionNames only in ANY mode.
    config["mode"] = "ANY";
    config["allowedFunctionNames"] = std::move(names);
    allowed.clear();
  } else if (mode == "auto" || mode.empty()) {
    config["mode"] = "AUTO";
  } else {
    return fail("allowed_tools mode '" + std::string(mode) + "' is not supported");
  }
  return true;
}

/// Reads tool_choice (or legacy function_call) into Gemini's FunctionCallingConfig; `allowed`
/// gets the names an `allowed_tools` choice in auto mode restricts the declarations to.
/// https://ai.google.dev/api/caching#FunctionCallingConfig
bool function_calling_config(const std::optional<ToolChoice>& choice, json::object& config,
                             std::vector<std::string>& allowed, const RequestFailure& fail) {
  using Kind = ToolChoice::Kind;
  if (!choice) {
    return true;
  }
  if (choice->is_string) {
    if (choice->kind == Kind::automatic) {
      config["mode"] = "AUTO";
    } else if (choice->kind == Kind::none) {
      config["mode"] = "NONE";
    } else if (choice->kind == Kind::required) {
      config["mode"] = "ANY";
    } else {
      return fail("tool_choice '" + std::string(choice->text) + "' is not supported");
    }
    return true;
  }
  if (choice->object == nullptr) {
    return fail("tool_choice must be a string or an object");
  }
  if (choice->kind == Kind::allowed_tools) {
    return allowed_tools_config(*choice->object, config, allowed, fail);
  }
  // {"type":"function","function":{"name":...}}, or the legacy function_call {"name":...}.
  if (choice->kind != Kind::function) {
    return fail("tool_choice must name a function");
  }
  config["mode"] = "ANY";
  config["allowedFunctionNames"] = json::array{json::string(choice->name)};
  return true;
}

/// `tools[{functionDeclarations}]` from the declarations read (those an auto-mode
/// `allowed_tools` choice names, when it names some), plus `toolConfig` from the tool choice.
bool declare_tools(json::array decls, const std::optional<ToolChoice>& choice, json::object& out,
                   const RequestFailure& fail) {
  json::object config;
  std::vector<std::string> allowed;
  if (!function_calling_config(choice, config, allowed, fail)) {
    return false;
  }
  if (decls.empty()) {
    return true;  // nothing to call: a tool_choice alone means nothing to Gemini
  }
  if (!allowed.empty()) {
    // Sorted, so that many tools and many allowed names cost a search each, not their product.
    std::sort(allowed.begin(), allowed.end());
    json::array kept;
    for (json::value& d : decls) {
      const std::string_view n = string_of(d.as_object().if_contains("name"));
      if (std::binary_search(allowed.begin(), allowed.end(), n, std::less<>())) {
        kept.push_back(std::move(d));
      }
    }
    decls = std::move(kept);
  }
  out["tools"] = json::array{json::object{{"functionDeclarations", std::move(decls)}}};
  if (!config.empty()) {
    out["toolConfig"] = json::object{{"functionCallingConfig", std::move(config)}};
  }
  return true;
}

}  // namespace

/// A JSON Schema reduced to what Gemini's Schema accepts (see gemini.h for what is dropped).
json::value gemini_schema(const json::value& v) {
  const json::object* in = v.if_object();
  if (in == nullptr) {
    return v;
  }
  json::object out;
  for (const auto& kv : *in) {
    const std::string_view key = kv.key();
    const json::value& value = kv.value();
    if (key == "properties" && value.is_object()) {
      json::object props;
      for (const auto& p : value.get_object()) {
        props[p.key()] = gemini_schema(p.value());  // keys here are property names, kept
      }
      out["properties"] = std::move(props);
    } else if (key == "items") {
      out["items"] = gemini_schema(value);
    } else if (key == "anyOf" && value.is_array()) {
      json::array alts;
      for (const json::value& a : value.get_array()) {
        alts.push_back(gemini_schema(a));
      }
      out["anyOf"] = std::move(alts);
    } else if (key == "type" && value.is_array()) {
      // JSON Schema's ["string", "null"] is OpenAPI's type + nullable.
      json::array types;
      for (const json::value& t : value.get_array()) {
        if (string_of(&t) == "null") {
          out["nullable"] = true;
        } else {
          types.push_back(t);
        }
      }
      if (types.size() == 1) {
        out["type"] = types.front();
      } else if (types.size() > 1) {
        json::array alts;
        for (const json::value& t : types) {
          alts.push_back(json::object{{"type", t}});
        }
        out["anyOf"] = std::move(alts);
      }
    } else if (key == "const" && !in->contains("enum")) {
      out["enum"] = json::array{value};
    } else if (gemini_schema_field(key)) {
      out[key] = value;
    }
  }
  return out;
}

bool translate_tools(const ChatRequest& r, json::object& out, const RequestFailure& fail) {
  json::array decls;
  for (const ChatTool& t : r.tools) {
    if (t.type != "function") {
      return fail("only function tools are supported by Gemini");
    }
    const json::value params = json_of(t.parameters);  // null when absent
    if (!function_declaration(t.name, t.description, &params, decls, fail)) {
      return false;
    }
  }
  if (const json::value fns = json_of(r.raw("functions")); fns.is_array()) {
    for (const json::value& f : fns.get_array()) {
      if (!function_declaration(f.if_object(), decls, fail)) {
        return false;
      }
    }
  }
  json::object holder;  // the tool_choice (or function_call) the choice read points into
  return declare_tools(std::move(decls), tool_choice_of(r, true, holder), out, fail);
}

}  // namespace sb::adapters::gemini_detail
