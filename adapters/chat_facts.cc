#include "adapters/chat_facts.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

namespace sb::adapters {
namespace {

namespace json = boost::json;

// Per-message token overhead OpenAI documents for chat formatting (role, separators).
constexpr std::uint64_t kTokensPerMessage = 4;

void add(ChatFacts& f, const json::value* v) {
  if (v != nullptr && v->is_string()) {
    const json::string& s = v->get_string();
    if (!s.empty()) {
      f.texts.emplace_back(s.data(), s.size());
      f.text_bytes += s.size();
    }
  }
}

// A message's "content": a string, or an array of parts ({type: text, text}, {type: image_url},
// {type: input_audio}, ...). Tool results use the same shapes.
void add_content(ChatFacts& f, const json::value* content) {
  if (content == nullptr) {
    return;
  }
  if (content->is_string()) {
    add(f, content);
    return;
  }
  if (!content->is_array()) {
    return;
  }
  for (const json::value& part : content->get_array()) {
    if (part.is_string()) {
      add(f, &part);
      continue;
    }
    if (!part.is_object()) {
      continue;
    }
    const json::object& p = part.get_object();
    add(f, p.if_contains("text"));
    add(f, p.if_contains("refusal"));
    if (const auto* type = p.if_contains("type"); type != nullptr && type->is_string()) {
      const json::string& t = type->get_string();
      if (t == "image_url" || t == "input_image" || t == "image") {
        f.images = true;
      }
    }
  }
}

void add_tool_calls(ChatFacts& f, const json::value* calls) {
  if (calls == nullptr || !calls->is_array()) {
    return;
  }
  for (const json::value& call : calls->get_array()) {
    if (!call.is_object()) {
      continue;
    }
    if (const auto* fn = call.get_object().if_contains("function"); fn && fn->is_object()) {
      add(f, fn->get_object().if_contains("name"));
      add(f, fn->get_object().if_contains("arguments"));
    }
  }
}

void add_function_decl(ChatFacts& f, const json::value& decl) {
  if (!decl.is_object()) {
    return;
  }
  const json::object& d = decl.get_object();
  add(f, d.if_contains("name"));
  add(f, d.if_contains("description"));
}

void reset(ChatFacts& out) {
  out.texts.clear();
  out.text_bytes = 0;
  out.estimated_prompt_tokens = 0;
  out.max_tokens.reset();
  out.tools = false;
  out.images = false;
  out.json_schema = false;
  out.depth = 0;
  out.reasoning_effort = {};
}

// A string, or an array whose string elements are texts (numbers and nested token arrays are
// token ids, not text).
void add_strings(ChatFacts& f, const json::value* v) {
  if (v == nullptr) {
    return;
  }
  if (v->is_string()) {
    add(f, v);
  } else if (v->is_array()) {
    for (const json::value& item : v->get_array()) {
      add(f, &item);
    }
  }
}

void read_max_tokens(const json::object& body, ChatFacts& out) {
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (const auto* mt = body.if_contains(key); mt != nullptr && !out.max_tokens) {
      if (mt->is_uint64()) {
        out.max_tokens = mt->get_uint64();
      } else if (mt->is_int64() && mt->get_int64() >= 0) {
        out.max_tokens = static_cast<std::uint64_t>(mt->get_int64());
      }
    }
  }
}

}  // namespace

void collect_completion_facts(const json::object& body, ChatFacts& out) {
  reset(out);
  add_strings(out, body.if_contains("prompt"));
  add(out, body.if_contains("suffix"));
  read_max_tokens(body, out);
  out.depth = 1;
  out.estimated_prompt_tokens = (out.text_bytes + 3) / 4;
}

void collect_embedding_facts(const json::object& body, ChatFacts& out) {
  reset(out);
  add_strings(out, body.if_contains("input"));
  out.max_tokens = 0;
  out.depth = 1;
  out.estimated_prompt_tokens = (out.text_bytes + 3) / 4;
}

void collect_chat_facts(const json::object& body, ChatFacts& out) {
  reset(out);

  if (const auto* messages = body.if_contains("messages"); messages && messages->is_array()) {
    out.depth = messages->get_array().size();
    for (const json::value& m : messages->get_array()) {
      if (!m.is_object()) {
        continue;
      }
      const json::object& msg = m.get_object();
      add_content(out, msg.if_contains("content"));
      add(out, msg.if_contains("name"));
      add(out, msg.if_contains("refusal"));
      add_tool_calls(out, msg.if_contains("tool_calls"));
      if (const auto* fc = msg.if_contains("function_call"); fc && fc->is_object()) {
        add(out, fc->get_object().if_contains("name"));
        add(out, fc->get_object().if_contains("arguments"));
      }
    }
  }
  if (const auto* tools = body.if_contains("tools"); tools && tools->is_array()) {
    out.tools = !tools->get_array().empty();
    for (const json::value& t : tools->get_array()) {
      if (t.is_object()) {
        if (const auto* fn = t.get_object().if_contains("function")) {
          add_function_decl(out, *fn);
        }
      }
    }
  }
  if (const auto* fns = body.if_contains("functions"); fns && fns->is_array()) {
    out.tools = out.tools || !fns->get_array().empty();
    for (const json::value& fn : fns->get_array()) {
      add_function_decl(out, fn);
    }
  }
  if (const auto* rf = body.if_contains("response_format"); rf && rf->is_object()) {
    if (const auto* type = rf->get_object().if_contains("type"); type && type->is_string()) {
      out.json_schema = type->get_string() == "json_schema";
    }
  }
  read_max_tokens(body, out);
  if (const auto* re = body.if_contains("reasoning_effort"); re && re->is_string()) {
    out.reasoning_effort = std::string_view(re->get_string().data(), re->get_string().size());
  }
  // About four bytes of English per token; images and audio are not estimated.
  out.estimated_prompt_tokens = (out.text_bytes + 3) / 4 + kTokensPerMessage * out.depth;
}

}  // namespace sb::adapters
