// Every provider wire format through the real process: the client speaks OpenAI's
// /v1/chat/completions, each backend is a fake that speaks its provider's format byte for byte
// (OpenAI, Azure OpenAI, Anthropic, Gemini, Bedrock Converse, Ollama's native /api/chat, and
// llama.cpp's OpenAI dialect), and the client must see exactly what OpenAI would send: the echoed
// text, the finish reason, the usage the fake reported, tool calls, and OpenAI-shaped errors with
// the true status class that never show the backend's credentials.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/integration/gateway_process.h"
#include "tests/support/fake_upstream.h"

namespace sb::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The client's own credential: it must never reach any upstream.
constexpr std::string_view kClientKey = "sk-client-own-secret-4821";

constexpr std::string_view kOpenAIKey = "sk-openai-backend-7f3a";
constexpr std::string_view kOpenAIOrg = "org-switchboard-wire";
constexpr std::string_view kOpenAIProject = "proj_wire_formats";
constexpr std::string_view kAzureKey = "azure-backend-key-5c1e";
constexpr std::string_view kAzureDeployment = "gpt4o-deploy";
constexpr std::string_view kAzureApiVersion = "2024-10-21";
constexpr std::string_view kAnthropicKey = "sk-ant-backend-90d2";
constexpr std::string_view kAnthropicModel = "claude-3-5-sonnet-20241022";
constexpr std::string_view kGeminiKey = "goog-backend-key-33b7";
constexpr std::string_view kGeminiModel = "gemini-2.0-flash";
constexpr std::string_view kBedrockModel = "anthropic.claude-3-5-sonnet-20240620-v1:0";
constexpr std::string_view kBedrockModelInPath = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
constexpr std::string_view kAwsRegion = "eu-west-3";
constexpr std::string_view kAwsKeyId = "AKIAWIREFORMATS0TEST";
constexpr std::string_view kAwsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWIREFORMATS";
constexpr std::string_view kAwsSessionToken = "FwoGZXIvYXdzEXAMPLEtoken0wire";
constexpr std::string_view kOllamaModel = "llama3.1:8b";
constexpr std::string_view kLlamaModel = "pinned/llama-3.1-8b-q4";

/// One provider wire format: the alias the client names (also the backend's and the fake's
/// name, so the echo reads "Hello from <alias>: ..."), and where the fake must see the request.
struct WireFormat {
  std::string alias;
  std::string chat_target;
  std::string stream_target;
  /// The gateway proxies the client's body as is (OpenAI wire) and forwards the client's
  /// non-hop-by-hop headers; translated formats build a new request.
  bool passthrough = false;
  std::string backend_key;  ///< the credential the upstream error must never show
};

/// Test names and failure messages show the format by its alias.
void PrintTo(const WireFormat& f, std::ostream* os) {
  *os << f.alias;
}

std::string azure_target(std::string_view op) {
  return "/openai/deployments/" + std::string(kAzureDeployment) + "/" + std::string(op) +
         "?api-version=" + std::string(kAzureApiVersion);
}

std::string bedrock_target(std::string_view op) {
  return "/model/" + std::string(kBedrockModelInPath) + "/" + std::string(op);
}

std::vector<WireFormat> all_formats() {
  const std::string gemini = "/v1/models/" + std::string(kGeminiModel);
  return {
      {"openai", "/v1/chat/completions", "/v1/chat/completions", true, std::string(kOpenAIKey)},
      {"azure", azure_target("chat/completions"), azure_target("chat/completions"), false,
       std::string(kAzureKey)},
      {"anthropic", "/v1/messages", "/v1/messages", false, std::string(kAnthropicKey)},
      {"gemini", gemini + ":generateContent", gemini + ":streamGenerateContent?alt=sse", false,
       std::string(kGeminiKey)},
      {"bedrock", bedrock_target("converse"), bedrock_target("converse-stream"), false,
       std::string(kAwsKeyId)},
      {"ollama", "/api/chat", "/api/chat", false, ""},
      {"llamacpp", "/v1/chat/completions", "/v1/chat/completions", true, ""},
  };
}

std::size_t count_words(std::string_view s) {
  std::size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in_word) {
      ++words;
    }
    in_word = !space;
  }
  return words;
}

/// Parses `text` as JSON; a parse failure is a test failure and yields null.
json::value parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON (" << ec.message() << "): " << text;
    return nullptr;
  }
  return v;
}

const json::value* at_path(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view key : path) {
    const json::object* o = cur->if_object();
    if (o == nullptr) {
      return nullptr;
    }
    cur = o->if_contains(key);
    if (cur == nullptr) {
      return nullptr;
    }
  }
  return cur;
}

std::string string_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* s = at_path(v, path);
  return s != nullptr && s->is_string() ? std::string(s->get_string()) : std::string("<absent>");
}

std::int64_t int_at(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* n = at_path(v, path);
  return n != nullptr && n->is_int64() ? n->get_int64() : -1;
}

/// The upstream requests a test caused (background probes, if any, are GETs).
std::vector<RecordedRequest> posts(const FakeUpstream& fake) {
  std::vector<RecordedRequest> out;
  for (auto& r : fake.requests()) {
    if (r.method == "POST") {
      out.push_back(std::move(r));
    }
  }
  return out;
}

// --- SigV4, independently (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-
// request.html): used to check the gateway's Bedrock signature byte for byte. ---

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 0x0F]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return hex(md.data(), len);
}

std::string hmac(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len);
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

/// RFC 3986 unreserved characters stay, everything else is %XX (upper case); '/' kept.
std::string uri_encode_path(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || c == '/';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0F]);
    }
  }
  return out;
}

struct SigV4Authorization {
  std::string credential;  ///< KEYID/DATE/REGION/SERVICE/aws4_request
  std::string signed_headers;
  std::string signature;
};

