#include "adapters/byte_scan.h"

#include <iterator>
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

using Copy = void (*)(const char*&, const char*, char*, std::size_t&, std::size_t);

// The escaped-text copy, each way: what it wrote is the decoding of what it passed over, it passed
// over plain bytes and one-byte escapes only, and it stopped at a byte it does not take on or
// within a step (16 or 32 bytes) of the text's end or of the buffer's capacity.
TEST(ByteScanTest, TheEscapedCopyDecodesWhatItPassesAndStopsWhereItMust) {
  std::vector<std::pair<const char*, Copy>> ways = {{"copy", copy_escaped},
                                                    {"copy sse2", detail::copy_escaped_sse2}};
  if (detail::has_avx2()) {
    ways.push_back({"copy avx2", detail::copy_escaped_avx2});
  }
  static constexpr const char* kPieces[] = {
      "abc",     "int x = 1;", "\\n", "\\t",      "\\\"", "\\\\", "\\/",    "    ",
      "\\u0041", "\\x",        "\"",  "\xc3\xa9", "\x01", "{}",   "\\r\\n", "\\b\\f"};
  std::mt19937 rng(1205);
  int long_copies = 0;
  for (const auto& [name, copy] : ways) {
    for (int i = 0; i < 30000; ++i) {
      std::string text;
      const int pieces = static_cast<int>(rng() % 40);
      for (int k = 0; k < pieces; ++k) {
        const std::size_t pick = rng() % 100 < 85 ? rng() % 6 : rng() % std::size(kPieces);
        text += kPieces[pick];
      }
      const std::size_t capacity = 16 + rng() % 300;
      std::vector<char> out(capacity + 64, '\0');
      std::size_t size = rng() % 8;  // some bytes already there
      const std::size_t before = size;
      const char* const begin = text.data();
      const char* const end = text.data() + text.size();
      const char* p = begin;
      copy(p, end, out.data(), size, capacity);
      ASSERT_GE(p, begin);
      ASSERT_LE(p, end);
      ASSERT_LE(size, capacity) << name;
      // What it passed over, decoded by hand, is what it wrote.
      std::string decoded;
      for (const char* q = begin; q < p; ++q) {
        const auto c = static_cast<unsigned char>(*q);
        ASSERT_TRUE(c != '"' && c >= 0x20 && c < 0x80) << name << " passed byte " << int(c);
        if (c == '\\') {
          ASSERT_LT(q + 1, p) << name;
          const char e = simple_escape(q[1]);
          ASSERT_NE(e, 0) << name << " passed an escape it does not decode: " << text;
          decoded += e;
          ++q;
        } else {
          decoded += static_cast<char>(c);
        }
      }
      ASSERT_EQ(std::string(out.data() + before, size - before), decoded) << name << ": " << text;
      // Where it stopped: a byte it does not take on, or near the end or the capacity.
      const bool near_end = end - p < 32 || size + 32 > capacity;
      if (!near_end) {
        const auto c = static_cast<unsigned char>(*p);
        const bool stop =
            c == '"' || c < 0x20 || c >= 0x80 || (c == '\\' && simple_escape(p[1]) == 0);
        ASSERT_TRUE(stop) << name << " stopped at " << int(c) << " in " << text;
      }
      long_copies += p - begin > 64 ? 1 : 0;
    }
  }
  EXPECT_GT(long_copies, 1000);  // the texts reach the long steps
}

}  // namespace
}  // namespace sb::adapters::byte_scan
