#include "policies/providers.h"

#include <algorithm>
#include <vector>

namespace sb::config {
namespace {

// The output a request without max_tokens may produce, per provider and model family, from the
// providers' model documentation. A budget reservation covers it, so when unsure the larger
// documented figure is taken; the real usage reconciles.

// https://platform.openai.com/docs/models: a request without max_completion_tokens may produce up
// to the model's maximum output. Azure names deployments, so its model names often say nothing:
// the gpt-4o figure then.
std::uint64_t openai_max_output(std::string_view model) {
  if (model.starts_with("gpt-5")) {
    return 128'000;
  }
  if (model.starts_with("o1") || model.starts_with("o3") || model.starts_with("o4")) {
    return 100'000;
  }
  if (model.starts_with("gpt-4.1")) {
    return 32'768;
  }
  if (model.starts_with("gpt-4-") || model == "gpt-4" || model.starts_with("gpt-3.5")) {
    return 4'096;
  }
  return 16'384;  // gpt-4o, gpt-4o-mini
}

// Converse without inferenceConfig.maxTokens lets the model use its maximum output:
// https://docs.anthropic.com/en/docs/about-claude/models for Claude on Bedrock.
std::uint64_t bedrock_max_output(std::string_view model) {
  const auto has = [&](std::string_view part) {
    return model.find(part) != std::string_view::npos;
  };
  if (has("claude-3-7") || has("sonnet-4") || has("haiku-4")) {
    return 64'000;
  }
  if (has("opus-4")) {
    return 32'000;
  }
  if (has("claude-3-5")) {
    return 8'192;
  }
  if (has("claude-3")) {
    return 4'096;
  }
  return 8'192;
}

// https://ai.google.dev/gemini-api/docs/models: maxOutputTokens defaults to the model's output
// limit, 65,536 from Gemini 2.5 on, 8,192 before.
std::uint64_t gemini_max_output(std::string_view model) {
  if (model.find("gemini-1") != std::string_view::npos ||
      model.find("gemini-2.0") != std::string_view::npos) {
    return 8'192;
  }
  return 65'536;
}

// Anthropic: the translator sends max_tokens: 4096 when the request sets none (the API requires
// one), which every Claude model accepts: the bound is exact. Self-hosted engines generate until
// the context is full by default (vLLM: max_model_len minus the prompt; llama.cpp and Ollama:
// n_predict / num_predict -1): no documented bound, so a working figure; set max_output_tokens to
// the served context length for a hard one.
std::uint64_t fixed_4096(std::string_view) {
  return 4'096;
}

constexpr Hosting kSelf = Hosting::self_hosted;
constexpr Hosting kClosed = Hosting::closed;

constexpr std::array<ProviderInfo, 11> kProviders{{
    {"vllm", Provider::vllm, kSelf, 0, 0, WireFormat::openai, "vllm", {}, fixed_4096},
    {"llamacpp", Provider::llamacpp, kSelf, 0, 0, WireFormat::openai, "llamacpp", {}, fixed_4096},
    {"ollama",
     Provider::ollama,
     kSelf,
     kKeyWireApi,
     0,
     WireFormat::openai,
     "ollama",
     {},
     fixed_4096},
    {"tgi", Provider::tgi, kSelf, 0, 0, WireFormat::openai, "tgi", {}, fixed_4096},
    {"sglang", Provider::sglang, kSelf, 0, 0, WireFormat::openai, "sglang", {}, fixed_4096},
    {"openai-compatible",
     Provider::openai_compatible,
     kSelf,
     0,
     0,
     WireFormat::openai,
     "generic",
     {},
     fixed_4096},
    {"openai",
     Provider::openai,
     kClosed,
     kKeyOpenAiIds,
     0,
     WireFormat::openai,
     "openai",
     {"openai-beta", ""},
     openai_max_output},
    {"anthropic",
     Provider::anthropic,
     kClosed,
     kKeyApiVersion,
     0,
     WireFormat::anthropic,
     "generic",
     {"anthropic-version", "anthropic-beta"},
     fixed_4096},
    {"gemini",
     Provider::gemini,
     kClosed,
     0,
     0,
     WireFormat::gemini,
     "generic",
     {},
     gemini_max_output},
    {"azure-openai",
     Provider::azure_openai,
     kClosed,
     kKeyApiVersion,
     kKeyApiVersion,
     WireFormat::azure_openai,
     "openai",
     {"openai-beta", ""},
     openai_max_output},
    {"bedrock",
     Provider::bedrock,
     kClosed,
     kKeyAws,
     kKeyAws,
     WireFormat::bedrock_converse,
     "generic",
     {},
     bedrock_max_output},
}};

}  // namespace

std::span<const ProviderInfo> providers() {
  return kProviders;
}

const ProviderInfo& provider_info(Provider p) {
  for (const ProviderInfo& info : kProviders) {
    if (info.provider == p) {
      return info;
    }
  }
  return kProviders.back();  // unreachable: every enumerator is in the table
}

const ProviderInfo* find_provider(std::string_view name) {
  auto it = std::find_if(kProviders.begin(), kProviders.end(),
                         [&](const ProviderInfo& i) { return i.name == name; });
  return it == kProviders.end() ? nullptr : &*it;
}

namespace {
constexpr std::array<std::string_view, 5> kLoadMetrics{"vllm", "sglang", "tgi", "llamacpp", "none"};
}  // namespace

std::string_view default_load_metrics(Provider p) {
  const std::string_view engine = provider_info(p).engine;
  if (provider_info(p).hosting == Hosting::self_hosted && engine != "none" &&
      std::find(kLoadMetrics.begin(), kLoadMetrics.end(), engine) != kLoadMetrics.end()) {
    return engine;
  }
  return "none";
}

std::span<const std::string_view> load_metrics_names() {
  return kLoadMetrics;
}

std::string providers_accepting(ProviderKey key) {
  std::vector<std::string_view> names;
  for (unsigned pass = 0; pass < 2; ++pass) {
    for (const ProviderInfo& info : kProviders) {
      const bool required = (info.required_keys & key) != 0;
      if ((info.allowed_keys & key) != 0 && required == (pass == 0)) {
        names.push_back(info.name);
      }
    }
  }
  if (names.size() == 1) {
    return "only for provider " + std::string(names.front());
  }
  std::string out = "only for ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += i == 0 ? "" : i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out;
}

std::string_view to_string(Provider p) {
  return provider_info(p).name;
}

std::uint64_t default_max_output_tokens(Provider p, std::string_view model) {
  return provider_info(p).default_max_output(model);
}

}  // namespace sb::config