std::optional<SigV4Authorization> parse_sigv4(std::string_view value) {
  constexpr std::string_view kScheme = "AWS4-HMAC-SHA256 ";
  if (!value.starts_with(kScheme)) {
    return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  SigV4Authorization a;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view part = value.substr(0, comma);
    while (!part.empty() && part.front() == ' ') {
      part.remove_prefix(1);
    }
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view name = part.substr(0, eq);
    const std::string v(part.substr(eq + 1));
    if (name == "Credential") {
      a.credential = v;
    } else if (name == "SignedHeaders") {
      a.signed_headers = v;
    } else if (name == "Signature") {
      a.signature = v;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
  return a;
}

/// The signature a SigV4 signer holding `secret` computes for `r` as it arrived (non-S3 services
/// encode the path twice: the already-encoded path is encoded again).
std::string expected_signature(const RecordedRequest& r, const SigV4Authorization& a,
                               std::string_view secret) {
  const std::size_t q = r.target.find('?');
  const std::string path = r.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : r.target.substr(q + 1);
  std::string canonical = r.method + "\n" + uri_encode_path(path) + "\n" + query + "\n";
  std::string_view names = a.signed_headers;
  while (!names.empty()) {
    const std::size_t semi = names.find(';');
    const std::string name(names.substr(0, semi));
    std::string value = r.header(name).value_or("");
    while (!value.empty() && value.front() == ' ') {
      value.erase(0, 1);
    }
    while (!value.empty() && value.back() == ' ') {
      value.pop_back();
    }
    canonical += name + ":" + value + "\n";
    if (semi == std::string_view::npos) {
      break;
    }
    names.remove_prefix(semi + 1);
  }
  canonical += "\n" + a.signed_headers + "\n" + sha256_hex(r.body);

  // Credential = KEYID/DATE/REGION/SERVICE/aws4_request; the scope is everything after KEYID.
  const std::string scope = a.credential.substr(a.credential.find('/') + 1);
  const std::string amz_date = r.header("x-amz-date").value_or("");
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  std::string key = "AWS4" + std::string(secret);
  std::string_view rest = scope;
  for (int i = 0; i < 4; ++i) {
    const std::size_t slash = rest.find('/');
    key = hmac(key, rest.substr(0, slash));
    rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
  }
  const std::string sig = hmac(key, string_to_sign);
  return hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

// --- the gateway with one backend and one alias per wire format ---

class WireFormatsGateway {
 public:
  WireFormatsGateway() {
    for (const WireFormat& f : all_formats()) {
      FakeUpstreamOptions o;
      o.name = f.alias;
      fakes_.emplace(f.alias, std::make_unique<FakeUpstream>(o));
    }
    const std::string yaml = R"(server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 1}
backends:
  openai:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + fake("openai").base_url() +
                             R"("
    api_key: ")" + std::string(kOpenAIKey) +
                             R"("
    organization: ")" + std::string(kOpenAIOrg) +
                             R"("
    project: ")" + std::string(kOpenAIProject) +
                             R"("
    model: "gpt-4o"
    clearance: internal
    forward_headers: [x-fake-status]
  azure:
    provider: azure-openai
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + root("azure") +
                             R"("
    api_key: ")" + std::string(kAzureKey) +
                             R"("
    api_version: ")" + std::string(kAzureApiVersion) +
                             R"("
    model: ")" + std::string(kAzureDeployment) +
                             R"("
    clearance: internal
  anthropic:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + fake("anthropic").base_url() +
                             R"("
    api_key: ")" + std::string(kAnthropicKey) +
                             R"("
    model: ")" + std::string(kAnthropicModel) +
                             R"("
    clearance: internal
  gemini:
    provider: gemini
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + fake("gemini").base_url() +
                             R"("
    api_key: ")" + std::string(kGeminiKey) +
                             R"("
    model: ")" + std::string(kGeminiModel) +
                             R"("
    clearance: internal
  bedrock:
    provider: bedrock
    allow_insecure: true   # an http:// stand-in
    base_url: ")" + root("bedrock") +
                             R"("
    model: ")" + std::string(kBedrockModel) +
                             R"("
    aws:
      region: ")" + std::string(kAwsRegion) +
                             R"("
      access_key_id: ")" + std::string(kAwsKeyId) +
                             R"("
      secret_access_key: ")" +
                             std::string(kAwsSecret) +
                             R"("
      session_token: ")" + std::string(kAwsSessionToken) +
                             R"("
    clearance: internal
  ollama:
    provider: ollama
    api: native
    base_url: ")" + root("ollama") +
                             R"("
    model: ")" + std::string(kOllamaModel) +
                             R"("
  llamacpp:
    provider: llamacpp
    base_url: ")" + fake("llamacpp").base_url() +
                             R"("
    model: ")" + std::string(kLlamaModel) +
                             R"("
models:
  openai: {candidates: [openai]}
  azure: {candidates: [azure]}
  anthropic: {candidates: [anthropic]}
  gemini: {candidates: [gemini]}
  bedrock: {candidates: [bedrock]}
  ollama: {candidates: [ollama]}
  llamacpp: {candidates: [llamacpp]}
)";
    gw_ = std::make_unique<GatewayProcess>(yaml);
  }

  FakeUpstream& fake(const std::string& alias) { return *fakes_.at(alias); }
  /// The fake's root URL (no /v1): Azure, Bedrock and Ollama's native API live there.
  std::string root(const std::string& alias) {
    return "http://127.0.0.1:" + std::to_string(fake(alias).port());
  }
  GatewayProcess& gw() { return *gw_; }

  /// POST `body` to `path` as a client with its own credentials.
  std::optional<HttpResponse> post(std::string_view path, const std::string& body,
                                   Headers extra = {}) {
    Headers h = {{"Authorization", "Bearer " + std::string(kClientKey)}};
    for (auto& kv : extra) {
      h.push_back(std::move(kv));
    }
    return request(gw_->port(), "POST", path, body, h);
  }
  std::optional<HttpResponse> chat(const std::string& body, Headers extra = {}) {
    return post("/v1/chat/completions", body, std::move(extra));
  }

 private:
  std::map<std::string, std::unique_ptr<FakeUpstream>> fakes_;
  std::unique_ptr<GatewayProcess> gw_;
};

/// Nothing the client authenticated with reached `fake`, in any header.
void expect_no_client_credentials(const FakeUpstream& fake) {
  for (const auto& r : fake.requests()) {
    for (const auto& [name, value] : r.headers) {
      EXPECT_EQ(value.find(kClientKey), std::string::npos)
          << "the client's key reached the upstream in " << name << " of " << r.target;
    }
  }
}

/// What a chat stream told the client, assembled.
struct StreamSummary {
  std::string content;
  std::vector<std::string> finish_reasons;
  std::vector<std::string> ids;
  std::string first_role;
  std::size_t empty_choice_chunks = 0;
  std::optional<json::value> usage_chunk;  ///< the chunk with "choices":[] and a usage object
  std::size_t chunks_after_usage = 0;
  /// Tool calls by index: id, name (concatenated as sent), arguments (concatenated).
  std::map<std::int64_t, std::array<std::string, 3>> tool_calls;
  std::string all_text;  ///< every payload, for substring checks
};

StreamSummary summarize_stream(const HttpResponse& got) {
  StreamSummary s;
  const auto events = sse_data(got.body);
  EXPECT_FALSE(events.empty()) << got.body;
  if (events.empty()) {
    return s;
  }
  EXPECT_EQ(events.back(), "[DONE]") << got.body;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string& e = events[i];
    s.all_text += e;
    if (e == "[DONE]") {
      EXPECT_EQ(i + 1, events.size()) << "[DONE] is the last event: " << got.body;
      continue;
    }
    const json::value v = parse(e);
    if (!v.is_object()) {
      continue;
    }
    EXPECT_EQ(string_at(v, {"object"}), "chat.completion.chunk") << e;
    s.ids.push_back(string_at(v, {"id"}));
    if (s.usage_chunk) {
      ++s.chunks_after_usage;
    }
    const json::value* choices = at_path(v, {"choices"});
    if (choices == nullptr || !choices->is_array()) {
      ADD_FAILURE() << "a chunk without a choices array: " << e;
      continue;
    }
    if (choices->get_array().empty()) {
      ++s.empty_choice_chunks;
      const json::value* usage = at_path(v, {"usage"});
      if (usage != nullptr && usage->is_object()) {
        s.usage_chunk = v;
      }
      continue;
    }
    for (const json::value& c : choices->get_array()) {
      const json::value* fr = at_path(c, {"finish_reason"});
      if (fr != nullptr && fr->is_string()) {
        s.finish_reasons.emplace_back(fr->get_string());
      }
      const json::value* delta = at_path(c, {"delta"});
      if (delta == nullptr || !delta->is_object()) {
        ADD_FAILURE() << "a choice without a delta: " << e;
        continue;
      }
      if (const json::value* role = at_path(*delta, {"role"});
          role != nullptr && role->is_string() && s.first_role.empty()) {
        s.first_role = std::string(role->get_string());
      }
      if (const json::value* content = at_path(*delta, {"content"});
          content != nullptr && content->is_string()) {
        s.content += content->get_string();
      }
      if (const json::value* calls = at_path(*delta, {"tool_calls"});
          calls != nullptr && calls->is_array()) {
        for (const json::value& call : calls->get_array()) {
          const std::int64_t index = int_at(call, {"index"});
          auto& slot = s.tool_calls[index];
          if (const json::value* id = at_path(call, {"id"}); id != nullptr && id->is_string()) {
            slot[0] += id->get_string();
          }
          if (const json::value* n = at_path(call, {"function", "name"});
              n != nullptr && n->is_string()) {
            slot[1] += n->get_string();
          }
          if (const json::value* a = at_path(call, {"function", "arguments"});
              a != nullptr && a->is_string()) {
            slot[2] += a->get_string();
          }
        }
      }
    }
  }
  return s;
}

void expect_usage(const json::value& v, std::int64_t prompt, std::int64_t completion) {
  EXPECT_EQ(int_at(v, {"usage", "prompt_tokens"}), prompt) << json::serialize(v);
  EXPECT_EQ(int_at(v, {"usage", "completion_tokens"}), completion) << json::serialize(v);
  EXPECT_EQ(int_at(v, {"usage", "total_tokens"}), prompt + completion) << json::serialize(v);
}

/// The OpenAI error shape {"error":{"message","type","param","code"}}.
void expect_openai_error(const HttpResponse& got) {
  EXPECT_EQ(got.header("content-type").substr(0, 16), "application/json") << got.body;
  const json::value v = parse(got.body);
  const json::value* error = at_path(v, {"error"});
  ASSERT_TRUE(error != nullptr && error->is_object()) << got.body;
  const json::object& e = error->get_object();
  ASSERT_TRUE(e.contains("message") && e.at("message").is_string()) << got.body;
  EXPECT_FALSE(e.at("message").get_string().empty()) << got.body;
  ASSERT_TRUE(e.contains("type") && e.at("type").is_string()) << got.body;
  EXPECT_TRUE(e.contains("param")) << got.body;
  EXPECT_TRUE(e.contains("code")) << got.body;
}

constexpr const char* kTools =
    R"(,"tools":[{"type":"function","function":{"name":"search_docs",)"
    R"("description":"Search the documentation","parameters":{"type":"object",)"
    R"("properties":{"query":{"type":"string"}},"required":["query"]}}},)"
    R"({"type":"function","function":{"name":"get_time","description":"The current time",)"
    R"("parameters":{"type":"object","properties":{}}}}])";

// ============================================================================================
// The same contract for every wire format.
// ============================================================================================

class WireFormatsContractTest : public ::testing::TestWithParam<WireFormat> {
 protected:
  void SetUp() override {
    env_ = std::make_unique<WireFormatsGateway>();
    ASSERT_TRUE(env_->gw().started()) << env_->gw().stderr_text();
  }
  void TearDown() override {
    if (env_) {
      expect_no_client_credentials(fake());
    }
  }

  const WireFormat& format() const { return GetParam(); }
  FakeUpstream& fake() { return env_->fake(format().alias); }
  std::string echo(std::string_view text) const {
    return "Hello from " + format().alias + ": " + std::string(text);
  }

  /// The one request the fake received, checked against the format's target.
  std::optional<RecordedRequest> sent(bool stream) {
    EXPECT_TRUE(fake().wait_for_requests(1, 2s));
    const auto all = posts(fake());
    EXPECT_EQ(all.size(), 1u) << "one client request, one upstream request";
    if (all.empty()) {
      return std::nullopt;
    }
    EXPECT_EQ(all.front().target, stream ? format().stream_target : format().chat_target);
    return all.front();
  }

  /// A scripted error in the format's own shape; `message` may name the backend's key, as
  /// careless upstreams do.
  Response scripted_error(unsigned status, const std::string& message) const {
    Response r;
    r.status = status;
    if (status == 429) {
      r.headers.emplace_back("retry-after", "3");
    }
    const std::string& a = format().alias;
    if (a == "anthropic") {
      r.body = anthropic_error_body(status == 429   ? "rate_limit_error"
                                    : status >= 500 ? "api_error"
                                                    : "invalid_request_error",
                                    message);
    } else if (a == "gemini") {
      r.body = gemini_error_body(status, message);
    } else if (a == "bedrock") {
      r.headers.emplace_back("x-amzn-ErrorType",
                             std::string(status == 429   ? "ThrottlingException"
                                         : status >= 500 ? "InternalServerException"
                                                         : "ValidationException") +
                                 ":http://internal.amazon.com/coral/com.amazon.bedrock/");
      r.body = json::serialize(json::object{{"message", message}});
    } else if (a == "ollama") {
      r.body = ollama_error_body(message);
    } else if (a == "azure") {
      r.body = json::serialize(json::object{
          {"error", json::object{{"code", std::to_string(status)}, {"message", message}}}});
    } else {
      r.body = error_body(message,
                          status == 429   ? "rate_limit_error"
                          : status >= 500 ? "server_error"
                                          : "invalid_request_error",
                          status == 429 ? "rate_limit_exceeded" : "");
    }
    return r;
  }

  /// Makes the upstream answer `status`: pass-through formats by the client's `x-fake-status`
  /// header (on the openai backend's forward_headers), translated ones by a scripted reply (a
  /// translator builds a fresh request, so the client's headers do not travel).
  std::optional<HttpResponse> chat_failing_with(unsigned status) {
    const std::string body = chat_body(format().alias, "will this fail", false);
    if (format().passthrough) {
      auto got = env_->chat(body, {{"x-fake-status", std::to_string(status)}});
      const auto all = posts(fake());
      EXPECT_EQ(all.size(), 1u);
      if (!all.empty()) {
        EXPECT_EQ(all.front().header("x-fake-status").value_or(""), std::to_string(status))
            << "the client's header reached the upstream";
      }
      return got;
    }
    fake().push(scripted_error(status, "Request failed for key " + format().backend_key));
    auto got = env_->chat(body);
    EXPECT_EQ(posts(fake()).size(), 1u) << "retries: {attempts: 1} tries once";
    return got;
  }

  std::unique_ptr<WireFormatsGateway> env_;
};

TEST_P(WireFormatsContractTest, NonStreamIsAChatCompletionWithTheEcho) {
  const std::string text = "how are the tides today";
  auto got = env_->chat(chat_body(format().alias, text, false));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("content-type").substr(0, 16), "application/json");
  EXPECT_EQ(got->header("x-switchboard-backend"), format().alias);
  const json::value v = parse(got->body);
  EXPECT_EQ(string_at(v, {"object"}), "chat.completion") << got->body;
  EXPECT_NE(string_at(v, {"id"}), "<absent>") << got->body;
  const json::value* choices = at_path(v, {"choices"});
  ASSERT_TRUE(choices != nullptr && choices->is_array() && choices->get_array().size() == 1)
      << got->body;
  const json::value& choice = choices->get_array()[0];
  EXPECT_EQ(int_at(choice, {"index"}), 0);
  EXPECT_EQ(string_at(choice, {"message", "role"}), "assistant");
  EXPECT_EQ(string_at(choice, {"message", "content"}), echo(text)) << got->body;
  EXPECT_EQ(string_at(choice, {"finish_reason"}), "stop") << got->body;
  expect_usage(v, static_cast<std::int64_t>(count_words(text) + 3),
               static_cast<std::int64_t>(count_words(echo(text))));
  EXPECT_EQ(got->body.find("filter_results"), std::string::npos) << got->body;
  sent(false);
}

