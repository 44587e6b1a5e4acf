#include "adapters/text_find.h"

#include <cstddef>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace sb::adapters {
namespace {

TEST(FindTextTest, AgreesWithStringFindAtEveryPositionAndLength) {
  // Needles placed at every offset of texts long and short enough to cross the 16-byte blocks
  // and the scalar tail, with decoys sharing the first or the last byte.
  for (const std::string_view needle :
       {"e", "\\u", "\"error\"", "\"usage\"", "abcdefghijklmnopq"}) {
    for (std::size_t size = 0; size < 70; ++size) {
      for (std::size_t at = 0; at + needle.size() <= size; ++at) {
        std::string text(size, 'x');
        for (std::size_t i = 0; i + 1 < size; i += 5) {
          text[i] = needle.front();  // decoys
          text[i + 1] = needle.back();
        }
        text.replace(at, needle.size(), needle);
        for (const std::size_t from : {std::size_t{0}, at, at + 1, size}) {
          EXPECT_EQ(find_text(text, needle, from), text.find(needle, from))
              << "needle " << needle << " size " << size << " at " << at << " from " << from;
        }
      }
    }
  }
}

TEST(FindTextTest, EmptyNeedleAndShortTextFindNothing) {
  EXPECT_EQ(find_text("abc", ""), std::string_view::npos);
  EXPECT_EQ(find_text("ab", "abc"), std::string_view::npos);
  EXPECT_EQ(find_text("abc", "c", 4), std::string_view::npos);
  EXPECT_EQ(find_text("", "a"), std::string_view::npos);
}

}  // namespace
}  // namespace sb::adapters
