// The digit run, IBAN and international phone rules are not compiled into Hyperscan: their
// anchors (rules::Rule::anchors) derive, from the buffer's runs of digits, the ends their
// expressions would report. Here each expression is compiled alone, as the detector used to, and
// its reports are compared end for end with the anchors' on generated text dense in digits,
// separators, upper-case letters and `+`.

#include <hs/hs.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "policies/cpu.h"
#include "policies/detector_rules_internal.h"
#include "tests/policies/token_reference.h"

namespace sb::policies::rules {
namespace {

struct Compiled {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  ~Compiled() {
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
};

std::unique_ptr<Compiled> compile(const Rule& rule) {
  auto c = std::make_unique<Compiled>();
  hs_compile_error_t* err = nullptr;
  if (hs_compile(rule.expression, rule.flags, HS_MODE_BLOCK, nullptr, &c->db, &err) != HS_SUCCESS) {
    ADD_FAILURE() << rule.expression << ": " << (err != nullptr ? err->message : "?");
    hs_free_compile_error(err);
    return nullptr;
  }
  EXPECT_EQ(hs_alloc_scratch(c->db, &c->scratch), HS_SUCCESS);
  return c;
}

std::vector<std::size_t> by_expression(const Compiled& c, std::string_view text) {
  std::vector<std::size_t> ends;
  auto on = [](unsigned, unsigned long long, unsigned long long to, unsigned, void* ctx) {
    static_cast<std::vector<std::size_t>*>(ctx)->push_back(static_cast<std::size_t>(to));
    return 0;
  };
  EXPECT_EQ(hs_scan(c.db, text.data(), static_cast<unsigned>(text.size()), 0, c.scratch, on, &ends),
            HS_SUCCESS);
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
  return ends;
}

std::vector<std::size_t> by_anchors(const Rule& rule, std::string_view text) {
  std::vector<Span> runs;
  digit_runs(text, runs);
  std::vector<std::size_t> ends;
  rule.anchors(text, runs, ends);
  return ends;
}

// Pieces of numbers, codes and words: digit groups, the separators of every rule, upper-case
// pairs, `+`, brackets and line breaks, sometimes ending the text with one.
std::string generated(std::mt19937& rng) {
  static constexpr std::string_view kPieces[] = {
      "0",    "1", "7", "12",  "345", "2026", "0099", "98765", " ",  ".",
      "-",    "/", "(", ")",   "+",   "+4",   "+0",   "\n",    "DE", "GB",
      "IBAN", "Q", "x", "abc", "  ",  "--",   "1 2",  "44 ",   "0.5"};
  std::string out;
  const int pieces = std::uniform_int_distribution<int>(0, 40)(rng);
  for (int i = 0; i < pieces; ++i) {
    out += kPieces[std::uniform_int_distribution<std::size_t>(0, std::size(kPieces) - 1)(rng)];
  }
  if (std::uniform_int_distribution<int>(0, 5)(rng) == 0) {
    out += '\n';
  }
  return out;
}

class DetectorAnchorsTest : public ::testing::Test {
 protected:
  static std::vector<const Rule*> anchored() {
    std::vector<const Rule*> out;
    for (const Rule& rule : builtin_rules()) {
      if (rule.anchors != nullptr && rule.expression != nullptr) {  // anchors for an expression
        out.push_back(&rule);
      }
    }
    return out;
  }
};

TEST_F(DetectorAnchorsTest, TheDigitRuleIbanAndPhoneAreAnchored) {
  EXPECT_EQ(anchored().size(), 3u);
}

TEST_F(DetectorAnchorsTest, AnchorsReportWhatTheExpressionsReported) {
  for (const Rule* rule : anchored()) {
    const auto compiled = compile(*rule);
    ASSERT_NE(compiled, nullptr);
    std::mt19937 rng(20261205);
    std::size_t reported = 0;
    for (int i = 0; i < 60000; ++i) {
      const std::string text = generated(rng);
      const auto expected = by_expression(*compiled, text);
      ASSERT_EQ(by_anchors(*rule, text), expected)
          << rule->expression << "\ntext: [" << text << "]";
      reported += expected.empty() ? 0 : 1;
    }
    // The generator must reach the expression's reports, or the comparison proves nothing.
    EXPECT_GT(reported, 2000u) << rule->expression;
  }
}

TEST_F(DetectorAnchorsTest, ValuesAndEdges) {
  const std::vector<std::string> texts = {
      "",
      "1234567",
      "123456",
      "card 4111 1111 1111 1111.",
      "call +1 (415) 555-2671\n",
      "+44 20 7946 0958",
      "+0 20 7946 0958",
      "IBAN DE89 3704 0044 0532 0130 00",
      "DE89370400440532013000\n",
      "GB82-WEST-1234-5698-7654-32 and more",
      "1.2.3.4 / 5-6-7-8",
      std::string(300, '9'),
      std::string(200, '1') + "\n",
      "AB12" + std::string(80, ' ') + "x",
  };
  for (const Rule* rule : anchored()) {
    const auto compiled = compile(*rule);
    ASSERT_NE(compiled, nullptr);
    for (const std::string& text : texts) {
      EXPECT_EQ(by_anchors(*rule, text), by_expression(*compiled, text))
          << rule->expression << "\ntext: [" << text << "]";
    }
  }
}

// The service tokens found from digits (token_anchors) are reported where a plain search of their
// prefixes finds them, on text built of their pieces: prefixes, letters, digits, separators.
TEST_F(DetectorAnchorsTest, TokensFoundFromDigitsAreWhereTheirPrefixesSayTheyAre) {
  static constexpr std::string_view kPieces[] = {
      "npm_", "gsk_",       "xai-",       "pplx-",
      "a",    "Z",          "q",          "7",
      "0",    "_",          "-",          " ",
      "=",    "abcdefghij", "0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  };
  std::mt19937 rng(20261206);
  std::size_t reported = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const std::size_t pieces = rng() % 40;
    for (std::size_t k = 0; k < pieces; ++k) {
      text += kPieces[rng() % std::size(kPieces)];
    }
    std::vector<Span> runs;
    digit_runs(text, runs);
    std::vector<std::size_t> ends;
    token_anchors(text, runs, ends);
    ASSERT_EQ(ends, testing::token_ends(text)) << "text: [" << text << "]";
    reported += ends.empty() ? 0 : 1;
  }
  EXPECT_GT(reported, 1000u);  // the text reaches the tokens, or the comparison proves nothing
}

TEST_F(DetectorAnchorsTest, DigitRunsAreMaximalAndInOrder) {
  std::vector<Span> runs;
  const std::string text =
      std::string(70, 'a') + "12x" + std::string(40, ' ') + "9" + std::string(100, 'b') + "345";
  digit_runs(text, runs);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(text.substr(runs[0].begin, runs[0].end - runs[0].begin), "12");
  EXPECT_EQ(text.substr(runs[1].begin, runs[1].end - runs[1].begin), "9");
  EXPECT_EQ(text.substr(runs[2].begin, runs[2].end - runs[2].begin), "345");
  EXPECT_EQ(runs[2].end, text.size());
  // Every byte value: only '0'..'9' are digits (the vector search's arithmetic wraps).
  std::string all;
  for (int b = 0; b < 256; ++b) {
    all += static_cast<char>(b);
    all += 'x';
  }
  all = all + all + all;
  runs.clear();
  digit_runs(all, runs);
  ASSERT_EQ(runs.size(), 30u);
  for (const Span& r : runs) {
    EXPECT_EQ(r.end - r.begin, 1u);
    EXPECT_TRUE(is_digit(all[r.begin]));
  }
}

// The digit search, each way the CPU allows, stops at the first digit wherever it stands (a
// 64-byte step, the 16-byte tail, the last bytes), at no other byte value, and at the end.
TEST_F(DetectorAnchorsTest, TheDigitSearchStopsAtTheFirstDigitEachWay) {
  std::vector<std::size_t (*)(const char*, std::size_t, std::size_t)> ways = {next_digit,
                                                                              next_digit_sse2};
  if (cpu::has_avx2()) {
    ways.push_back(next_digit_avx2);
  }
  for (const auto find : ways) {
    for (const char filler : {'a', '/', ':', '\x80', '\xff', '\0'}) {
      for (std::size_t n = 0; n < 200; ++n) {
        std::string text(n, filler);
        ASSERT_EQ(find(text.data(), 0, n), n) << n << " " << int(filler);
        for (std::size_t at = 0; at < n; ++at) {
          text[at] = static_cast<char>('0' + at % 10);
          if (at + 1 < n) {
            text[n - 1] = '7';  // a later digit does not count
          }
          for (const std::size_t from : {std::size_t{0}, at / 2, at}) {
            ASSERT_EQ(find(text.data(), from, n), at) << n << " " << at << " " << from;
          }
          text.assign(n, filler);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sb::policies::rules