TEST_P(WireFormatsContractTest, StreamIsOpenAIChunksEndingInDone) {
  const std::string text = "stream the tides please";
  auto got = env_->chat(chat_body(format().alias, text, true));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("content-type").substr(0, 17), "text/event-stream");
  const StreamSummary s = summarize_stream(*got);
  EXPECT_EQ(s.content, echo(text)) << got->body;
  ASSERT_EQ(s.finish_reasons.size(), 1u) << "exactly one finish_reason: " << got->body;
  EXPECT_EQ(s.finish_reasons.front(), "stop");
  EXPECT_EQ(s.first_role, "assistant") << got->body;
  EXPECT_EQ(s.empty_choice_chunks, 0u)
      << "no usage asked for, no empty-choices chunk: " << got->body;
  EXPECT_FALSE(s.usage_chunk) << got->body;
  ASSERT_FALSE(s.ids.empty());
  EXPECT_TRUE(std::all_of(s.ids.begin(), s.ids.end(),
                          [&](const std::string& id) { return id == s.ids.front(); }))
      << "every chunk of one completion carries the same id: " << got->body;
  EXPECT_EQ(s.all_text.find("filter_results"), std::string::npos) << got->body;
  sent(true);
}

TEST_P(WireFormatsContractTest, StreamWithIncludeUsageEndsWithTheUsageChunk) {
  const std::string text = "count my tokens";
  auto got = env_->chat(
      chat_body(format().alias, text, true, R"(,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const StreamSummary s = summarize_stream(*got);
  EXPECT_EQ(s.content, echo(text)) << got->body;
  ASSERT_EQ(s.finish_reasons.size(), 1u) << got->body;
  EXPECT_EQ(s.finish_reasons.front(), "stop");
  EXPECT_EQ(s.empty_choice_chunks, 1u) << "only the usage chunk has empty choices: " << got->body;
  ASSERT_TRUE(s.usage_chunk) << got->body;
  EXPECT_EQ(s.chunks_after_usage, 0u) << "the usage chunk is the last before [DONE]";
  expect_usage(*s.usage_chunk, static_cast<std::int64_t>(count_words(text) + 3),
               static_cast<std::int64_t>(count_words(echo(text))));
  EXPECT_EQ(s.all_text.find("filter_results"), std::string::npos) << got->body;
  sent(true);
}

TEST_P(WireFormatsContractTest, ToolsNonStreamAnswerWithACallOfTheFirstTool) {
  const std::string text = "tide tables for Brest";
  auto got = env_->chat(chat_body(format().alias, text, false, kTools));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const json::value v = parse(got->body);
  EXPECT_EQ(string_at(v, {"object"}), "chat.completion") << got->body;
  const json::value* choices = at_path(v, {"choices"});
  ASSERT_TRUE(choices != nullptr && choices->is_array() && choices->get_array().size() == 1)
      << got->body;
  const json::value& choice = choices->get_array()[0];
  EXPECT_EQ(string_at(choice, {"finish_reason"}), "tool_calls") << got->body;
  EXPECT_EQ(string_at(choice, {"message", "role"}), "assistant");
  const json::value* calls = at_path(choice, {"message", "tool_calls"});
  ASSERT_TRUE(calls != nullptr && calls->is_array() && calls->get_array().size() == 1) << got->body;
  const json::value& call = calls->get_array()[0];
  EXPECT_NE(string_at(call, {"id"}), "<absent>");
  EXPECT_EQ(string_at(call, {"type"}), "function");
  EXPECT_EQ(string_at(call, {"function", "name"}), "search_docs");
  const std::string args = string_at(call, {"function", "arguments"});
  EXPECT_EQ(parse(args), json::value(json::object{{"query", text}})) << args;
  const std::string args_compact = json::serialize(json::object{{"query", text}});
  expect_usage(v, static_cast<std::int64_t>(count_words(text) + 3),
               static_cast<std::int64_t>(count_words("search_docs") + count_words(args_compact)));
  sent(false);
}

TEST_P(WireFormatsContractTest, ToolsStreamAssembleToACallOfTheFirstTool) {
  const std::string text = "tide tables for Brest";
  auto got = env_->chat(chat_body(format().alias, text, true, kTools));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const StreamSummary s = summarize_stream(*got);
  ASSERT_EQ(s.finish_reasons.size(), 1u) << got->body;
  EXPECT_EQ(s.finish_reasons.front(), "tool_calls") << got->body;
  EXPECT_EQ(s.content, "") << "a tool call carries no text: " << got->body;
  ASSERT_EQ(s.tool_calls.size(), 1u) << got->body;
  EXPECT_EQ(s.tool_calls.begin()->first, 0) << "the first call has index 0";
  const auto& [id, name, arguments] = s.tool_calls.begin()->second;
  EXPECT_FALSE(id.empty()) << got->body;
  EXPECT_EQ(name, "search_docs") << "the name is sent once: " << got->body;
  EXPECT_EQ(parse(arguments), json::value(json::object{{"query", text}})) << arguments;
  sent(true);
}

TEST_P(WireFormatsContractTest, UpstreamRateLimitPassesThroughWithRetryAfter) {
  auto got = chat_failing_with(429);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 429u) << got->body;
  // The fake's autonomous 429 says `retry-after: 1`; the scripted ones say 3.
  EXPECT_EQ(got->header("retry-after"), format().passthrough ? "1" : "3") << got->body;
  expect_openai_error(*got);
  if (!format().backend_key.empty()) {
    EXPECT_EQ(got->body.find(format().backend_key), std::string::npos) << got->body;
  }
}

TEST_P(WireFormatsContractTest, UpstreamServerErrorIsABadGateway) {
  auto got = chat_failing_with(500);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->status == 502u || got->status == 503u) << got->status << " " << got->body;
  expect_openai_error(*got);
  if (!format().backend_key.empty()) {
    EXPECT_EQ(got->body.find(format().backend_key), std::string::npos) << got->body;
  }
}

