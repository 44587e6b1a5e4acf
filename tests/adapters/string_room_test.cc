#include "adapters/string_room.h"

#include <string>

#include <gtest/gtest.h>

namespace sb::adapters {
namespace {

TEST(StringRoomTest, GrowingKeepsWhatWasThereAndGivesRoomToWrite) {
  std::string s = "head";
  resize_for_overwrite(s, 70'000);
  ASSERT_EQ(s.size(), 70'000u);
  EXPECT_EQ(s.substr(0, 4), "head");
  EXPECT_EQ(s.c_str()[s.size()], '\0');  // still a terminated string
  s.replace(4, s.size() - 4, std::string(s.size() - 4, 'x'));
  EXPECT_EQ(s.size(), 70'000u);
  EXPECT_EQ(s.find_first_not_of('x', 4), std::string::npos);
}

TEST(StringRoomTest, TheSizeIsTheOneAskedForWhateverTheCapacityGrowsTo) {
  // From the small-string buffer (15 bytes) to every size up to past twice it: the capacity
  // doubles, the size must not follow it.
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string s;
    resize_for_overwrite(s, n);
    EXPECT_EQ(s.size(), n);
    std::string grown(20, 'a');
    grown.shrink_to_fit();
    resize_for_overwrite(grown, 20 + n);
    EXPECT_EQ(grown.size(), 20 + n);
  }
}

TEST(StringRoomTest, ShrinkingKeepsThePrefix) {
  std::string s(100, 'a');
  s[1] = 'b';
  resize_for_overwrite(s, 2);
  EXPECT_EQ(s, "ab");
  resize_for_overwrite(s, 0);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace sb::adapters
