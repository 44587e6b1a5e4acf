#include "adapters/engines.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "adapters/json_edit.h"

namespace sb::adapters {
namespace {

constexpr std::size_t npos = std::string_view::npos;

// One row per engine, in Engine's order. Beside each row, where the engine documents what it
// says.
constexpr std::array<EngineProfile, 7> kProfiles{{
    // OpenAI: no health endpoint; reads max_completion_tokens (o-series models refuse
    // max_tokens); sends the usage chunk on include_usage.
    // https://platform.openai.com/docs/api-reference/chat/create
    {Engine::openai, "openai", "", HealthAnswer::none, true, true, false, ModelNaming::served_name,
     ""},
    // vLLM: GET /health answers 200 once the engine is up; ChatCompletionRequest reads both
    // max_tokens and max_completion_tokens and honours stream_options, but refuses it unless
    // stream is true ("Stream options can only be defined when `stream=True`"); "model" must
    // be a --served-model-name.
    // https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
    {Engine::vllm, "vllm", "/health", HealthAnswer::status_200, true, true, true,
     ModelNaming::served_name, ""},
    // llama.cpp server: GET /health is 503 {"error":{"code":503,"message":"Loading model"}}
    // while loading, 200 {"status":"ok"} when ready; n_predict is read from "n_predict" or
    // "max_tokens" only; stream_options.include_usage is read; one model per server, "model"
    // ignored (router mode aside).
    // https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md (GET /health)
    {Engine::llamacpp, "llamacpp", "/health", HealthAnswer::status_200_ok, true, false, false,
     ModelNaming::ignored, ""},
    // Ollama /v1: GET / answers 200 "Ollama is running"; ChatCompletionRequest has max_tokens
    // and stream_options (include_usage) but no max_completion_tokens (Go ignores the unknown
    // member); "model" is a pulled model tag.
    // https://github.com/ollama/ollama/blob/main/docs/openai.md
    {Engine::ollama, "ollama", "/", HealthAnswer::status_200, true, false, false,
     ModelNaming::served_name, ""},
    // TGI Messages API: GET /health is 200 when the model answers; "model" is unused (send
    // "tgi"); max_tokens only; stream_options is not documented, so usage is estimated unless
    // a usage chunk arrives.
    // https://huggingface.co/docs/text-generation-inference/messages_api
    // https://huggingface.github.io/text-generation-inference/ (GET /health)
    {Engine::tgi, "tgi", "/health", HealthAnswer::status_200, false, false, false,
     ModelNaming::ignored, "tgi"},
    // SGLang: GET /health is 200 when the server is up (/health_generate also runs a decode);
    // ChatCompletionRequest reads max_completion_tokens and stream_options.include_usage.
    // https://docs.sglang.ai/basic_usage/openai_api_completions.html
    // https://docs.sglang.ai/advanced_features/server_arguments.html
    {Engine::sglang, "sglang", "/health", HealthAnswer::status_200, true, true, false,
     ModelNaming::served_name, ""},
    // Anything else that claims OpenAI compatibility: no assumption beyond the wire format, no
    // body rewrite (renaming could break an engine that reads only max_completion_tokens), no
    // reliance on the usage chunk.
    {Engine::generic, "generic", "", HealthAnswer::none, false, true, false,
     ModelNaming::served_name, ""},
}};

}  // namespace

const EngineProfile& engine_profile(Engine engine) {
  for (const EngineProfile& p : kProfiles) {
    if (p.engine == engine) {
      return p;
    }
  }
  return kProfiles.back();  // unreachable for a valid enumerator
}

bool engine_member_edits(const EngineProfile& profile, std::string_view text,
                         std::span<const JsonMember> members, std::optional<bool> stream,
                         std::vector<MemberEdit>& edits) {
  const bool rename_mct = !profile.reads_max_completion_tokens;
  // stream_options only matter on a request that does not stream (or is not known to).
  const bool drop_so = profile.rejects_stream_options_without_stream && stream != true;
  edits.assign(members.size(), MemberEdit::keep);
  if (!rename_mct && !drop_so) {
    return false;  // the common case: nothing to look at
  }
  std::size_t last_mct = npos;
  bool streams = stream.value_or(false);
  for (std::size_t k = 0; k < members.size(); ++k) {
    const JsonMember& m = members[k];
    if (m.key == "max_completion_tokens") {
      last_mct = k;
    } else if (!stream && m.key == "stream") {
      // The last occurrence wins, as in the parsers upstream.
      streams = raw_value(text, m) == "true";
    }
  }
  bool changed = false;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const std::string& key = members[k].key;
    if (rename_mct && last_mct != npos && (key == "max_tokens" || key == "max_completion_tokens")) {
      edits[k] = k == last_mct ? MemberEdit::rename_to_max_tokens : MemberEdit::drop;
      changed = true;
    } else if (drop_so && !streams && key == "stream_options") {
      edits[k] = MemberEdit::drop;
      changed = true;
    }
  }
  return changed;
}

std::string adapt_chat_body(const EngineProfile& profile, std::string body,
                            std::optional<bool> stream) {
  if (profile.reads_max_completion_tokens && !profile.rejects_stream_options_without_stream) {
    return body;  // the common case: nothing to look at
  }
  // One scan of the top level (strings skipped sixteen bytes at a time), not a text search: a
  // search for "stream_options" stops at every 's' of a conversation.
  std::vector<JsonMember> members;
  std::vector<MemberEdit> actions;
  if (!scan_object(body, members) ||
      !engine_member_edits(profile, body, members, stream, actions)) {
    return body;
  }
  const std::string_view text = body;
  // Rebuild from the original bytes: the opening, each kept member preceded by the separator
  // that preceded it (a plain comma when the member before it was dropped), then the rest.
  std::string out;
  out.reserve(body.size());
  out.append(text.substr(0, members.front().begin));
  bool any = false;
  std::size_t prev_end = npos;  // value_end of the previous kept member
  for (std::size_t k = 0; k < members.size(); ++k) {
    const JsonMember& m = members[k];
    if (actions[k] == MemberEdit::drop) {
      continue;
    }
    if (any) {
      const std::size_t sep_begin = members[k - 1].value_end;
      if (prev_end == sep_begin) {
        out.append(text.substr(sep_begin, m.begin - sep_begin));
      } else {
        out.push_back(',');
      }
    }
    any = true;
    if (actions[k] == MemberEdit::rename_to_max_tokens) {
      out.append("\"max_tokens\":");
      out.append(raw_value(text, m));
    } else {
      out.append(text.substr(m.begin, m.value_end - m.begin));
    }
    prev_end = m.value_end;
  }
  // After the last member (kept or not): trailing whitespace and the closing brace.
  out.append(text.substr(members.back().value_end));
  return out;
}

bool engine_healthy(const EngineProfile& profile, unsigned status, std::string_view body) {
  switch (profile.health) {
    case HealthAnswer::none:
      return true;
    case HealthAnswer::status_200:
      return status == 200;
    case HealthAnswer::status_200_ok: {
      if (status != 200) {
        return false;  // llama.cpp answers 503 while the model is loading
      }
      boost::system::error_code ec;
      const boost::json::value v = boost::json::parse(body, ec);
      const boost::json::object* o = ec ? nullptr : v.if_object();
      const boost::json::value* s = o != nullptr ? o->if_contains("status") : nullptr;
      return s != nullptr && s->is_string() && s->get_string() == "ok";
    }
  }
  return false;
}

}  // namespace sb::adapters
