#include "adapters/byte_scan.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sb::adapters::byte_scan {
namespace {

const char* naive(const char* p, const char* end, bool non_ascii_stops) {
  for (; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || (non_ascii_stops && c >= 0x80)) {
      return p;
    }
  }
  return end;
}

using Find = const char* (*)(const char*, const char*);

struct Way {
  const char* name;
  Find find;
  bool non_ascii_stops;
};

std::vector<Way> ways() {
  std::vector<Way> w = {
      {"special", find_json_special, true},
      {"special sse2", detail::find_json_special_sse2, true},
      {"unsafe", find_json_unsafe, false},
      {"unsafe sse2", detail::find_json_unsafe_sse2, false},
  };
  if (detail::has_avx2()) {
    w.push_back({"special avx2", detail::find_json_special_avx2, true});
    w.push_back({"unsafe avx2", detail::find_json_unsafe_avx2, false});
  }
  return w;
}

// Every way stops at the first byte of its set wherever it stands (a 64-byte step, the 16-byte
// tail or the last bytes), at no byte outside it, and at the end when there is none.
TEST(ByteScanTest, EachWayStopsWhereTheNaiveSearchStops) {
  static constexpr char kStops[] = {'"', '\\', '\0', '\n', '\x1f', '\x80', '\xc3', '\xff'};
  static constexpr char kPasses[] = {'p', ' ', '~', '\x7f', '!', '#', '[', ']'};
  for (const Way& way : ways()) {
    for (std::size_t size = 0; size < 200; ++size) {
      for (const char filler : kPasses) {
        std::string text(size, filler);
        const char* b = text.data();
        ASSERT_EQ(way.find(b, b + size), b + size) << way.name << " " << size;
        for (std::size_t at = 0; at < size; ++at) {
          for (const char stop : kStops) {
            text[at] = stop;
            if (at + 1 < size) {
              text[size - 1] = '"';  // a later stop does not count
            }
            ASSERT_EQ(way.find(b, b + size), naive(b, b + size, way.non_ascii_stops))
                << way.name << " size " << size << " at " << at << " byte " << int(stop);
            text.assign(size, filler);
          }
        }
      }
    }
  }
}

TEST(ByteScanTest, RandomTextsAgreeWithTheNaiveSearch) {
  std::mt19937 rng(20261205);
  for (const Way& way : ways()) {
    for (int i = 0; i < 20000; ++i) {
      std::string text(rng() % 300, 'x');
      for (char& c : text) {
        c = rng() % 50 == 0 ? static_cast<char>(rng() % 256) : static_cast<char>(0x20 + rng() % 95);
      }
      const std::size_t from = text.empty() ? 0 : rng() % text.size();
      const char* b = text.data() + from;
      const char* e = text.data() + text.size();
      ASSERT_EQ(way.find(b, e), naive(b, e, way.non_ascii_stops)) << way.name << " " << text;
    }
  }
}

}  // namespace
}  // namespace sb::adapters::byte_scan
