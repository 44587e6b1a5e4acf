// libFuzzer target: ChunkSource (gateway/pipeline/chunk_source.h), the reading of an OpenAI-wire
// upstream's stream by the Messages and Responses writers. The bytes are the upstream's body.
//
// Oracles: reading the upstream's own events (direct) gives what reading the relay's scrubbed copy
// of them gave (relayed): the same answers from feed() and finish(), the same usage and error, and
// the same bytes to the client, however the body is split (usage and error unless the writer
// failed on data that is no chunk: what the relay read past that point depends on the split). The
// one difference on purpose: an error member spelled with an escape (`\u0065rror`) is scrubbed only
// by the direct reading, so with a `\u` in the body the client's bytes are not compared. And the
// direct reading's output does not depend on the split.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/anthropic_inbound.h"
#include "adapters/openai_compatible.h"
#include "adapters/responses_inbound.h"
#include "gateway/pipeline/chunk_source.h"
#include "gateway/pipeline/scrubbed_stream.h"
#include "tests/fuzz/fuzz_split.h"
#include "tests/gateway/relayed_translator.h"

namespace {

using namespace sb;

constexpr std::string_view kSecret = "sk-fuzzbackendkey0123456789";
constexpr std::string_view kHost = "engine.internal.example";

struct Reading {
  std::string out;
  bool fed = true;
  bool finished = false;
  std::optional<adapters::Usage> usage;
  std::optional<adapters::TranslateError> error;
};

template <class Writer>
Reading read(adapters::StreamTranslator& attempt, const std::vector<std::string_view>& pieces,
             std::unique_ptr<Writer> writer) {
  gateway::ScrubbedStream scrubbed(attempt, kSecret, kHost);
  gateway::ChunkSource source(scrubbed, *writer);
  Reading r;
  for (const std::string_view piece : pieces) {
    r.fed = source.feed(piece, r.out);
    if (!r.fed) {
      break;
    }
  }
  if (r.fed) {
    r.finished = source.finish(r.out);
  }
  r.usage = source.usage();
  r.error = source.error();
  return r;
}

bool same_usage(const std::optional<adapters::Usage>& a, const std::optional<adapters::Usage>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || (a->input == b->input && a->output == b->output &&
                a->cached_input == b->cached_input && a->reasoning == b->reasoning);
}

bool same_error(const std::optional<adapters::TranslateError>& a,
                const std::optional<adapters::TranslateError>& b) {
  if (a.has_value() != b.has_value()) {
    return false;
  }
  return !a || (a->status == b->status && a->message == b->message);
}

template <class MakeWriter>
void check_writer(std::string_view body, const MakeWriter& make) {
  const std::vector<std::string_view> pieces = fuzz::split(body);
  adapters::OpenAIStreamTranslator upstream(true);
  testing::RelayedTranslator relay;
  const Reading direct = read(upstream, pieces, make());
  const Reading relayed = read(relay, pieces, make());
  fuzz::check(direct.fed == relayed.fed && direct.finished == relayed.finished);
  // When the writer failed on data that is no chunk, the direct reading stops there; the relay
  // also read the events after it that came in the same piece (their usage, an error event), so
  // what it reports then depends on the split: usage and error are compared otherwise.
  const bool writer_failed = !direct.fed && !direct.error;
  if (!writer_failed) {
    fuzz::check(same_usage(direct.usage, relayed.usage));
    fuzz::check(same_error(direct.error, relayed.error));
  }
  if (body.find("\\u") == std::string_view::npos) {
    fuzz::check(direct.out == relayed.out);
  }
  adapters::OpenAIStreamTranslator whole_upstream(true);
  const Reading whole = read(whole_upstream, {body}, make());
  fuzz::check(whole.out == direct.out && whole.fed == direct.fed &&
              whole.finished == direct.finished);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check_writer(body, [] { return std::make_unique<adapters::AnthropicStreamWriter>("alias", 3); });
  check_writer(body, [] {
    adapters::ResponseMeta meta;
    meta.id = "resp_fuzz";
    meta.model = "alias";
    return std::make_unique<adapters::ResponsesStreamWriter>(meta);
  });
  return 0;
}
