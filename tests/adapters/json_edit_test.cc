#include "adapters/json_edit.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sb::adapters {
namespace {

namespace json = boost::json;

std::string_view value_of(std::string_view text, const JsonMember& m) {
  return text.substr(m.value_begin, m.value_end - m.value_begin);
}

// The plain run ends at the first quote, backslash or control byte wherever it stands (in the
// first sixteen bytes, in a 64-byte step or in the tail), and passes over every other byte,
// non-ASCII, DEL and the space included.
TEST(PlainJsonRunTest, EndsAtTheFirstSpecialByteWhereverItIs) {
  static constexpr char kSpecials[] = {'"', '\\', '\0', '\n', '\x1f'};
  static constexpr char kPlain[] = {'p', ' ', '\x7f', '\x80', '\xff', '\xc3'};
  for (std::size_t size = 0; size < 200; ++size) {
    for (const char filler : kPlain) {
      std::string text(size, filler);
      EXPECT_EQ(plain_json_run(text), size) << size;
      for (std::size_t at = 0; at < size; ++at) {
        for (const char special : kSpecials) {
          text[at] = special;
          if (at + 1 < size) {
            text[size - 1] = '"';  // a later special byte does not count
          }
          ASSERT_EQ(plain_json_run(text), at) << size << " " << at << " " << int(special);
          text.assign(size, filler);
        }
      }
    }
  }
}

TEST(ScanObjectTest, ReturnsMembersWithOffsets) {
  const std::string_view text = R"( { "a" : [1,{"b":"}]"}] ,"c":"x\"y",  "d":-1.5e+3,"e":true } )";
  const auto members = scan_object(text);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 4u);
  EXPECT_EQ((*members)[0].key, "a");
  EXPECT_EQ((*members)[0].begin, text.find("\"a\""));
  EXPECT_EQ(value_of(text, (*members)[0]), R"([1,{"b":"}]"}])");
  EXPECT_EQ(value_of(text, (*members)[1]), R"("x\"y")");
  EXPECT_EQ(value_of(text, (*members)[2]), "-1.5e+3");
  EXPECT_EQ((*members)[3].key, "e");
  EXPECT_EQ(value_of(text, (*members)[3]), "true");
}

TEST(ScanObjectTest, AcceptsEmptyObjects) {
  for (std::string_view text : {"{}", " { \n\t} \r\n"}) {
    const auto members = scan_object(text);
    ASSERT_TRUE(members) << text;
    EXPECT_TRUE(members->empty());
  }
}

TEST(ScanObjectTest, RejectsWhatIsNotOneObject) {
  for (std::string_view text :
       {"", "[]", "\"x\"", "1", "null", "{", "{\"a\":1", "{\"a\":1,}", "{\"a\" 1}", "{a:1}",
        "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":[1}", "{\"a\":{]}", "{\"a\":tru}", "{\"a\":}",
        "{\"a\":\"x\n\"}", "{\"a\":\"x}"}) {
    EXPECT_FALSE(scan_object(text)) << text;
  }
}

TEST(ScanObjectTest, UnescapesKeys) {
  const std::string_view text =
      R"({"mo\u0064el":1,"a\"b":2,"\\":3,"\ud83d\ude00":4,"\n\t\/":5,"caf\u00E9":6,"€":7})";
  const auto members = scan_object(text);
  ASSERT_TRUE(members);
  std::vector<std::string> keys;
  for (const auto& m : *members) {
    keys.push_back(m.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "a\"b", "\\", "\xF0\x9F\x98\x80", "\n\t/",
                                            "caf\xC3\xA9", "€"}));
}

TEST(ScanObjectTest, HandlesDeepNestingWithoutRecursion) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string text = "{\"a\":" + deep + ",\"b\":1}";
  const auto members = scan_object(text);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ(value_of(text, (*members)[0]).size(), deep.size());
}

TEST(ScanObjectTest, ReusesOutputVector) {
  std::vector<JsonMember> members;
  ASSERT_TRUE(scan_object(R"({"a":1,"b":2,"c":3})", members));
  EXPECT_EQ(members.size(), 3u);
  ASSERT_TRUE(scan_object(R"({"x":10})", members));
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].key, "x");
  EXPECT_EQ(members[0].value_begin, 5u);
}

