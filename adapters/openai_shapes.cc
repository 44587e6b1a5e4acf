#include "adapters/openai_shapes.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json.hpp>

#include "adapters/json_edit.h"
#include "adapters/sse.h"
#include "adapters/translate_common.h"

namespace sb::adapters {

namespace json = boost::json;

// ---- JSON readers ----------------------------------------------------------------------------

std::string_view string_of(const json::value* v) {
  if (v != nullptr) {
    if (const json::string* s = v->if_string()) {
      return *s;
    }
  }
  return {};
}

const json::object* object_of(const json::value* v) {
  return v != nullptr ? v->if_object() : nullptr;
}

const json::array* array_of(const json::value* v) {
  return v != nullptr ? v->if_array() : nullptr;
}

const json::value* member_of(const json::object* o, std::string_view key) {
  return o != nullptr ? o->if_contains(key) : nullptr;
}

bool is_number(const json::value* v) {
  return v != nullptr && (v->is_int64() || v->is_uint64() || v->is_double());
}

bool is_true(const json::value* v) {
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::int64_t count_of(const json::value* v) {
  if (v != nullptr) {
    if (const auto* i = v->if_int64()) {
      return *i > 0 ? *i : 0;
    }
    if (const auto* u = v->if_uint64()) {
      return *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                 ? static_cast<std::int64_t>(*u)
                 : 0;
    }
  }
  return 0;
}

std::optional<std::int64_t> int64_member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (const auto* i = v->if_int64()) {
    return *i;
  }
  if (const auto* u = v->if_uint64();
      u != nullptr && *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(*u);
  }
  return std::nullopt;
}

std::optional<std::int64_t> count_member(const json::object& o, std::string_view key) {
  const std::optional<std::int64_t> n = int64_member(o, key);
  return n && *n >= 0 ? n : std::nullopt;
}

const json::value* member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

std::string_view string_member(const json::object& o, std::string_view key) {
  return string_of(o.if_contains(key));
}

const json::object* object_member(const json::object& o, std::string_view key) {
  return object_of(o.if_contains(key));
}

const json::array* array_member(const json::object& o, std::string_view key) {
  return array_of(o.if_contains(key));
}

std::string_view view(const json::string& s) {
  return {s.data(), s.size()};
}

std::optional<std::int64_t> positive_integer(const json::value& v) {
  if (const auto* i = v.if_int64()) {
    return *i > 0 ? std::optional<std::int64_t>(*i) : std::nullopt;
  }
  if (const auto* u = v.if_uint64()) {
    return *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::optional<std::int64_t>(static_cast<std::int64_t>(*u))
               : std::nullopt;
  }
  if (const auto* d = v.if_double()) {
    if (*d >= 1 && *d <= 9.0e15 && static_cast<double>(static_cast<std::int64_t>(*d)) == *d) {
      return static_cast<std::int64_t>(*d);
    }
  }
  return std::nullopt;
}

bool number_text(const json::object& body, std::string_view key, std::string& out,
                 std::string& error) {
  const json::value* v = member(body, key);
  if (v == nullptr) {
    return true;
  }
  std::optional<std::string> text = json_number_text(*v);
  if (!text) {
    error =
        std::string(key) + (v->is_number() ? ": must be a finite number" : ": must be a number");
    return false;
  }
  out = std::move(*text);
  return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// ---- reading OpenAI requests -------------------------------------------------------------------

bool RequestFailure::operator()(std::string message) const {
  error.status = 400;
  error.message = std::move(message);
  return false;
}

std::string_view image_url_of(const json::object& part) {
  const json::value* iu = part.if_contains("image_url");
  const std::string_view url = string_of(iu);
  return url.empty() ? string_of(member_of(object_of(iu), "url")) : url;
}

std::string_view tool_name_for(const json::array& messages, std::size_t before,
                               std::string_view id) {
  for (std::size_t i = before; i-- > 0;) {
    const json::object* m = messages[i].if_object();
    if (m == nullptr || string_of(m->if_contains("role")) != "assistant") {
      continue;
    }
    const json::array* calls = array_of(m->if_contains("tool_calls"));
    if (calls == nullptr) {
      continue;
    }
    for (const json::value& c : *calls) {
      const json::object* co = c.if_object();
      if (co != nullptr && string_of(co->if_contains("id")) == id) {
        return string_of(member_of(object_of(co->if_contains("function")), "name"));
      }
    }
  }
  return {};
}

std::optional<json::value> parse_request_json(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = 128;  // the gateway's, as the body was read
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    return std::nullopt;
  }
  return v;
}

std::optional<json::value> tool_arguments_object(std::string_view arguments) {
  if (arguments.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return json::value(json::object{});
  }
  boost::system::error_code ec;
  json::value args = json::parse(arguments, ec);
  if (ec || !args.is_object()) {
    return std::nullopt;
  }
  return args;
}

bool function_call_of(const json::object* fn, std::string_view provider, const RequestFailure& fail,
                      std::string_view& name, json::value& arguments) {
  name = string_of(member_of(fn, "name"));
  if (name.empty()) {
    return fail("assistant tool call without a function name");
  }
  std::optional<json::value> args = tool_arguments_object(string_of(member_of(fn, "arguments")));
  if (!args) {
    return fail("tool call arguments of '" + std::string(name) + "' must be a JSON object for " +
                std::string(provider));
  }
  arguments = std::move(*args);
  return true;
}

std::string tool_call_id_prefix(std::string_view completion_id) {
  constexpr std::string_view kChatcmplPrefix = "chatcmpl-";
  if (completion_id.starts_with(kChatcmplPrefix)) {
    completion_id.remove_prefix(kChatcmplPrefix.size());
  }
  return "call_" + std::string(completion_id) + "_";
}

std::optional<std::string> delta_seconds(std::string_view v, std::size_t max_digits) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  if (v.empty() || v.size() > max_digits) {
    return std::nullopt;
  }
  for (const char c : v) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  return std::string(v);
}