TEST_P(WireFormatsContractTest, UpstreamBadRequestPassesThrough) {
  auto got = chat_failing_with(400);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400u) << got->body;
  expect_openai_error(*got);
  if (!format().backend_key.empty()) {
    EXPECT_EQ(got->body.find(format().backend_key), std::string::npos) << got->body;
  }
}

TEST_P(WireFormatsContractTest, UpstreamErrorNamingTheBackendKeyIsScrubbed) {
  fake().push(
      scripted_error(400, "Incorrect API key provided: " + format().backend_key + " (ours)"));
  auto got = env_->chat(chat_body(format().alias, "leak it", false));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400u) << got->body;
  expect_openai_error(*got);
  for (std::string_view secret :
       {std::string_view(kOpenAIKey), std::string_view(kAzureKey), std::string_view(kAnthropicKey),
        std::string_view(kGeminiKey), std::string_view(kAwsKeyId), std::string_view(kAwsSecret)}) {
    EXPECT_EQ(got->body.find(secret), std::string::npos) << secret << " in " << got->body;
  }
  EXPECT_NE(got->body.find("(ours)"), std::string::npos)
      << "the rest of the upstream's message is kept: " << got->body;
}

INSTANTIATE_TEST_SUITE_P(WireFormats, WireFormatsContractTest, ::testing::ValuesIn(all_formats()),
                         [](const ::testing::TestParamInfo<WireFormat>& p) {
                           return p.param.alias;
                         });