TEST(ScanObjectTest, AgreesWithBoostJson) {
  const std::string_view text =
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"h\u00e9 \"q\" {[" }],
    "temperature" : 0.70, "n":12345678901234567890, "big":1e400, "neg":-0, "t":true,"f":false,
    "z":null, "o":{"k":{"k":[[],{}]}}, "s":"\\\/\b\f\n\r\t\u0000" })";
  const auto members = scan_object(text);
  ASSERT_TRUE(members);
  const json::object parsed = json::parse(text).as_object();
  ASSERT_EQ(members->size(), parsed.size());
  for (const auto& m : *members) {
    ASSERT_TRUE(parsed.contains(m.key)) << m.key;
    EXPECT_EQ(json::parse(value_of(text, m)), parsed.at(m.key)) << m.key;
  }
}

// Strings are skipped sixteen bytes at a time: a quote, a backslash or a raw control byte must be
// found wherever it falls in a block, and a backslash at a block's end must still escape the
// byte after it.
TEST(ScanObjectTest, FindsStringEndsAndEscapesAtEveryOffset) {
  for (std::size_t pad = 0; pad < 40; ++pad) {
    const std::string filler(pad, 'x');
    const std::string escaped = R"({"a":")" + filler + R"(\"q\\",  "b":1})";
    const auto members = scan_object(escaped);
    ASSERT_TRUE(members) << pad;
    ASSERT_EQ(members->size(), 2u) << pad;
    EXPECT_EQ(value_of(escaped, (*members)[0]), "\"" + filler + R"(\"q\\")") << pad;
    EXPECT_EQ(json::parse(value_of(escaped, (*members)[0])).as_string(), filler + "\"q\\") << pad;
    EXPECT_EQ(value_of(escaped, (*members)[1]), "1") << pad;

    std::string control = R"({"a":")" + filler + "\\tz" + filler + R"("})";
    control[6 + pad] = '\x01';
    EXPECT_FALSE(scan_object(control)) << "a raw control byte at " << pad;
    control[6 + pad] = '\x7f';  // DEL is allowed raw in JSON
    EXPECT_TRUE(scan_object(control)) << pad;

    const std::string unterminated = R"({"a":")" + filler + R"(\"})";
    EXPECT_FALSE(scan_object(unterminated)) << pad;
    const std::string high = R"({"a":")" + filler + "\xC3\xA9\xE2\x82\xAC" + R"("})";
    EXPECT_TRUE(scan_object(high)) << "UTF-8 bytes are not control bytes, at " << pad;
  }
}

// Inside a container only quotes and brackets matter; long runs of indentation, numbers and
// literals between them are passed over in blocks, and brackets inside strings are not counted.
TEST(ScanObjectTest, WalksPrettyPrintedContainersWithBracketsInStrings) {
  std::string text = "{\n  \"usage\": {";
  for (int i = 0; i < 20; ++i) {
    text += '\n';
    text.append(static_cast<std::size_t>(i), ' ');
    text +=
        "\"k" + std::to_string(i) + "\": [" + std::to_string(i * 12345) + ", true, null, \"]}{[\"]";
    text += i < 19 ? "," : "";
  }
  text += "\n  },\n  \"after\": \"}\"\n}\n";
  const auto members = scan_object(text);
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[1].key, "after");
  EXPECT_EQ(json::parse(value_of(text, (*members)[0])), json::parse(text).at("usage"));
  EXPECT_FALSE(scan_object(text.substr(0, text.size() - 2))) << "the closing brace is missing";
}

TEST(LastMemberValueTest, FindsTheLastTopLevelOccurrenceOnly) {
  std::vector<JsonMember> scratch;
  EXPECT_EQ(last_member_value(R"({"u":1,"x":{"u":2},"u":[3]})", "u", scratch), "[3]");
  EXPECT_EQ(last_member_value(R"({"x":{"u":2},"s":"\"u\":4"})", "u", scratch), std::nullopt);
  EXPECT_EQ(last_member_value(R"([{"u":1}])", "u", scratch), std::nullopt);
  EXPECT_EQ(last_member_value(R"({"u":1)", "u", scratch), std::nullopt) << "not an object";
}

