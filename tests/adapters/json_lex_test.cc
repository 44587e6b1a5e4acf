// json_lex (adapters/json_lex.h) against Boost.JSON's basic_parser: whatever the fast reader takes
// on, basic_parser accepts and reports with the same events (strings joined from their parts).
// Fixed cases, then generated documents and their byte-level mutations.

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "tests/adapters/json_lex_trace.h"

namespace sb::testing {
namespace {

// The DOM json_lex::parse() builds is boost::json::parse()'s, and so is its refusal.
void same_dom_as_boost(const std::string& text) {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::system::error_code fast_ec;
  boost::system::error_code slow_ec;
  const boost::json::value fast = adapters::json_lex::parse(text, fast_ec, {}, opts);
  const boost::json::value slow = boost::json::parse(text, slow_ec, {}, opts);
  EXPECT_EQ(bool(fast_ec), bool(slow_ec)) << "text: " << text;
  // NaN (Boost reads `0e400` as one) is unequal to itself: then the texts are compared.
  EXPECT_TRUE(fast == slow || boost::json::serialize(fast) == boost::json::serialize(slow))
      << "text: " << text;
}

// Checks one text; returns whether the fast reader took it on.
bool same_as_boost(const std::string& text) {
  same_dom_as_boost(text);
  EXPECT_EQ(lex_places(text), "") << "text: " << text;  // where json_lex says its tokens lie
  bool taken = false;
  const std::string fast = lex_trace(text, taken);
  if (taken) {
    const std::string slow = boost_trace(text);
    std::size_t at = 0;
    while (at < fast.size() && at < slow.size() && fast[at] == slow[at]) {
      ++at;
    }
    const std::size_t from = at < 40 ? 0 : at - 40;
    EXPECT_EQ(fast, slow) << "text: " << text << "\nfirst difference: fast ["
                          << fast.substr(from, 80) << "] boost [" << slow.substr(from, 80) << "]";
  }
  return taken;
}

TEST(JsonLexTest, TakesOnWhatAgentsSend) {
  const std::vector<std::string> taken = {
      R"({"model":"m","messages":[{"role":"user","content":"line one\nline \"two\"\tend"}]})",
      R"({"a":[1,2,3,0,123456789012345678],"b":{"c":true,"d":false,"e":null},"f":[]})",
      R"(  {"k":"caf\u00e9 \ud83d\ude00 \u0041\/\\\b\f\r","t":0.7,"n":-5,"x":1e3,"big":12345678901234567890} )",
      "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
      R"("just a string")",
      R"(42)",
      R"([])",
      R"({})",
      std::string(R"({"long":")") + std::string(9000, 'x') + "\\n" + std::string(9000, 'y') + "\"}",
  };
  for (const std::string& t : taken) {
    EXPECT_TRUE(same_as_boost(t)) << t;
    EXPECT_FALSE(boost_trace(t).empty()) << t;
  }
}

// Source code in a string: lines of every length between one-byte escapes, with `\u` escapes,
// non-ASCII text, invalid escapes and raw control bytes among them, decoded sixteen bytes a step
// after the first escape (Reader::copy_escaped); strings long enough to cross the 4 KB piece in
// which the decoded text is handed over, some ending right at the end of the text.
TEST(JsonLexTest, EscapedTextReadsAsBoostReadsIt) {
  std::mt19937 rng(20261205);
  static constexpr const char* kEscapes[] = {"\\n", "\\\"", "\\\\", "\\t",     "\\/",
                                             "\\r", "\\b",  "\\f",  "\\u00e9", "\\ud83d\\ude00"};
  static constexpr const char* kRare[] = {"\xc3\xa9", "\\x", "\x01", "\\u12", "\xff"};
  std::size_t taken = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = i % 2 == 0 ? "{\"k\":\"" : "\"";
    const int lines = std::uniform_int_distribution<int>(1, i % 10 == 0 ? 400 : 12)(rng);
    for (int l = 0; l < lines; ++l) {
      const int len = std::uniform_int_distribution<int>(0, 70)(rng);
      for (int c = 0; c < len; ++c) {
        text += static_cast<char>('a' + (c * 7 + l) % 26);
      }
      const bool rare = std::uniform_int_distribution<int>(0, 199)(rng) == 0;
      text += rare ? kRare[std::uniform_int_distribution<std::size_t>(0, std::size(kRare) - 1)(rng)]
                   : kEscapes[std::uniform_int_distribution<std::size_t>(0, 9)(rng) < 7
                                  ? 0
                                  : std::uniform_int_distribution<std::size_t>(
                                        1, std::size(kEscapes) - 1)(rng)];
    }
    const int cut = std::uniform_int_distribution<int>(0, 9)(rng);
    text += i % 2 == 0 ? "\"}" : "\"";
    if (cut == 0) {
      text.resize(text.size() - 1);  // unterminated: refused by both
    }
    taken += same_as_boost(text) ? 1 : 0;
  }
  EXPECT_GT(taken, 2000u);  // most are valid and taken on
}