// ============================================================================================
// What only one format has.
// ============================================================================================

class WireFormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<WireFormatsGateway>();
    ASSERT_TRUE(env_->gw().started()) << env_->gw().stderr_text();
  }
  std::unique_ptr<WireFormatsGateway> env_;
};

TEST_F(WireFormatsTest, OpenAISendsTheBackendKeyOrganizationAndProject) {
  auto got = env_->chat(
      chat_body("openai", "hello there", false),
      {{"OpenAI-Organization", "org-client-own"}, {"OpenAI-Project", "proj_client_own"}});
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("openai"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/v1/chat/completions");
  EXPECT_EQ(r.header("authorization").value_or(""), "Bearer " + std::string(kOpenAIKey));
  EXPECT_EQ(r.header("openai-organization").value_or(""), kOpenAIOrg);
  EXPECT_EQ(r.header("openai-project").value_or(""), kOpenAIProject);
  std::size_t orgs = 0;
  for (const auto& [name, value] : r.headers) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    orgs += lower == "openai-organization" ? 1 : 0;
  }
  EXPECT_EQ(orgs, 1u) << "the client's organization is replaced, not added";
  const json::value body = parse(r.body);
  EXPECT_EQ(string_at(body, {"model"}), "gpt-4o") << r.body;
  expect_no_client_credentials(env_->fake("openai"));
}

