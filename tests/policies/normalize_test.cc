#include "policies/normalize.h"

#include "policies/cpu.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace sb::policies::normalize {
namespace {

std::string norm(std::string_view text) {
  std::string out;
  std::string scratch;
  EXPECT_TRUE(append_normalized(text, out, scratch)) << text;
  return out;
}

TEST(NormalizeTest, AsciiIsRecognised) {
  EXPECT_TRUE(is_ascii(""));
  EXPECT_TRUE(is_ascii("plain text 4111 1111 1111 1111 with\ttabs\nand lines"));
  EXPECT_TRUE(is_ascii(std::string(1000, 'a')));
  EXPECT_FALSE(is_ascii("caf\xc3\xa9"));
  // A high byte at every position of a long text, including the word-wise part and the tail.
  for (std::size_t i = 0; i < 70; ++i) {
    std::string s(70, 'x');
    s[i] = '\x80';
    EXPECT_FALSE(is_ascii(s)) << i;
  }
}

TEST(NormalizeTest, AsciiFindsAHighByteAtEveryPositionOfEveryBlock) {
  // 64-, 16- and 8-byte blocks and the tail, for every length up to 150, each way the CPU allows.
  std::vector<bool (*)(std::string_view)> ways = {is_ascii, detail::is_ascii_sse2};
  if (cpu::has_avx2()) {
    ways.push_back(detail::is_ascii_avx2);
  }
  for (const auto ascii : ways) {
    for (std::size_t n = 1; n <= 150; ++n) {
      EXPECT_TRUE(ascii(std::string(n, '\x7f'))) << n;
      for (std::size_t i = 0; i < n; ++i) {
        std::string s(n, 'x');
        s[i] = '\xff';
        ASSERT_FALSE(ascii(s)) << n << " " << i;
        ASSERT_FALSE(ascii(std::string_view(s).substr(i))) << n << " " << i;
        s[i] = '\x80';
        ASSERT_FALSE(ascii(s)) << n << " " << i;
      }
    }
  }
}

TEST(NormalizeTest, AsciiPassesUnchanged) {
  const std::string text = "card 4111-1111 1111.1111, mail a@b.com\tend\n";
  EXPECT_EQ(norm(text), text);
}

TEST(NormalizeTest, CompatibilityFoldingMakesFullWidthAscii) {
  EXPECT_EQ(norm("\uFF14\uFF11\uFF11\uFF11"), "4111");             // full-width digits
  EXPECT_EQ(norm("alice\uFF20example.com"), "alice@example.com");  // full-width at sign
  EXPECT_EQ(norm("alice\uFE6Bexample.com"), "alice@example.com");  // small at sign
  EXPECT_EQ(norm("\uFF21\uFF22\uFF43"), "ABc");                    // full-width letters
  EXPECT_EQ(norm("\u2460\u00B2\u2082"), "122");                    // circled, super, sub
  EXPECT_EQ(norm("\U0001D7D2\U0001D7D9"), "41");                   // mathematical digits
  EXPECT_EQ(norm("\uFB01le"), "file");                             // ligature
  EXPECT_EQ(norm("caf\u00E9"), "caf\u00E9");                       // composed stays
  EXPECT_EQ(norm("cafe\u0301 ok"), "caf\u00E9 ok");                // composed by NFKC
  EXPECT_EQ(norm("x\u0301 ok"), "x ok");                           // mark on ASCII dropped
}

TEST(NormalizeTest, EveryDashBecomesHyphenMinus) {
  for (const char* dash : {"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212",
                           "\uFE58", "\uFE63", "\uFF0D", "\u2E3A", "\u301C", "\u058A", "\u1806"}) {
    EXPECT_EQ(norm(std::string("1") + dash + "2"), "1-2") << dash;
  }
}

TEST(NormalizeTest, EverySpaceBecomesSpace) {
  for (const char* space : {"\u00A0", "\u1680", "\u2000", "\u2002", "\u2003", "\u2007", "\u2008",
                            "\u2009", "\u200A", "\u202F", "\u205F", "\u3000"}) {
    EXPECT_EQ(norm(std::string("1") + space + "2"), "1 2") << space;
  }
  EXPECT_EQ(norm("1\u20282\u20293"), "1\n2\n3");  // line and paragraph separators
}

TEST(NormalizeTest, DefaultIgnorablesAreRemoved) {
  for (const char* ignorable :
       {"\u200B", "\u200C", "\u200D", "\u2060", "\uFEFF", "\u00AD", "\uFE0F", "\U000E0100",
        "\u180E", "\u200E", "\u202E", "\u2066", "\u034F", "\u115F", "\U000E0041"}) {
    EXPECT_EQ(norm(std::string("41") + ignorable + "11"), "4111") << ignorable;
  }
}

TEST(NormalizeTest, DigitsOfOtherScriptsBecomeAscii) {
  EXPECT_EQ(norm("\u0664\u0661\u0661\u0661"), "4111");  // Arabic-Indic
  EXPECT_EQ(norm("\u096A\u0967\u0967\u0967"), "4111");  // Devanagari
  EXPECT_EQ(norm("4\uFE0F\u20E3"), "4");                // keycap
  EXPECT_EQ(norm("4\u03361\u0336"), "41");              // strike-through marks
}

TEST(NormalizeTest, InvalidUtf8BecomesSeparators) {
  EXPECT_EQ(norm("4111\xff"
                 "1111"),
            "4111 1111");
  EXPECT_EQ(norm("\xc3"), " ");                     // truncated at the end
  EXPECT_EQ(norm("a\xe2\x82z"), "a z");             // truncated in the middle
  EXPECT_EQ(norm("a\xc0\xafz"), "a  z");            // overlong '/'
  EXPECT_EQ(norm("a\xed\xa0\x80z").find('z'), 4u);  // encoded surrogate: separators, then z
  EXPECT_EQ(norm("\x80\x80x\xf8\x88\x80\x80\x80"), std::string("  x") + std::string(5, ' '));
  // Valid text around invalid bytes is still normalised.
  EXPECT_EQ(norm("\uFF14\xfe\u00A0@"), "4  @");
}

TEST(NormalizeTest, GrowthIsCapped) {
  std::string out = "kept";
  std::string scratch;
  std::string grows;
  for (int i = 0; i < 10000; ++i) {
    grows += "\uFDFA";  // 3 bytes -> 33
  }
  EXPECT_FALSE(append_normalized(grows, out, scratch));
  EXPECT_EQ(out, "kept");                                           // nothing appended
  EXPECT_TRUE(append_normalized("\uFDFA\uFDFA ok", out, scratch));  // within the slack
}

TEST(NormalizeTest, AppendsAndReusesBuffers) {
  std::string out = "prefix|";
  std::string scratch;
  ASSERT_TRUE(append_normalized("\uFF11\u00A0\xff", out, scratch));
  ASSERT_TRUE(append_normalized("|\u200Bx", out, scratch));
  EXPECT_EQ(out, "prefix|1  |x");
  // A large text keeps within a constant factor and leaves no state behind.
  std::string big;
  for (int i = 0; i < 10000; ++i) {
    big += "\u0414\u00A0\u2013\uFF11\u200B";
  }
  std::string o;
  ASSERT_TRUE(append_normalized(big, o, scratch));
  EXPECT_EQ(o.size(), 10000u * 5);  // "Д" (2 bytes), space, dash, digit
}

}  // namespace
}  // namespace sb::policies::normalize
