#include "adapters/text_find.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/byte_scan.h"

namespace sb::adapters {
namespace {

using FindText = std::size_t (*)(std::string_view, std::string_view, std::size_t);
using FindMark = std::size_t (*)(std::string_view, std::size_t);

// The dispatched search and each way this CPU can run.
std::vector<FindText> text_ways() {
  std::vector<FindText> ways = {&find_text, &text_find_detail::find_text_sse2};
  if (byte_scan::detail::has_avx2()) {
    ways.push_back(&text_find_detail::find_text_avx2);
  }
  return ways;
}

std::vector<FindMark> mark_ways() {
  std::vector<FindMark> ways = {&find_key_mark, &text_find_detail::find_key_mark_sse2};
  if (byte_scan::detail::has_avx2()) {
    ways.push_back(&text_find_detail::find_key_mark_avx2);
  }
  return ways;
}

TEST(FindTextTest, AgreesWithStringFindAtEveryPositionAndLength) {
  // Needles placed at every offset of texts long and short enough to cross the 16- and 32-byte
  // blocks and the scalar tail, with decoys sharing the first or the last byte.
  for (const FindText find : text_ways()) {
    for (const std::string_view needle :
         {"e", "\\u", "\"error\"", "\"usage\"", "abcdefghijklmnopq"}) {
      for (std::size_t size = 0; size < 100; ++size) {
        for (std::size_t at = 0; at + needle.size() <= size; ++at) {
          std::string text(size, 'x');
          for (std::size_t i = 0; i + 1 < size; i += 5) {
            text[i] = needle.front();  // decoys
            text[i + 1] = needle.back();
          }
          text.replace(at, needle.size(), needle);
          for (const std::size_t from : {std::size_t{0}, at, at + 1, size}) {
            EXPECT_EQ(find(text, needle, from), text.find(needle, from))
                << "needle " << needle << " size " << size << " at " << at << " from " << from;
          }
        }
      }
    }
  }
}

TEST(FindTextTest, EmptyNeedleAndShortTextFindNothing) {
  for (const FindText find : text_ways()) {
    EXPECT_EQ(find("abc", "", 0), std::string_view::npos);
    EXPECT_EQ(find("ab", "abc", 0), std::string_view::npos);
    EXPECT_EQ(find("abc", "c", 4), std::string_view::npos);
    EXPECT_EQ(find("", "a", 0), std::string_view::npos);
  }
}

// Every pair that marks a key or an escape, at every offset across the blocks, with pairs that
// share one byte of a mark around it; each way finds what a byte-pair loop finds.
TEST(FindKeyMarkTest, FindsEveryMarkAByteAtATimeFinds) {
  const auto reference = [](std::string_view t, std::size_t from) {
    for (std::size_t i = from; i + 1 < t.size(); ++i) {
      if ((t[i] == '"' && (t[i + 1] == 'e' || t[i + 1] == 'u')) ||
          (t[i] == '\\' && t[i + 1] == 'u')) {
        return i;
      }
    }
    return std::string_view::npos;
  };
  for (const FindMark find : mark_ways()) {
    for (const std::string_view mark : {"\"e", "\"u", "\\u"}) {
      for (std::size_t size = 0; size < 100; ++size) {
        for (std::size_t at = 0; at + 2 <= size; ++at) {
          std::string text(size, 'x');
          for (std::size_t i = 0; i + 1 < size; i += 3) {
            text[i] = i % 2 == 0 ? '"' : 'u';  // decoys: `"x` and `xu`, `\e` below
          }
          if (size > 4) {
            text[size - 3] = '\\';
            text[size - 2] = 'e';
          }
          text.replace(at, 2, mark);
          for (const std::size_t from : {std::size_t{0}, at, at + 1, size, size + 1}) {
            EXPECT_EQ(find(text, from), reference(text, from))
                << "mark " << mark << " size " << size << " at " << at << " from " << from;
          }
        }
      }
    }
  }
}

// A CR or an LF at every offset across the blocks, from every start; each way finds what a byte
// loop finds.
TEST(FindLineEndTest, FindsEveryLineEndAByteAtATimeFinds) {
  std::vector<FindMark> ways = {&find_line_end, &text_find_detail::find_line_end_sse2};
  if (byte_scan::detail::has_avx2()) {
    ways.push_back(&text_find_detail::find_line_end_avx2);
  }
  const auto reference = [](std::string_view t, std::size_t from) {
    for (std::size_t i = from; i < t.size(); ++i) {
      if (t[i] == '\n' || t[i] == '\r') {
        return i;
      }
    }
    return std::string_view::npos;
  };
  for (const FindMark find : ways) {
    for (const char end : {'\n', '\r'}) {
      for (std::size_t size = 0; size < 100; ++size) {
        for (std::size_t at = 0; at <= size; ++at) {
          std::string text(size, 'x');
          for (std::size_t i = 0; i < size; i += 7) {
            text[i] = static_cast<char>(i % 2 == 0 ? 0x0b : 0x0e);  // decoys: VT, SO
          }
          if (at < size) {
            text[at] = end;  // at == size: none
          }
          for (const std::size_t from : {std::size_t{0}, at, at + 1, size, size + 1}) {
            EXPECT_EQ(find(text, from), reference(text, from))
                << "size " << size << " at " << at << " from " << from;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sb::adapters
