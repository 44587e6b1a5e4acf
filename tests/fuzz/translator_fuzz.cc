// libFuzzer target: one provider's response and stream parsers (built once per provider, with
// SB_FUZZ_PROVIDER naming it). The bytes are an upstream answer: a complete body (with status
// 200 and with an error status chosen from the bytes), then a streamed body fed whole and fed in
// fuzzer-chosen pieces.
//
// Oracles: whatever a translator produces is valid output (a complete body is JSON, though not
// necessarily UTF-8; every stream event it appends is complete SSE), and a stream's output,
// success, usage and error do not depend on how the upstream bytes were split. An object's
// earlier duplicate members dropped (as the pass-through lanes do) leave the document it parses to.

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/anthropic.h"
#include "adapters/azure.h"
#include "adapters/bedrock.h"
#include "adapters/gemini.h"
#include "adapters/json_edit.h"
#include "adapters/ollama.h"
#include "adapters/openai_compatible.h"
#include "adapters/sse.h"
#include "adapters/usage.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

using namespace sb::adapters;

enum class Provider { anthropic, gemini, bedrock, ollama, azure, openai_compatible };
constexpr Provider kProvider = Provider::SB_FUZZ_PROVIDER;

constexpr std::int64_t kCreated = 1700000000;
constexpr std::string_view kAlias = "fuzz-model";

std::unique_ptr<ChatTranslator> make() {
  switch (kProvider) {
    case Provider::anthropic:
      return std::make_unique<AnthropicTranslator>(kCreated);
    case Provider::gemini:
      return std::make_unique<GeminiTranslator>(kCreated, "chatcmpl-fuzz");
    case Provider::bedrock:
      return std::make_unique<BedrockTranslator>(kCreated, "20240101T000000Z", "chatcmpl-fuzz");
    case Provider::ollama:
      return std::make_unique<OllamaTranslator>(kCreated, "chatcmpl-fuzz");
    case Provider::azure:
      return std::make_unique<AzureTranslator>();
    case Provider::openai_compatible:
      return nullptr;  // bodies pass through; only usage is read from them
  }
  return nullptr;
}

std::string_view content_type() {
  switch (kProvider) {
    case Provider::bedrock:
      return "application/vnd.amazon.eventstream";
    case Provider::ollama:
      return "application/x-ndjson";
    default:
      return "application/json";
  }
}

std::uint64_t hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h = (h ^ c) * 1099511628211ull;
  }
  return h;
}

void check_json(std::string_view text) {
  // Structure only: upstream bytes that are not UTF-8 reach bodies verbatim (Azure passes its
  // body through; error messages quote upstream text and header values as they came).
  boost::json::parse_options opts;
  opts.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  boost::json::parse(text, ec, {}, opts);
  sb::fuzz::check(!ec);
}

void check_response(const TranslatedResponse& r) {
  sb::fuzz::check(r.status >= 200 && r.status <= 599);
  check_json(r.body);
}

/// Every event a stream translator wrote parses as complete SSE.
void check_sse(std::string_view out) {
  SseParser parser;
  std::vector<SseEvent> events;
  parser.feed(out, events);
  sb::fuzz::check(parser.at_boundary());
}

struct StreamRun {
  std::string out;
  bool fed_ok = true;
  bool finished = false;
  std::optional<Usage> usage;
  std::optional<unsigned> error_status;
};

StreamRun run_stream(const std::vector<std::string_view>& pieces, bool include_usage,
                     const ChatTranslator* translator) {
  std::unique_ptr<StreamTranslator> s =
      translator ? translator->stream(include_usage, kAlias)
                 : std::make_unique<OpenAIStreamTranslator>(include_usage);
  StreamRun run;
  for (std::string_view piece : pieces) {
    if (!s->feed(piece, run.out)) {
      run.fed_ok = false;
      break;
    }
  }
  if (run.fed_ok) {
    run.finished = s->finish(run.out);
  }
  run.usage = s->usage();
  if (s->error()) {
    run.error_status = s->error()->status;
  }
  return run;
}

bool same_usage(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || (a->input == b->input && a->output == b->output &&
                a->cached_input == b->cached_input && a->reasoning == b->reasoning);
}

/// same_usage, cache writes included.
bool same_usage_counts(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  return same_usage(a, b) && (!a || a->cache_write == b->cache_write);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::unique_ptr<ChatTranslator> translator = make();

  // A complete answer.
  if (translator) {
    const TranslatedResponse ok = translator->response(200, content_type(), bytes, kAlias);
    if (kProvider == Provider::azure && ok.status == 200) {
      // Azure's answer passes through with only its filter members removed: the translator checks
      // the top level (an object), not what is nested, as for any OpenAI-wire backend.
      sb::fuzz::check(ok.body.size() <= size);
    } else {
      check_response(ok);
    }
    static constexpr unsigned kErrors[] = {400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 529};
    const unsigned status = kErrors[hash(bytes) % std::size(kErrors)];
    check_response(translator->response(status, content_type(), bytes, kAlias));
    const std::string_view header = translator->response_header();
    if (!header.empty()) {
      check_response(translator->response_with_header(status, content_type(), bytes, kAlias,
                                                      bytes.substr(0, 64)));
    }
  } else {
    (void)usage_from_openai_text(bytes);
    // The one-pass usage reading agrees with parsing and reading the DOM.
    boost::system::error_code ec;
    const boost::json::value dom = boost::json::parse(bytes, ec);
    const std::optional<Usage> expected = ec ? std::nullopt : usage_from_openai_usage(dom);
    sb::fuzz::check(same_usage_counts(usage_from_openai_usage_text(bytes), expected));
    // So does the reading of a whole answer's usage member, read where it stands or not.
    if (!ec && dom.is_object()) {
      sb::fuzz::check(same_usage_counts(usage_from_openai_text(bytes), usage_from_openai(dom)));
    }
    std::vector<JsonMember> members;
    (void)scan_object(bytes, members);
    // Reading a member from the end agrees with the scan of the top level on every JSON object.
    if (!ec && dom.is_object()) {
      for (const std::string_view key : {"usage", "u"}) {
        if (const std::optional<std::string_view> tail = tail_member_value(bytes, key)) {
          sb::fuzz::check(last_member_value(bytes, key, members) == tail);
        }
      }
      // Dropping the earlier occurrences of repeated keys leaves the document a parser reads,
      // with each key once.
      if (scan_object(bytes, members)) {
        std::vector<char> marks;
        const bool any = mark_superseded(members, marks);
        const std::string once = without_superseded(bytes, members, marks);
        sb::fuzz::check(boost::json::parse(once, ec) == dom && !ec);
        std::vector<JsonMember> kept;
        sb::fuzz::check(scan_object(once, kept) && !mark_superseded(kept, marks));
        sb::fuzz::check(any == (kept.size() < members.size()));
      }
    }
  }

  // A stream, whole and in pieces.
  const bool include_usage = (hash(bytes) & 1) != 0;
  const StreamRun whole = run_stream({bytes}, include_usage, translator.get());
  const StreamRun split = run_stream(sb::fuzz::split(bytes), include_usage, translator.get());
  check_sse(whole.out);
  sb::fuzz::check(whole.out == split.out);
  sb::fuzz::check(whole.fed_ok == split.fed_ok && whole.finished == split.finished);
  sb::fuzz::check(same_usage(whole.usage, split.usage));
  sb::fuzz::check(whole.error_status == split.error_status);
  return 0;
}