TEST(TailMemberValueTest, ReadsAnOpenAIAnswersUsageFromItsEnd) {
  const std::string answer = R"({
  "id": "chatcmpl-1",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "\"usage\": {}"}}],
  "usage": {"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8},
  "service_tier": "default",
  "system_fingerprint": "fp_f4ce0b1e2d",
  "prompt_logprobs": null, "n": 1, "ok": true
}
)";
  EXPECT_EQ(tail_member_value(answer, "usage"),
            R"({"prompt_tokens": 4, "completion_tokens": 4, "total_tokens": 8})");
  EXPECT_EQ(tail_member_value(R"({"usage":[1]})", "usage"), "[1]");
  EXPECT_EQ(tail_member_value(R"({"usage":{"t":1},"usage":{"t":2}})", "usage"), R"({"t":2})");
}

TEST(TailMemberValueTest, FindsTheKeyAtEveryOffset) {
  // The search goes sixteen offsets at a time: the key before, across and after each boundary.
  for (std::size_t pad = 0; pad < 40; ++pad) {
    const std::string filler(pad, 'u');
    const std::string text = R"({"p":")" + filler + R"(","usage":{"t":1},"q":")" + filler + "\"}";
    EXPECT_EQ(tail_member_value(text, "usage"), R"({"t":1})") << text;
    const std::string escaped = R"({"usage":{"t":1},"q":")" + filler + R"(\"usage"})";
    EXPECT_EQ(tail_member_value(escaped, "usage"), std::nullopt) << escaped;
  }
}

TEST(TailMemberValueTest, LeavesEveryOtherShapeToTheScan) {
  // Usage before a container member, nested deeper, as a value, inside a string, past the end.
  std::vector<JsonMember> scratch;
  for (const std::string_view text :
       {R"({"usage":{"t":1},"choices":[]})", R"({"choices":[{"usage":{"t":1}}]})",
        R"({"x":{"usage":{"t":1}}})", R"({"a":"usage"})", R"({"usage":{"t":1},"s":"\"usage"})",
        R"({"usage":{"t":1}} x)", R"({"usage":{"t":1},})", R"({"usage":{"t":1})",
        R"({"usage":{"t":1},"x":1,"y":{}})", R"({"usage" {"t":1}})", R"({"usage":})", R"("usage")",
        ""}) {
    EXPECT_EQ(tail_member_value(text, "usage"), std::nullopt) << text;
  }
  EXPECT_EQ(last_member_value(R"({"usage":{"t":1},"s":"\"usage"})", "usage", scratch), R"({"t":1})")
      << "the scan still finds it";
}

TEST(TailMemberValueTest, AgreesWithTheScanWheneverItAnswers) {
  std::vector<JsonMember> scratch;
  const std::string_view tails[] = {"",
                                    R"(,"a":1)",
                                    R"(,"a":"x","b":null)",
                                    R"(, "c" : true )",
                                    R"(,"d":{})",
                                    R"(,"e":"\"usage\":2")"};
  const std::string_view heads[] = {"", R"("x":{"usage":0},)", R"("usage":5,)", R"("s":"\\",)"};
  int answered = 0;
  for (const std::string_view head : heads) {
    for (const std::string_view tail : tails) {
      std::string text = "{";
      text += head;
      text += R"("usage":{"t":[1,{"u":2}]})";
      text += tail;
      text += '}';
      ASSERT_FALSE(json::parse(text).as_object().empty()) << text;
      const std::optional<std::string_view> fast = tail_member_value(text, "usage");
      if (fast) {
        ++answered;
        EXPECT_EQ(fast, last_member_value(text, "usage", scratch)) << text;
      }
    }
  }
  EXPECT_EQ(answered, 20) << "every tail of scalars (all but the object), whatever comes before";
}

struct SetCase {
  std::string_view input;
  std::string_view key;
  std::string_view value;
  std::string_view expected;
};

class SetMemberTest : public ::testing::TestWithParam<SetCase> {};

