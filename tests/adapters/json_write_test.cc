#include "adapters/json_write.h"

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sb::adapters {
namespace {

namespace json = boost::json;

std::string written(const json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

// Every byte a string can hold, escaped as Boost escapes it: first, inside and last, in strings
// short enough to be written in one piece (up to 30 bytes) and longer.
TEST(JsonWriteTest, EveryByteIsWrittenAsBoostWritesIt) {
  for (const std::size_t size : {1u, 2u, 25u, 30u, 31u, 64u}) {
    for (const std::size_t at : {std::size_t{0}, size / 2, size - 1}) {
      for (int c = 0; c < 256; ++c) {
        std::string s(size, 'x');
        s[at] = static_cast<char>(c);
        const json::value v = json::string(s);
        ASSERT_EQ(written(v), json::serialize(v)) << c << " at " << at << " of " << size;
      }
    }
  }
  EXPECT_EQ(written(json::string("a\"b\\c\nd\x01\x1f\x7f")), R"("a\"b\\c\nd\u0001\u001f)"
                                                             "\x7f\"");
}

// A document's text as a string literal in one pass, each byte in a key and in a value: the
// literal Boost writes of the text (escapes escaped again: \" as \\\", \n as \\n, \u0001 as
// \\u0001).
TEST(JsonWriteTest, TextAsAStringIsTheTextWrittenAsAString) {
  for (int c = 0; c < 256; ++c) {
    std::string s(22, 'x');
    s[1] = static_cast<char>(c);
    json::object o;
    o[s] = json::string(s);
    o["n"] = json::array{1, -2.5, true, nullptr};
    std::string literal;
    append_json_text_string(literal, o);
    ASSERT_EQ(literal, json::serialize(json::string(json::serialize(o)))) << c;
  }
  json::object o;
  o["q"] = "say \"hi\"\\n";
  std::string literal;
  append_json_text_string(literal, o);
  EXPECT_EQ(literal, R"("{\"q\":\"say \\\"hi\\\"\\\\n\"}")");
}

// Random documents of every kind of value (strings with escapes, UTF-8, control bytes and long
// plain runs; integers at the edges; doubles; nesting): the same text as Boost's.
TEST(JsonWriteTest, RandomDocumentsAreWrittenAsBoostWritesThem) {
  std::mt19937_64 rng(20261204);
  const auto text = [&] {
    std::string s;
    const std::size_t n = rng() % 3 == 0 ? rng() % 80 : rng() % 8;
    for (std::size_t i = 0; i < n; ++i) {
      switch (rng() % 8) {
        case 0:
          s.push_back(static_cast<char>(rng() % 0x20));
          break;
        case 1:
          s += "\"\\";
          break;
        case 2:
          s += "\xc3\xa9\xe2\x82\xac";  // é €
          break;
        default:
          s.push_back(static_cast<char>(' ' + rng() % 95));
      }
    }
    return s;
  };
  const auto scalar = [&]() -> json::value {
    switch (rng() % 9) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<std::int64_t>(rng());
      case 3:
        return std::numeric_limits<std::int64_t>::min();
      case 4:
        return std::numeric_limits<std::uint64_t>::max() - rng() % 3;
      case 5:
        return static_cast<double>(static_cast<std::int64_t>(rng() % 2000) - 1000) / 8.0;
      case 6:
        return -0.0;
      default:
        return json::string(text());
    }
  };
  const auto document = [&](auto& self, int depth) -> json::value {
    if (depth > 4 || rng() % 3 == 0) {
      return scalar();
    }
    if (rng() % 2 == 0) {
      json::array a;
      for (std::size_t n = rng() % 5; n > 0; --n) {
        a.push_back(self(self, depth + 1));
      }
      return a;
    }
    json::object o;
    for (std::size_t n = rng() % 5; n > 0; --n) {
      o[text()] = self(self, depth + 1);
    }
    return o;
  };
  for (int i = 0; i < 5000; ++i) {
    const json::value v = document(document, 0);
    ASSERT_EQ(written(v), json::serialize(v));
    if (v.is_object()) {
      ASSERT_EQ(to_json(v.get_object()), json::serialize(v));
      // Its text as a string literal, in one pass: what Boost writes of the text as a string.
      std::string literal = "x";
      append_json_text_string(literal, v.get_object());
      ASSERT_EQ(literal.substr(1), json::serialize(json::string(json::serialize(v))));
    }
    if (v.is_array()) {
      std::string out = "x";  // appended to what is there
      append_json(out, v.get_array());
      ASSERT_EQ(out, std::string("x").append(json::serialize(v)));
    }
  }
}

}  // namespace
}  // namespace sb::adapters
