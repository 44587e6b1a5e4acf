// libFuzzer target: every provider translator's request side, from hostile client bodies. The
// bytes are a client's OpenAI chat request; each translator (Anthropic, Gemini, Bedrock, Ollama,
// Azure OpenAI) builds its upstream request from the typed reading (request_from) and from the
// text (request).
//
// Oracles: it never crashes (ASan, UBSan); a translated body is JSON; a refusal of a configured
// backend is a 400 with a message; and the two entries agree: the same request (target, headers,
// body, stream) or the same refusal, for every body the typed reading accepts.

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "adapters/anthropic.h"
#include "adapters/azure.h"
#include "adapters/bedrock.h"
#include "adapters/canonical.h"
#include "adapters/gemini.h"
#include "adapters/ollama.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using namespace sb::adapters;
using sb::fuzz::check;

constexpr std::int64_t kCreated = 1700000000;

BackendSpec spec_for(std::string_view provider) {
  BackendSpec s;
  s.base_path = provider == "gemini" ? "/v1beta" : "/v1";
  s.host = "upstream.example";
  s.model = provider == "bedrock" ? "anthropic.claude-3-5-sonnet-20240620-v1:0" : "fuzz-model";
  s.api_key = "key-id";
  s.api_version = provider == "azure" ? "2024-10-21" : "";
  s.region = "us-east-1";
  s.secret_key = "secret";
  return s;
}

void check_json(std::string_view body) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 256;
  (void)boost::json::parse(body, ec, {}, opts);
  check(!ec);
}

void translate(const ChatTranslator& t, std::string_view provider, std::string_view text,
               const ChatRequest& typed) {
  const BackendSpec spec = spec_for(provider);
  const Result<UpstreamRequest, TranslateError> from_typed = t.request_from(typed, spec);
  const Result<UpstreamRequest, TranslateError> from_text = t.request(text, spec);
  check(static_cast<bool>(from_typed) == static_cast<bool>(from_text));
  if (!from_typed) {
    check(from_typed.error().status == 400 && !from_typed.error().message.empty());
    check(from_typed.error().message == from_text.error().message);
    return;
  }
  check_json(from_typed->body);
  check(from_typed->body == from_text->body && from_typed->target == from_text->target &&
        from_typed->headers == from_text->headers && from_typed->stream == from_text->stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Result<ChatRequest, ParseError> typed = parse_chat_request(text, {}, false);
  if (!typed) {
    return 0;
  }
  translate(AnthropicTranslator(kCreated), "anthropic", text, *typed);
  translate(GeminiTranslator(kCreated, "chatcmpl-fuzz"), "gemini", text, *typed);
  translate(BedrockTranslator(kCreated, "20240101T000000Z", "chatcmpl-fuzz"), "bedrock", text,
            *typed);
  translate(OllamaTranslator(kCreated, "chatcmpl-fuzz"), "ollama", text, *typed);
  translate(AzureTranslator(), "azure", text, *typed);
  return 0;
}