TEST_P(SetMemberTest, SplicesOnlyTheValue) {
  const SetCase& c = GetParam();
  std::string text(c.input);
  ASSERT_TRUE(set_member(text, c.key, c.value));
  EXPECT_EQ(text, c.expected);
  EXPECT_NO_THROW(json::parse(text));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SetMemberTest,
    ::testing::Values(
        SetCase{R"({"model":"a","x":1})", "model", R"("b")", R"({"model":"b","x":1})"},
        SetCase{R"({"x":1,"model":"a"})", "model", R"("b")", R"({"x":1,"model":"b"})"},
        SetCase{R"({ "model" :	"a" , "x" : 1 })", "model", R"("b")",
                R"({ "model" :	"b" , "x" : 1 })"},
        SetCase{R"({"model":"a","model":"c"})", "model", R"("b")", R"({"model":"a","model":"b"})"},
        SetCase{R"({"mo\u0064el":"a"})", "model", R"("b")", R"({"mo\u0064el":"b"})"},
        SetCase{R"({"meta":{"model":"x"},"model":"a","l":["model"]})", "model", R"("b")",
                R"({"meta":{"model":"x"},"model":"b","l":["model"]})"},
        SetCase{R"({"model":{"a":[1,2]} , "y":2})", "model", R"("b")", R"({"model":"b" , "y":2})"},
        SetCase{R"({"x":1})", "model", R"("b")", R"({"x":1,"model":"b"})"},
        SetCase{"{ \"x\" : 1 \n}", "model", R"("b")", "{ \"x\" : 1,\"model\":\"b\" \n}"},
        SetCase{R"({"meta":{"model":"x"}})", "model", R"("b")",
                R"({"meta":{"model":"x"},"model":"b"})"},
        SetCase{"{}", "model", R"("b")", R"({"model":"b"})"},
        SetCase{" { \n} ", "model", R"("b")", " { \n\"model\":\"b\"} "},
        SetCase{R"({"x":1})", "we\"ird", "true", R"({"x":1,"we\"ird":true})"},
        SetCase{R"({"stream_options":null})", "stream_options", R"({"include_usage":true})",
                R"({"stream_options":{"include_usage":true}})"}));

TEST(SetMemberTest, RejectsNonObjectsAndChangesNothing) {
  for (std::string_view input : {"[1]", "{\"a\":", "nope"}) {
    std::string text(input);
    EXPECT_FALSE(set_member(text, "model", "1"));
    EXPECT_EQ(text, input);
  }
}

struct RemoveCase {
  std::string_view input;
  std::string_view expected;
};

class RemoveMemberTest : public ::testing::TestWithParam<RemoveCase> {};

TEST_P(RemoveMemberTest, RemovesEveryOccurrenceAndItsComma) {
  const RemoveCase& c = GetParam();
  std::string text(c.input);
  ASSERT_TRUE(remove_member(text, "usage"));
  EXPECT_EQ(text, c.expected);
  EXPECT_NO_THROW(json::parse(text));
}

INSTANTIATE_TEST_SUITE_P(
    Table, RemoveMemberTest,
    ::testing::Values(RemoveCase{R"({"usage":null})", "{}"},
                      RemoveCase{R"({ "usage" : null })", "{  }"},
                      RemoveCase{R"({"a":1,"usage":null})", R"({"a":1})"},
                      RemoveCase{R"({"usage":null,"a":1})", R"({"a":1})"},
                      RemoveCase{R"({"a":1,"usage":null,"b":2})", R"({"a":1,"b":2})"},
                      RemoveCase{R"({"usage":1,"a":1,"usage":2})", R"({"a":1})"},
                      RemoveCase{R"({"usage":1,"usage":2,"a":1})", R"({"a":1})"},
                      RemoveCase{R"({"a":1,"usage":1,"usage":2})", R"({"a":1})"},
                      RemoveCase{R"({ "a" : 1 , "usage" : null })", R"({ "a" : 1 })"},
                      RemoveCase{R"({ "usage" : null , "a" : 1 })", R"({ "a" : 1 })"},
                      RemoveCase{"{\n  \"a\": 1,\n  \"usage\": {\"x\": [1]},\n  \"b\": 2\n}",
                                 "{\n  \"a\": 1,\n  \"b\": 2\n}"},
                      RemoveCase{R"({"us\u0061ge":null,"a":{"usage":1}})",
                                 R"({"a":{"usage":1}})"}));

