// libFuzzer target: the sensitivity detector (policies/detector.h) on arbitrary text.
//
// Oracles: a scan never crashes (ASan, UBSan) and never fails on text a thread can hold; each
// rule anchored on runs of digits (the digit run, IBAN and international phone number) reports
// exactly the ends its expression, compiled alone by Hyperscan, reports on the same bytes; and
// the service tokens found from digits (token_anchors, no expression) are reported exactly where
// a plain search of their prefixes finds them; and the credential search (blocks of `:` and `=`,
// filtered) finds exactly what checking every operator finds, both ways.

#include <hs/hs.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policies/config.h"
#include "policies/cpu.h"
#include "policies/detector.h"
#include "policies/detector_rules_internal.h"
#include "tests/fuzz/fuzz_split.h"
#include "tests/policies/token_reference.h"

namespace {

namespace rules = sb::policies::rules;

struct Oracle {
  const rules::Rule* rule = nullptr;
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
};

// Freed at exit, so the leak check sees nothing of them.
struct Oracles : std::vector<Oracle> {
  ~Oracles() {
    for (Oracle& o : *this) {
      hs_free_scratch(o.scratch);
      hs_free_database(o.db);
    }
  }
};

Oracles compile_oracles() {
  Oracles out;
  for (const rules::Rule& rule : rules::builtin_rules()) {
    if (rule.anchors == nullptr || rule.expression == nullptr) {
      continue;
    }
    Oracle o{&rule};
    hs_compile_error_t* err = nullptr;
    sb::fuzz::check(hs_compile(rule.expression, rule.flags, HS_MODE_BLOCK, nullptr, &o.db, &err) ==
                    HS_SUCCESS);
    sb::fuzz::check(hs_alloc_scratch(o.db, &o.scratch) == HS_SUCCESS);
    out.push_back(o);
  }
  return out;
}

std::unique_ptr<sb::policies::Detector> every_entity() {
  sb::config::SensitivitySettings s;
  for (const std::string& name : sb::config::builtin_entities()) {
    s.entities.push_back(sb::config::EntityLevel{name, 3});
  }
  std::string error;
  auto d = sb::policies::Detector::compile(s, error);
  sb::fuzz::check(d != nullptr);
  return d;
}

int on_report(unsigned, unsigned long long, unsigned long long to, unsigned, void* ctx) {
  static_cast<std::vector<std::size_t>*>(ctx)->push_back(static_cast<std::size_t>(to));
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Oracles oracles = compile_oracles();
  static const std::unique_ptr<sb::policies::Detector> detector = every_entity();
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<rules::Span> runs;
  rules::digit_runs(text, runs);
  for (const Oracle& o : oracles) {
    std::vector<std::size_t> expected;
    sb::fuzz::check(hs_scan(o.db, text.data(), static_cast<unsigned>(text.size()), 0, o.scratch,
                            on_report, &expected) == HS_SUCCESS);
    std::sort(expected.begin(), expected.end());
    expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
    std::vector<std::size_t> ends;
    o.rule->anchors(text, runs, ends);
    sb::fuzz::check(ends == expected);
  }
  std::vector<std::size_t> tokens;
  rules::token_anchors(text, runs, tokens);
  sb::fuzz::check(tokens == sb::policies::testing::token_ends(text));

  std::vector<rules::Span> plain;
  std::size_t next = 0;
  for (std::size_t op = 0; op < text.size(); ++op) {
    rules::Span value;
    if ((text[op] == ':' || text[op] == '=' || text[op] == '-') && op >= next &&
        rules::credential_at_operator(text, op, value, next)) {
      plain.push_back(value);
    }
  }
  const auto same = [&](const std::vector<rules::Span>& found) {
    sb::fuzz::check(found.size() == plain.size());
    for (std::size_t i = 0; i < found.size(); ++i) {
      sb::fuzz::check(found[i].begin == plain[i].begin && found[i].end == plain[i].end);
      sb::fuzz::check(found[i].begin < found[i].end && found[i].end <= text.size());
    }
  };
  std::vector<rules::Span> credentials;
  rules::credentials_with(text, credentials, false);
  same(credentials);
  if (sb::policies::cpu::has_avx2()) {
    credentials.clear();
    rules::credentials_with(text, credentials, true);
    same(credentials);
  }

  // The whole detector, on the text as one document and in pieces.
  const std::string_view one[] = {text};
  sb::fuzz::check(detector->scan(one).level >= -1);
  const std::vector<std::string_view> pieces = sb::fuzz::split(text);
  (void)detector->scan(pieces);
  return 0;
}