// ---- OpenAI errors ---------------------------------------------------------------------------

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  // quote() escapes as Boost.JSON's serializer does, so these bytes equal a serialized DOM.
  std::string body = "{\"error\":{\"message\":" + quote(message) + ",\"type\":" + quote(type) +
                     ",\"param\":null,\"code\":";
  body += code.empty() ? std::string("null") : quote(code);
  body += "}}";
  return body;
}

std::string_view error_type_for(unsigned status) {
  static constexpr StatusMapping kTypes[] = {
      {401, "authentication_error"}, {403, "permission_error"}, {404, "not_found_error"},
      {408, "timeout_error"},        {504, "timeout_error"},    {429, "rate_limit_error"},
  };
  return map_status(kTypes, status, status < 500 ? "invalid_request_error" : "api_error");
}

bool retryable_status(unsigned status) {
  return status == 408 || status == 429 || status >= 500;
}

TranslatedResponse bad_upstream(std::string_view message) {
  TranslatedResponse r;
  r.status = 502;
  r.retryable = true;
  r.body = error_body(message, "api_error", "upstream_error");
  return r;
}

TranslatedResponse unreadable_upstream(std::string_view why) {
  return bad_upstream("upstream provider sent an unreadable response: " + std::string(why));
}

// ---- OpenAI answers --------------------------------------------------------------------------

json::object usage_object(const Usage& u) {
  return json::object{
      {"prompt_tokens", u.input},
      {"completion_tokens", u.output},
      {"total_tokens", u.input + u.output},
      {"prompt_tokens_details", json::object{{"cached_tokens", u.cached_input}}},
      {"completion_tokens_details", json::object{{"reasoning_tokens", u.reasoning}}}};
}

std::string usage_json(const Usage& u) {
  return json::serialize(usage_object(u));
}

json::object tool_call_object(std::string_view id, std::string_view name, std::string arguments) {
  return json::object{
      {"id", id},
      {"type", "function"},
      {"function", json::object{{"name", name}, {"arguments", std::move(arguments)}}}};
}

json::object assistant_message(json::value content, json::array tool_calls) {
  json::object message{{"role", "assistant"}};
  message["content"] = std::move(content);
  message["refusal"] = nullptr;
  if (!tool_calls.empty()) {
    message["tool_calls"] = std::move(tool_calls);
  }
  return message;
}

json::object completion_choice(std::size_t index, json::object message,
                               std::string_view finish_reason) {
  return json::object{{"index", index},
                      {"message", std::move(message)},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason}};
}

json::object completion_object(std::string_view id, std::int64_t created, std::string_view model,
                               json::array choices) {
  return json::object{{"id", id},
                      {"object", "chat.completion"},
                      {"created", created},
                      {"model", model},
                      {"choices", std::move(choices)}};
}

// ---- OpenAI streams --------------------------------------------------------------------------

std::string content_delta(std::string_view text) {
  return "{\"content\":" + quote(text) + "}";
}

std::string whole_tool_call_delta(std::size_t index, json::object& call) {
  json::object delta_call{{"index", index},
                          {"id", std::move(call["id"])},
                          {"type", "function"},
                          {"function", std::move(call["function"])}};
  return json::serialize(json::object{{"tool_calls", json::array{std::move(delta_call)}}});
}

void ChunkWriter::identify(std::string_view id, std::int64_t created, std::string_view model) {
  prefix_ = "{\"id\":" + quote(id) +
            ",\"object\":\"chat.completion.chunk\",\"created\":" + std::to_string(created) +
            ",\"model\":" + quote(model);
}

void ChunkWriter::choice(std::string& out, std::size_t index, std::string_view delta,
                         std::string_view finish_reason) {
  scratch_.assign(prefix_);
  scratch_ += R"(,"choices":[{"index":)";
  scratch_ += std::to_string(index);
  scratch_ += R"(,"delta":)";
  scratch_ += delta;
  scratch_ += R"(,"logprobs":null,"finish_reason":)";
  scratch_ += finish_reason.empty() ? std::string("null") : quote(finish_reason);
  scratch_ += "}]";
  if (include_usage_) {
    scratch_ += R"(,"usage":null)";  // as OpenAI: null on every chunk but the usage chunk
  }
  scratch_ += '}';
  append_sse(out, scratch_);
}

void ChunkWriter::usage(std::string& out, const Usage& u) const {
  append_sse(out, prefix_ + R"(,"choices":[],"usage":)" + usage_json(u) + "}");
}

void ChunkWriter::done(std::string& out) {
  append_sse(out, "[DONE]");
}

bool IdentifiedStream::fail(unsigned status, std::string message, std::string& out) {
  append_sse(out, error_body(message, "api_error", "upstream_error"));
  error_ = TranslateError{status, std::move(message)};
  return false;
}

}  // namespace sb::adapters