TEST(RemoveMemberTest, LeavesTextAloneWhenKeyIsAbsentOrNested) {
  for (std::string_view input : {R"({"a":{"usage":null}})", "{}", R"({"usages":1})", "[1]"}) {
    std::string text(input);
    EXPECT_FALSE(remove_member(text, "usage"));
    EXPECT_EQ(text, input);
  }
}

TEST(QuoteTest, EscapesPerRfc8259) {
  EXPECT_EQ(quote(""), R"("")");
  EXPECT_EQ(quote("gpt-4o"), R"("gpt-4o")");
  EXPECT_EQ(quote("meta-llama/Llama-3.1-8B-Instruct"), R"("meta-llama/Llama-3.1-8B-Instruct")");
  EXPECT_EQ(quote(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(quote("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(quote(std::string_view("\x00\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(quote("caf\xC3\xA9 \xE2\x98\x95 \x7F"), "\"caf\xC3\xA9 \xE2\x98\x95 \x7F\"");
}

TEST(QuoteTest, RoundTripsEveryAsciiByteThroughBoostJson) {
  std::string all;
  for (int c = 0; c < 128; ++c) {
    all.push_back(static_cast<char>(c));
  }
  all += "\xF0\x9F\x98\x80";
  EXPECT_EQ(json::parse(quote(all)).as_string(), all);
}

TEST(DecodeEscapesLenientTest, DecodesJsonEscapesAndKeepsWhatIsNotOne) {
  std::string out;
  EXPECT_TRUE(decode_escapes_lenient(R"({"card":"\u0034111 1111\n\"x\" \ud83d\ude00"})", out));
  EXPECT_EQ(out, "{\"card\":\"4111 1111\n\"x\" \xF0\x9F\x98\x80\"}");
  out.clear();
  // Not valid JSON: a bad \u, an unknown escape and a trailing backslash are kept as written.
  EXPECT_TRUE(decode_escapes_lenient(R"(\u12 \q \u0031\)", out));
  EXPECT_EQ(out, R"(\u12 \q 1\)");
  out.clear();
  EXPECT_FALSE(decode_escapes_lenient("no escapes here", out));
  EXPECT_EQ(out, "no escapes here");
}

TEST(QuoteTest, InvalidUtf8BecomesTheReplacementCharacterAndValidUtf8Passes) {
  // Valid: é, €, 😀. Invalid: a lone continuation byte, an overlong '/', a surrogate, a cut
  // sequence at the end.
  const std::string valid = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";
  EXPECT_EQ(quote(valid), "\"" + valid + "\"");
  const std::string invalid = std::string(
      "a\x80"
      "b\xC0\xAF"
      "c\xED\xA0\x80"
      "d\xE2\x82");
  const std::string q = quote(invalid);
  boost::system::error_code ec;
  const json::value v = json::parse(q, ec);
  ASSERT_FALSE(ec) << q;
  EXPECT_EQ(std::string(v.as_string()).substr(0, 4), "a\xEF\xBF\xBD");
  EXPECT_NE(q.find("b\xEF\xBF\xBD\xEF\xBF\xBD"
                   "c"),
            std::string::npos)
      << q;
}

// The quoting of long strings (searched many bytes a step) is the byte-by-byte quoting, whatever
// the mix and wherever the bytes fall: plain runs across the 16- and 64-byte steps, escapes,
// valid multi-byte characters, and invalid bytes (U+FFFD) at every position.
TEST(QuoteTest, LongStringsQuoteAsByteByByte) {
  const auto reference = [](std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x80) {
        const std::string one = quote(s.substr(i, 1));  // a lone byte: never valid
        std::size_t n = 0;
        for (std::size_t len = 4; len >= 2 && n == 0; --len) {
          if (i + len <= s.size()) {
            const std::string piece(s.substr(i, len));
            const std::string q = quote(piece);
            if (q == "\"" + piece + "\"") {
              n = len;
            }
          }
        }
        if (n > 0) {
          out += s.substr(i, n);
          i += n - 1;
        } else {
          out += one.substr(1, one.size() - 2);
        }
        continue;
      }
      const std::string q = quote(s.substr(i, 1));
      out += q.substr(1, q.size() - 2);
    }
    return out + "\"";
  };
  const std::string_view pieces[] = {"a",
                                     "bcdefgh",
                                     "\"",
                                     "\\",
                                     "\n",
                                     "\x01",
                                     "\x7f",
                                     "\xC3\xA9",
                                     "\xE2\x82\xAC",
                                     "\x80",
                                     "\xF0\x9F\x98\x80",
                                     "\xED\xA0\x80",
                                     "\xE2\x82"};
  std::uint32_t state = 12345;
  for (int round = 0; round < 400; ++round) {
    std::string s;
    const int count = static_cast<int>(state % 90);
    for (int k = 0; k < count; ++k) {
      state = state * 1103515245u + 12345u;
      const std::size_t pick = (state >> 16) % 40;
      s += pick < std::size(pieces) ? pieces[pick] : std::string_view("plain text ");
    }
    state = state * 1103515245u + 12345u;
    const std::string q = quote(s);
    ASSERT_EQ(q, reference(s)) << s;
    boost::system::error_code ec;
    (void)json::parse(q, ec);
    ASSERT_FALSE(ec) << q;
  }
}

// An array's elements, as written, for splicing into another array.
TEST(JsonEditTest, ArrayElementsAreWhatLiesBetweenTheBrackets) {
  EXPECT_EQ(json_array_elements(R"([{"a":1},{"b":[2]}])"), R"({"a":1},{"b":[2]})");
  EXPECT_EQ(json_array_elements("[\n  {\"a\": 1},\n  2\n]\n"), "{\"a\": 1},\n  2");
  EXPECT_EQ(json_array_elements("[]"), "");
  EXPECT_EQ(json_array_elements(" [ \t\r\n ] "), "");
  EXPECT_EQ(json_array_elements(""), "");
  EXPECT_EQ(json_array_elements("{}"), "");
  EXPECT_EQ(json_array_elements("]["), "");
}

// mark_superseded and without_superseded keep each key's last occurrence, as a parser does: the
// rest of the object parses to the same document.
TEST(SupersededTest, OnlyTheLastOccurrenceOfEachKeyStays) {
  const auto cases = {
      std::string(R"({"a":1,"b":2,"a":3})"),
      std::string(R"( { "a" : [1,{"a":0}] , "b":2 , "a" : {"x":1} , "a":null } )"),
      std::string(R"({"a":1,"b":2})"),
      std::string(R"({"m\u00e9":1,"mé":2})"),  // one key, spelled twice
      std::string("{}"),
  };
  for (const std::string& body : cases) {
    const auto members = scan_object(body);
    ASSERT_TRUE(members) << body;
    std::vector<char> marks;
    const bool any = mark_superseded(*members, marks);
    const std::string out = without_superseded(body, *members, marks);
    EXPECT_EQ(json::parse(out), json::parse(body)) << body << " -> " << out;
    const auto kept = scan_object(out);
    ASSERT_TRUE(kept) << out;
    EXPECT_EQ(any, kept->size() < members->size()) << body;
    std::vector<char> again;
    EXPECT_FALSE(mark_superseded(*kept, again)) << out;
  }
  // Past the pairwise check (more than 16 members): by sorting, the same answer.
  std::string wide = "{";
  for (int i = 0; i < 100; ++i) {
    wide += "\"k" + std::to_string(i % 30) + "\":" + std::to_string(i) + (i < 99 ? "," : "}");
  }
  const auto members = scan_object(wide);
  ASSERT_TRUE(members);
  std::vector<char> marks;
  ASSERT_TRUE(mark_superseded(*members, marks));
  const std::string out = without_superseded(wide, *members, marks);
  EXPECT_EQ(json::parse(out), json::parse(wide));
  EXPECT_EQ(scan_object(out)->size(), 30u);
  EXPECT_TRUE(out.starts_with(R"({"k10":70,"k11":71,)")) << out;
}

}  // namespace
}  // namespace sb::adapters