TEST_F(WireFormatsTest, AzureUsesTheDeploymentPathAndApiKeyHeader) {
  auto got = env_->chat(chat_body("azure", "hello there", false));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("azure"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/openai/deployments/gpt4o-deploy/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(r.header("api-key").value_or(""), kAzureKey);
  EXPECT_FALSE(r.header("authorization")) << "Azure's key travels in api-key only";
  EXPECT_EQ(got->body.find("prompt_filter_results"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("content_filter_results"), std::string::npos) << got->body;
  expect_no_client_credentials(env_->fake("azure"));
}

TEST_F(WireFormatsTest, AzureStreamHidesThePromptFilterChunk) {
  auto got = env_->chat(chat_body("azure", "filter me not", true));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const StreamSummary s = summarize_stream(*got);
  EXPECT_EQ(s.empty_choice_chunks, 0u)
      << "Azure's leading \"choices\":[] chunk never reaches the client: " << got->body;
  EXPECT_EQ(s.content, "Hello from azure: filter me not");
  EXPECT_EQ(got->body.find("prompt_filter_results"), std::string::npos) << got->body;
  EXPECT_EQ(got->body.find("content_filter_results"), std::string::npos) << got->body;
  const auto all = posts(env_->fake("azure"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().target,
            "/openai/deployments/gpt4o-deploy/chat/completions?api-version=2024-10-21");
  EXPECT_FALSE(all.front().header("authorization"));
}

TEST_F(WireFormatsTest, AzureEmbeddingsReachTheDeploymentsEmbeddingsPath) {
  auto got = env_->post("/v1/embeddings", R"({"model":"azure","input":"the tide is high"})");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const json::value v = parse(got->body);
  EXPECT_EQ(string_at(v, {"object"}), "list") << got->body;
  const json::value* data = at_path(v, {"data"});
  ASSERT_TRUE(data != nullptr && data->is_array() && data->get_array().size() == 1) << got->body;
  EXPECT_EQ(string_at(data->get_array()[0], {"object"}), "embedding");
  const json::value* embedding = at_path(data->get_array()[0], {"embedding"});
  ASSERT_TRUE(embedding != nullptr && embedding->is_array()) << got->body;
  EXPECT_FALSE(embedding->get_array().empty());
  const auto all = posts(env_->fake("azure"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().target,
            "/openai/deployments/gpt4o-deploy/embeddings?api-version=2024-10-21");
  EXPECT_EQ(all.front().header("api-key").value_or(""), kAzureKey);
  EXPECT_FALSE(all.front().header("authorization"));
  expect_no_client_credentials(env_->fake("azure"));
}

TEST_F(WireFormatsTest, AnthropicGetsItsKeyAndVersionHeaders) {
  auto got = env_->chat(chat_body("anthropic", "hello there", false));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("anthropic"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/v1/messages");
  EXPECT_EQ(r.header("x-api-key").value_or(""), kAnthropicKey);
  EXPECT_FALSE(r.header("authorization"));
  EXPECT_EQ(r.header("anthropic-version").value_or(""), "2023-06-01");
  const json::value body = parse(r.body);
  EXPECT_EQ(string_at(body, {"model"}), kAnthropicModel) << r.body;
  EXPECT_GT(int_at(body, {"max_tokens"}), 0) << "Anthropic requires max_tokens: " << r.body;
}

TEST_F(WireFormatsTest, GeminiGetsItsKeyHeaderAndModelPath) {
  auto got = env_->chat(chat_body("gemini", "hello there", false));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("gemini"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/v1/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(r.header("x-goog-api-key").value_or(""), kGeminiKey);
  EXPECT_FALSE(r.header("authorization"));
  EXPECT_EQ(r.target.find("key="), std::string::npos) << "the key stays out of the URL";
  const json::value body = parse(r.body);
  const json::value* contents = at_path(body, {"contents"});
  ASSERT_TRUE(contents != nullptr && contents->is_array()) << r.body;
}

/// The Bedrock request `r` carries a SigV4 signature by kAwsKeyId for region and service
/// bedrock that verifies against kAwsSecret.
void expect_signed_for_bedrock(const RecordedRequest& r) {
  const std::string amz_date = r.header("x-amz-date").value_or("");
  ASSERT_EQ(amz_date.size(), 16u) << "YYYYMMDDTHHMMSSZ: " << amz_date;
  EXPECT_EQ(amz_date[8], 'T');
  EXPECT_EQ(amz_date[15], 'Z');
  const std::string date = amz_date.substr(0, 8);
  const std::string authorization = r.header("authorization").value_or("");
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=" + std::string(kAwsKeyId) + "/" + date +
                             "/" + std::string(kAwsRegion) + "/bedrock/aws4_request";
  EXPECT_EQ(authorization.substr(0, prefix.size()), prefix) << authorization;
  const auto a = parse_sigv4(authorization);
  ASSERT_TRUE(a) << authorization;
  EXPECT_EQ(a->credential, std::string(kAwsKeyId) + "/" + date + "/" + std::string(kAwsRegion) +
                               "/bedrock/aws4_request");
  std::vector<std::string> signed_names;
  for (std::string_view rest = a->signed_headers; !rest.empty();) {
    const std::size_t semi = rest.find(';');
    signed_names.emplace_back(rest.substr(0, semi));
    rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
  }
  for (std::string_view needed : {"host", "x-amz-date", "x-amz-security-token"}) {
    EXPECT_NE(std::find(signed_names.begin(), signed_names.end(), needed), signed_names.end())
        << needed << " is signed: " << a->signed_headers;
  }
  EXPECT_EQ(a->signature.size(), 64u) << authorization;
  EXPECT_EQ(a->signature, expected_signature(r, *a, kAwsSecret))
      << "the signature verifies with the secret (path encoded twice, as for every non-S3 "
         "service)";
  EXPECT_EQ(r.header("x-amz-security-token").value_or(""), kAwsSessionToken);
  EXPECT_EQ(r.header("x-amz-content-sha256").value_or(sha256_hex(r.body)), sha256_hex(r.body));
  EXPECT_EQ(authorization.find(kAwsSecret), std::string::npos);
  for (const auto& [name, value] : r.headers) {
    EXPECT_EQ(value.find(kAwsSecret), std::string::npos) << "the secret never travels: " << name;
  }
}

TEST_F(WireFormatsTest, BedrockConverseIsSigV4SignedWithTheModelIdEncoded) {
  auto got = env_->chat(chat_body("bedrock", "hello there", false));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("bedrock"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  expect_signed_for_bedrock(r);
  const json::value body = parse(r.body);
  const json::value* messages = at_path(body, {"messages"});
  ASSERT_TRUE(messages != nullptr && messages->is_array()) << r.body;
}

TEST_F(WireFormatsTest, BedrockConverseStreamIsSigV4SignedWithTheModelIdEncoded) {
  auto got = env_->chat(chat_body("bedrock", "hello there", true));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(summarize_stream(*got).content, "Hello from bedrock: hello there");
  const auto all = posts(env_->fake("bedrock"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().target,
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
  expect_signed_for_bedrock(all.front());
}

TEST_F(WireFormatsTest, OllamaNativeStreamsNdjsonAsOpenAISse) {
  auto got = env_->chat(chat_body("ollama", "hello there", true));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  EXPECT_EQ(got->header("content-type").substr(0, 17), "text/event-stream");
  EXPECT_EQ(got->body.find("\"done\""), std::string::npos) << "no NDJSON leaks: " << got->body;
  const StreamSummary s = summarize_stream(*got);
  EXPECT_EQ(s.content, "Hello from ollama: hello there");
  const auto all = posts(env_->fake("ollama"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/api/chat");
  const json::value body = parse(r.body);
  EXPECT_EQ(string_at(body, {"model"}), kOllamaModel) << r.body;
  const json::value* stream = at_path(body, {"stream"});
  ASSERT_TRUE(stream != nullptr && stream->is_bool()) << r.body;
  EXPECT_TRUE(stream->get_bool()) << r.body;
  EXPECT_FALSE(r.header("authorization"));
}

// A member of the wrong type cannot be read into Ollama's request: the client hears OpenAI's own
// answer for it (400, invalid_type, naming the member) and nothing reaches the upstream.
TEST_F(WireFormatsTest, OllamaRouteAnswersAMistypedMemberAsOpenAIWould) {
  const std::size_t before = posts(env_->fake("ollama")).size();
  auto got = env_->chat(
      R"({"model":"ollama","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 400u) << got->body;
  const json::value body = parse(got->body);
  EXPECT_EQ(string_at(body, {"error", "type"}), "invalid_request_error") << got->body;
  EXPECT_EQ(string_at(body, {"error", "code"}), "invalid_type") << got->body;
  EXPECT_EQ(string_at(body, {"error", "param"}), "temperature") << got->body;
  EXPECT_NE(string_at(body, {"error", "message"}).find("temperature"), std::string::npos)
      << got->body;
  EXPECT_EQ(posts(env_->fake("ollama")).size(), before);
}

// A chat's long history of short turns (100 to 1,000 turns, 3 to 36 KB) is translated for a
// translated route like any other conversation: dense, not hostile. (The typed reading's arena once
// took 4x what it held at this size, past its budget, and such a body was refused as too large.)
TEST_F(WireFormatsTest, ATranslatedRouteTakesAConversationOfManyShortTurns) {
  for (const std::size_t count : {100u, 150u, 200u, 300u, 400u, 600u, 1000u}) {
    std::string turns;
    for (std::size_t i = 0; i < count; ++i) {
      turns += i == 0 ? "" : ",";
      turns += R"({"role":")" + std::string(i % 2 == 0 ? "user" : "assistant") +
               R"(","content":"ok )" + std::to_string(i) + R"("})";
    }
    const std::size_t before = posts(env_->fake("anthropic")).size();
    auto got = env_->chat(R"({"model":"anthropic","messages":[)" + turns + "]}");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 200u) << count << " turns: " << got->body.substr(0, 300);
    const auto all = posts(env_->fake("anthropic"));
    ASSERT_EQ(all.size(), before + 1) << count << " turns";
    const json::value sent = parse(all.back().body);
    const json::value* messages = at_path(sent, {"messages"});
    ASSERT_TRUE(messages != nullptr && messages->is_array()) << all.back().body.substr(0, 300);
    EXPECT_EQ(messages->get_array().size(), count);
  }
  // The same conversation in Anthropic's and in the Responses form (the turns read the same in
  // both: Anthropic's messages, Responses' input items), to Gemini: translated twice.
  std::string turns;
  for (std::size_t i = 0; i < 600; ++i) {
    const std::string role = i % 2 == 0 ? "user" : "assistant";
    turns += (i == 0 ? R"({"role":")" : R"(,{"role":")") + role + R"(","content":"ok )" +
             std::to_string(i) + R"("})";
  }
  const std::size_t before = posts(env_->fake("gemini")).size();
  auto messages = env_->post("/v1/messages",
                             R"({"model":"gemini","max_tokens":16,"messages":[)" + turns + "]}");
  ASSERT_TRUE(messages);
  EXPECT_EQ(messages->status, 200u) << messages->body.substr(0, 300);
  auto responses = env_->post("/v1/responses", R"({"model":"gemini","input":[)" + turns + "]}");
  ASSERT_TRUE(responses);
  EXPECT_EQ(responses->status, 200u) << responses->body.substr(0, 300);
  EXPECT_EQ(posts(env_->fake("gemini")).size(), before + 2);
}

// A body of 20,000 empty parts would take ~50x its size as a typed reading, past
// its budget: a translated route refuses it as too large (413, OpenAI's shape, nothing sent),
// while an OpenAI-compatible route passes it on as sent (its DOM is all the gateway reads).
TEST_F(WireFormatsTest, ATranslatedRouteRefusesABodyOfManyTinyPartsAsTooLarge) {
  std::string parts;
  for (int i = 0; i < 20000; ++i) {
    parts += i == 0 ? "" : ",";
    parts += "{}";
  }
  const auto body = [&](std::string_view model) {
    return R"({"model":")" + std::string(model) + R"(","messages":[{"role":"user","content":[)" +
           parts + "]}]}";
  };
  const std::size_t before = posts(env_->fake("anthropic")).size();
  auto got = env_->chat(body("anthropic"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 413u) << got->body;
  const json::value v = parse(got->body);
  EXPECT_EQ(string_at(v, {"error", "code"}), "request_too_large") << got->body;
  EXPECT_NE(string_at(v, {"error", "message"}).find("too many small values"), std::string::npos)
      << got->body;
  EXPECT_EQ(posts(env_->fake("anthropic")).size(), before);

  auto passed = env_->chat(body("openai"));
  ASSERT_TRUE(passed);
  EXPECT_EQ(passed->status, 200u) << passed->body.substr(0, 300);
}

TEST_F(WireFormatsTest, LlamaCppGetsMaxTokensForMaxCompletionTokens) {
  // Nine words of reply, cut at seven: the engine honoured the limit under its own name.
  const std::string text = "one two three four five six";
  auto got = env_->chat(chat_body("llamacpp", text, false, R"(,"max_completion_tokens":7)"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->status, 200u) << got->body;
  const auto all = posts(env_->fake("llamacpp"));
  ASSERT_EQ(all.size(), 1u);
  const RecordedRequest& r = all.front();
  EXPECT_EQ(r.target, "/v1/chat/completions");
  const json::value body = parse(r.body);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(int_at(body, {"max_tokens"}), 7) << r.body;
  EXPECT_FALSE(body.get_object().contains("max_completion_tokens")) << r.body;
  EXPECT_EQ(string_at(body, {"model"}), kLlamaModel) << r.body;
  const json::value v = parse(got->body);
  const json::value* choices = at_path(v, {"choices"});
  ASSERT_TRUE(choices != nullptr && choices->is_array() && !choices->get_array().empty())
      << got->body;
  EXPECT_EQ(string_at(choices->get_array()[0], {"message", "content"}),
            "Hello from llamacpp: one two three four")
      << got->body;
  EXPECT_EQ(string_at(choices->get_array()[0], {"finish_reason"}), "length") << got->body;
  EXPECT_EQ(int_at(v, {"usage", "completion_tokens"}), 7) << got->body;
}

}  // namespace
}  // namespace sb::testing
