// libFuzzer target: what the gateway reads from a client body before routing it. The bytes are
// parsed as JSON the way the data plane does; an object goes through every collector in
// adapters/chat_facts (chat, completions, embeddings) and the texts they return through the
// detector compiled from the shipped config's sensitivity settings (config/switchboard.yaml).
//
// Oracles: the texts the facts hold are views into the parsed document (ASan checks every read)
// and the detector's answer is a configured level or -1.

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/chat_facts.h"
#include "policies/config.h"
#include "policies/detector.h"
#include "tests/fuzz/fuzz_split.h"

namespace {

std::unique_ptr<sb::policies::Detector> g_detector;
int g_levels = 0;

void scan(const sb::adapters::ChatFacts& facts) {
  const sb::policies::Detection d = g_detector->scan(facts.texts);
  sb::fuzz::check(d.level >= -1 && d.level < g_levels);
  for (const auto& e : d.entities) {
    sb::fuzz::check(e.entity < g_detector->entity_names().size() && e.count > 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto loaded = sb::config::load_file(SB_SOURCE_DIR "/config/switchboard.yaml",
                                            [](const std::string&) { return std::nullopt; });
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    std::abort();
  }
  std::string error;
  g_detector = sb::policies::Detector::compile(loaded.config->sensitivity, error);
  if (!g_detector) {
    std::fprintf(stderr, "detector: %s\n", error.c_str());
    std::abort();
  }
  g_levels = static_cast<int>(loaded.config->sensitivity.levels.names.size());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The text scan alone, on raw bytes (any encoding, split as message parts would be).
  const auto pieces = sb::fuzz::split(bytes);
  const sb::policies::Detection raw = g_detector->scan(pieces);
  sb::fuzz::check(raw.level >= -1 && raw.level < g_levels);

  boost::json::parse_options opts;
  opts.max_depth = 128;  // as the data plane parses bodies
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(bytes, ec, {}, opts);
  if (ec || !body.is_object()) {
    return 0;
  }
  sb::adapters::ChatFacts facts;
  sb::adapters::collect_chat_facts(body.get_object(), facts);
  scan(facts);
  sb::adapters::collect_completion_facts(body.get_object(), facts);
  scan(facts);
  sb::adapters::collect_embedding_facts(body.get_object(), facts);
  scan(facts);
  return 0;
}