// A string's end, first escape, non-ASCII or control byte at every offset of the 16-byte step and
// of the 64-byte blocks after it (find_special), before and after the first escape.
TEST(JsonLexTest, TheFirstSpecialByteIsFoundWhereverItIs) {
  static constexpr const char* kSpecials[] = {"", "\\n", "\xc3\xa9", "\x1f", "\\u00e9"};
  for (std::size_t at = 0; at < 160; ++at) {
    for (const char* special : kSpecials) {
      const std::string plain(at, 'p');
      EXPECT_TRUE(same_as_boost("{\"k\":\"" + plain + special + "tail\"}") ||
                  std::string_view(special) == "\x1f")
          << at << " " << special;
      same_as_boost("[\"" + plain + special + "\"," + "\"x\\n" + plain + special + "\"]");
    }
  }
}

TEST(JsonLexTest, LeavesToBoostWhatItDoesNotTakeOn) {
  const std::vector<std::string> refused = {
      "",
      "{",
      R"({"a":1,})",
      R"([1,])",
      R"({"a" 1})",
      R"("\x")",
      R"("\ud800")",
      R"("\udc00x")",
      "\"tab\tin\"",
      "\"\xc3\x28\"",
      "\"\xed\xa0\x80\"",
      R"(01)",
      R"(1.)",
      R"(-)",
      R"({"a":1} x)",
      R"(tru)",
      R"(nul)",
      R"([1 2])",
      R"(/*c*/1)",
  };
  for (const std::string& t : refused) {
    bool taken = true;
    lex_trace(t, taken);
    EXPECT_FALSE(taken) << t;
  }
  // Nesting as deep as the limit is left to basic_parser.
  bool taken = true;
  lex_trace(std::string(128, '[') + std::string(128, ']'), taken);
  EXPECT_FALSE(taken);
  EXPECT_TRUE(same_as_boost(std::string(127, '[') + std::string(127, ']')));
}

// A random document: objects, arrays, strings with escapes and UTF-8, numbers of every form.
void generate(std::mt19937& rng, int depth, std::string& out) {
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  static const char* kPieces[] = {"a",
                                  "hello world",
                                  "\\n",
                                  "\\\"",
                                  "\\\\",
                                  "\\/",
                                  "\\t",
                                  "\\u00e9",
                                  "\\u20ac",
                                  "\\ud83d\\ude00",
                                  "\xc3\xa9",
                                  "\xe2\x82\xac",
                                  "\xf0\x9f\x98\x80",
                                  "{\\\"k\\\": 1}",
                                  "  "};
  static const char* kNumbers[] = {"0",
                                   "7",
                                   "-3",
                                   "0.5",
                                   "1e10",
                                   "-0",
                                   "2.5E-3",
                                   "123456789012345678",
                                   "1234567890123456789",
                                   "99999999999999999999",
                                   "-9223372036854775808",
                                   "1e400"};
  const int kind = depth > 6 ? 2 + pick(3) : pick(5);
  switch (kind) {
    case 0: {
      out += '{';
      const int n = pick(4);
      for (int i = 0; i < n; ++i) {
        out += i ? ",\"" : "\"";
        out += kPieces[pick(15)];
        out += "\":";
        generate(rng, depth + 1, out);
      }
      out += '}';
      break;
    }
    case 1: {
      out += '[';
      const int n = pick(4);
      for (int i = 0; i < n; ++i) {
        out += i ? ", " : "";
        generate(rng, depth + 1, out);
      }
      out += ']';
      break;
    }
    case 2: {
      out += '"';
      const int n = pick(6);
      for (int i = 0; i < n; ++i) {
        out += kPieces[pick(15)];
      }
      out += '"';
      break;
    }
    case 3:
      out += kNumbers[pick(12)];
      break;
    default:
      out += pick(2) ? "true" : "null";
  }
}

TEST(JsonLexTest, GeneratedDocumentsAndMutationsReadAsBoostReadsThem) {
  std::mt19937 rng(1205);
  std::size_t taken = 0;
  std::size_t mutated_taken = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc;
    generate(rng, 0, doc);
    taken += same_as_boost(doc) ? 1 : 0;
    // One byte changed, dropped or doubled.
    for (int m = 0; m < 3 && !doc.empty(); ++m) {
      std::string bad = doc;
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, bad.size() - 1)(rng);
      static constexpr char kBytes[] = "\"\\{}[],:0-.eu \x01\x80\xc3\xff";
      switch (m) {
        case 0:
          bad[at] = kBytes[std::uniform_int_distribution<int>(0, sizeof kBytes - 2)(rng)];
          break;
        case 1:
          bad.erase(at, 1);
          break;
        default:
          bad.insert(at, 1, bad[at]);
      }
      mutated_taken += same_as_boost(bad) ? 1 : 0;
    }
  }
  // The comparison means something only if most documents (and some mutants) are taken on.
  EXPECT_GT(taken, 10000u);
  EXPECT_GT(mutated_taken, 5000u);
}

}  // namespace
}  // namespace sb::testing
