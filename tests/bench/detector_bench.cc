// Scan throughput of the sensitivity detector (policies/detector.h) with every built-in entity
// enabled: clean English-like prose, clean Unicode-heavy prose (CJK, Cyrillic, accented Latin,
// emoji), PII-dense text (plain and pasted: non-breaking spaces, Unicode dashes, full-width digits,
// zero-width characters), and a chat of many short messages.
//
//   ./build/tests/bench/detector_bench [--benchmark_filter=...]
//
// Inputs are generated from a fixed seed, so runs compare.

#include <benchmark/benchmark.h>

#include <array>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"
#include "policies/detector.h"

namespace {

using sb::policies::Detection;
using sb::policies::Detector;

const Detector& detector() {
  static const std::unique_ptr<Detector> d = [] {
    sb::config::SensitivitySettings s;
    for (const std::string& name : sb::config::builtin_entities()) {
      s.entities.push_back(sb::config::EntityLevel{name, 3});
    }
    s.custom.push_back(
        sb::config::CustomDetector{"codename", "\\bPROJECT-(ATLAS|ORION)\\b", {}, 2});
    s.custom.push_back(
        sb::config::CustomDetector{"partners", "", {"Blue Falcon", "Northwind", "Contoso"}, 1});
    std::string error;
    auto compiled = Detector::compile(s, error);
    if (!compiled) {
      std::fprintf(stderr, "detector does not compile: %s\n", error.c_str());
      std::abort();
    }
    return compiled;
  }();
  return *d;
}

constexpr std::array<std::string_view, 96> kWords = {
    "the",      "of",         "and",      "to",         "in",      "a",         "is",
    "that",     "for",        "it",       "as",         "was",     "with",      "be",
    "by",       "on",         "not",      "he",         "this",    "are",       "or",
    "his",      "from",       "at",       "which",      "but",     "have",      "an",
    "had",      "they",       "you",      "were",       "their",   "one",       "all",
    "we",       "can",        "her",      "has",        "there",   "been",      "if",
    "more",     "when",       "will",     "would",      "who",     "so",        "no",
    "summary",  "report",     "customer", "request",    "model",   "response",  "please",
    "explain",  "function",   "results",  "quarterly",  "revenue", "analysis",  "meeting",
    "schedule", "deployment", "service",  "database",   "latency", "gateway",   "policy",
    "budget",   "document",   "section",  "question",   "answer",  "example",   "between",
    "because",  "through",    "without",  "should",     "another", "important", "review",
    "Monday",   "London",     "Python",   "Kubernetes", "JSON",    "API",       "HTTP",
    "Q3",       "v2",         "OK",       "Alice",      "Bob",
};

constexpr std::array<std::string_view, 10> kNumbers = {
    "2024", "12%", "3.5", "42", "10-12", "1.22.0", "$4.5M", "#48213", "10:30", "7th",
};

constexpr std::array<std::string_view, 12> kPii = {
    "alice.smith@example.com",
    "+1 (415) 555-2671",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "123-45-6789",
    "10.20.30.40",
    "AKIAIOSFODNN7EXAMPLE",
    "020 7946 0958",
    "2001:db8::8a2e:370:7334",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "5500-0000-0000-0004",
    "bob@mail.example.co.uk",
};

/// Mixed-script words: Chinese, Japanese, Russian, Greek, accented Latin, emoji, typographic
/// punctuation (curly quotes, en dash, ellipsis, non-breaking space).
constexpr std::array<std::string_view, 32> kUnicodeWords = {
    "数据",     "安全",      "网关",   "请求",    "模型",         "東京",   "ありがとう", "データ",
    "Привет",   "отчёт",     "запрос", "данные",  "безопасность", "Ελλάδα", "λόγος",      "café",
    "naïve",    "Straße",    "façade", "Øresund", "Ångström",     "señor",  "😀",          "🚀",
    "“quoted”", "2024–2025", "…",      "«ёлка»",  "\u00a0",       "größer", "中文文本",   "日本語"};

/// Clean Unicode-heavy prose of `size` bytes (cut on a code point boundary).
std::string make_unicode_text(std::size_t size) {
  std::mt19937 rng(11);
  std::string out;
  out.reserve(size + 64);
  while (out.size() < size) {
    std::string_view word = kUnicodeWords[rng() % kUnicodeWords.size()];
    out += word;
    out += (rng() % 9 == 0) ? "。" : (rng() % 7 == 0 ? ", " : " ");
  }
  std::size_t cut = size;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  out.resize(cut);
  return out;
}

/// Sensitive values as people paste them: NBSP and thin spaces, Unicode hyphens and minus,
/// full-width digits and at sign, zero-width characters, glued to words, dots as separators.
constexpr std::array<std::string_view, 8> kPastedPii = {
    "4111\u00A01111\u00A01111\u00A01111",                    // no-break spaces
    "078\u201005\u20101120",                                 // U+2010 hyphens
    "\uFF14\uFF11\uFF11\uFF11 1111 1111 1111",               // full-width digits
    "alice\uFF20example.com",                                // full-width at sign
    "4111\u200B1111\u200B1111\u200B1111",                    // zero-width spaces
    "card4111111111111111",                                  // glued to a word
    "4111.1111.1111.1111",                                   // dots
    "DE89\u20093704\u20090044\u20090532\u20090130\u200900",  // thin spaces
};

/// English-like prose of `size` bytes; with `pii`, one sensitive value every sentence or two.
std::string make_text(std::size_t size, bool pii) {
  std::mt19937 rng(pii ? 7 : 3);
  std::string out;
  out.reserve(size + 256);
  std::size_t sentence = 0;
  while (out.size() < size) {
    const int words = 8 + static_cast<int>(rng() % 13);
    for (int w = 0; w < words; ++w) {
      std::string_view word = kWords[rng() % kWords.size()];
      if (rng() % 16 == 0) {
        word = kNumbers[rng() % kNumbers.size()];
      }
      if (w == 0 && !out.empty()) {
        out += ' ';
      } else if (w > 0) {
        out += (rng() % 12 == 0) ? ", " : " ";
      }
      if (w == 0 && word[0] >= 'a' && word[0] <= 'z') {
        out += static_cast<char>(word[0] - 'a' + 'A');
        out += word.substr(1);
      } else {
        out += word;
      }
    }
    if (pii && sentence % 2 == 0) {
      out += " ";
      out += kPii[(sentence / 2) % kPii.size()];
    }
    out += (rng() % 5 == 0) ? "?" : ".";
    if (rng() % 6 == 0) {
      out += '\n';
    }
    ++sentence;
  }
  out.resize(size);
  return out;
}

void scan_one(benchmark::State& state, bool pii) {
  const std::string text = make_text(static_cast<std::size_t>(state.range(0)), pii);
  const std::array<std::string_view, 1> texts = {text};
  const Detector& d = detector();
  for (auto _ : state) {
    Detection found = d.scan(texts);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}

void BM_ScanClean(benchmark::State& state) {
  scan_one(state, false);
}
void BM_ScanPiiDense(benchmark::State& state) {
  scan_one(state, true);
}

void scan_text(benchmark::State& state, const std::string& text) {
  const std::array<std::string_view, 1> texts = {text};
  const Detector& d = detector();
  for (auto _ : state) {
    Detection found = d.scan(texts);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}

void BM_ScanUnicodeClean(benchmark::State& state) {
  scan_text(state, make_unicode_text(static_cast<std::size_t>(state.range(0))));
}

/// English-like prose with one pasted-style sensitive value every sentence or two.
void BM_ScanPastedPiiDense(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::string prose = make_text(size, false);
  std::string text;
  std::size_t k = 0;
  for (std::size_t i = 0; i < prose.size(); ++i) {
    text += prose[i];
    if (prose[i] == '.' && text.size() < size) {
      text += ' ';
      text += kPastedPii[k++ % kPastedPii.size()];
    }
  }
  scan_text(state, text);
}

/// A conversation: `range(0)` messages of ~600 bytes, scanned as one request.
void BM_ScanChatMessages(benchmark::State& state) {
  std::vector<std::string> messages;
  for (int i = 0; i < state.range(0); ++i) {
    messages.push_back(make_text(560 + static_cast<std::size_t>(i % 7) * 13, false));
  }
  std::vector<std::string_view> texts(messages.begin(), messages.end());
  std::size_t bytes = 0;
  for (const auto& m : messages) {
    bytes += m.size();
  }
  const Detector& d = detector();
  for (auto _ : state) {
    Detection found = d.scan(texts);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(bytes));
}

/// Adversarial 1 MiB inputs built to maximise candidate reports; the scan must stay linear.
void BM_ScanHostile(benchmark::State& state) {
  static constexpr std::array<std::string_view, 12> kUnits = {
      "1 ", "12-",       "1.",         "a@a.",   "::", "AB12 ", "a:", "1:2:3:4:5:6:7:8 ",
      "@",  "s://u:pw@", "s://u:pw@[", "npm_a1",
  };
  const std::string_view unit = kUnits[static_cast<std::size_t>(state.range(0))];
  std::string text;
  while (text.size() < (1u << 20)) {
    text += unit;
  }
  std::string label = "\"";
  label.append(unit).append("\"...");
  state.SetLabel(label);
  const std::array<std::string_view, 1> texts = {text};
  const Detector& d = detector();
  for (auto _ : state) {
    Detection found = d.scan(texts);
    benchmark::DoNotOptimize(found);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}

BENCHMARK(BM_ScanClean)->Arg(4 << 10)->Arg(256 << 10);
BENCHMARK(BM_ScanPiiDense)->Arg(4 << 10)->Arg(256 << 10);
BENCHMARK(BM_ScanUnicodeClean)->Arg(4 << 10)->Arg(256 << 10);
BENCHMARK(BM_ScanPastedPiiDense)->Arg(4 << 10)->Arg(256 << 10);
BENCHMARK(BM_ScanChatMessages)->Arg(12);
BENCHMARK(BM_ScanHostile)->DenseRange(0, 11);

}  // namespace
