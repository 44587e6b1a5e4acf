#include "adapters/prometheus_text.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace sb::adapters::prometheus {
namespace {

struct Seen {
  std::string name;
  std::string labels;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;
  std::size_t line = 0;
};

struct Parsed {
  bool ok = false;
  std::string error;
  std::vector<Seen> samples;
};

Parsed parse(std::string_view text, const Limits& limits = {}) {
  Parsed p;
  p.ok = parse_text(
      text,
      [&](const Sample& s, std::string&) {
        p.samples.push_back(
            {std::string(s.name), std::string(s.labels), s.value, s.timestamp_ms, s.line});
        return true;
      },
      p.error, limits);
  return p;
}

/// The error of a text that must fail.
std::string error_of(std::string_view text, const Limits& limits = {}) {
  const Parsed p = parse(text, limits);
  EXPECT_FALSE(p.ok) << text;
  return p.error;
}

TEST(PrometheusTextTest, ReadsSamplesWithLabelsValuesAndTimestamps) {
  const Parsed p = parse(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "\n"
      "   \t\n"
      "# a free comment\n"
      "#\n"
      "metric_without_labels 12.47\n"
      "ns:sub_metric{le=\"+Inf\"} -Inf -5\n"
      "  indented\t{ a = \"x\" , b=\"y\", }\t3e2");
  ASSERT_TRUE(p.ok) << p.error;
  ASSERT_EQ(p.samples.size(), 4u);
  EXPECT_EQ(p.samples[0].name, "http_requests_total");
  EXPECT_EQ(p.samples[0].labels, "method=\"post\",code=\"200\"");
  EXPECT_EQ(p.samples[0].value, 1027);
  EXPECT_EQ(p.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(p.samples[0].line, 3u);
  EXPECT_EQ(p.samples[1].name, "metric_without_labels");
  EXPECT_EQ(p.samples[1].labels, "");
  EXPECT_EQ(p.samples[1].value, 12.47);
  EXPECT_FALSE(p.samples[1].timestamp_ms);
  EXPECT_EQ(p.samples[1].line, 8u);
  EXPECT_EQ(p.samples[2].name, "ns:sub_metric");
  EXPECT_EQ(p.samples[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(p.samples[2].timestamp_ms, -5);
  EXPECT_EQ(p.samples[3].name, "indented");
  EXPECT_EQ(p.samples[3].value, 300);
  EXPECT_EQ(p.samples[3].line, 10u);  // the last line has no final newline
}

TEST(PrometheusTextTest, ValueMayFollowTheClosingBraceDirectly) {
  const Parsed p = parse("m{a=\"b\"}7\n");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.samples.at(0).value, 7);
}

TEST(PrometheusTextTest, EmptyTextHasNoSamples) {
  const Parsed p = parse("");
  EXPECT_TRUE(p.ok);
  EXPECT_TRUE(p.samples.empty());
  EXPECT_TRUE(parse("\n\n# only comments\n").ok);
}

TEST(PrometheusTextTest, ValuesAsGoParseFloatReadsThem) {
  const auto value = [](std::string_view t) { return parse_value(t); };
  EXPECT_TRUE(std::isnan(*value("NaN")));
  EXPECT_TRUE(std::isnan(*value("nan")));
  EXPECT_EQ(*value("+Inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(*value("inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(*value("-Infinity"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(*value("1e-3"), 0.001);
  EXPECT_EQ(*value("1E+3"), 1000);
  EXPECT_EQ(*value("+2.5"), 2.5);
  EXPECT_EQ(*value(".5"), 0.5);
  EXPECT_EQ(*value("5."), 5);
  EXPECT_EQ(*value("0x1p-2"), 0.25);
  EXPECT_EQ(*value("1.7332116091842e+09"), 1.7332116091842e+09);
  EXPECT_EQ(*value("1e-400"), 0);  // underflow is zero, as in Go
  EXPECT_EQ(*value("0.000000000000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000000000000000000000000000000000000000000000000000000000"
                   "000000000000000000000000000000000000000000000000000000000000000000000000"
                   "1"),
            0);
  EXPECT_EQ(*value("0x1p-2000"), 0);
  EXPECT_FALSE(value("0x1p2000"));
  EXPECT_FALSE(value("1000e306"));
  EXPECT_EQ(*value("-0"), 0);
  for (std::string_view bad :
       {"",       "+",   "-",      "abc",   "1.2.3", "1e",  "1e999", "-1e999",  "+NaN", "-nan",
        "nan(1)", "0x1", "0x-1p2", "1_000", "--1",   "1,5", ".",     "infinit", "0x",   " 1"}) {
    EXPECT_FALSE(value(bad)) << bad;
  }
}

TEST(PrometheusTextTest, TimestampsAreSigned64BitIntegers) {
  EXPECT_EQ(parse("m 1 9223372036854775807").samples.at(0).timestamp_ms,
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(parse("m 1 -9223372036854775808").samples.at(0).timestamp_ms,
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(error_of("m 1 9223372036854775808"), "line 1: invalid timestamp '9223372036854775808'");
  EXPECT_EQ(error_of("m 1 1.5"), "line 1: invalid timestamp '1.5'");
  EXPECT_EQ(error_of("m 1 -"), "line 1: invalid timestamp '-'");
  EXPECT_EQ(error_of("m 1 2 3"), "line 1: unexpected text after the timestamp");
}

TEST(PrometheusTextTest, MalformedSamplesNameTheirLine) {
  EXPECT_EQ(error_of("ok 1\n\n1abc 1\n"), "line 3: invalid metric name");
  EXPECT_EQ(error_of("foo-bar 1"), "line 1: invalid character in metric name");
  EXPECT_EQ(error_of("foo"), "line 1: missing value");
  EXPECT_EQ(error_of("foo{a=\"b\"}"), "line 1: missing value");
  EXPECT_EQ(error_of("foo abc"), "line 1: invalid value 'abc'");
  EXPECT_EQ(error_of("foo 1e999"), "line 1: invalid value '1e999'");
  EXPECT_EQ(error_of("foo{a=\"b"), "line 1: unterminated label value");
  EXPECT_EQ(error_of("foo{a=\"b\","), "line 1: unterminated label set (no '}')");
  EXPECT_EQ(error_of("foo{a=\"b\""), "line 1: unterminated label set (no '}')");
  EXPECT_EQ(error_of("foo{a=\"b\" 1"), "line 1: expected ',' or '}' after a label");
  EXPECT_EQ(error_of("foo{a=\"b\"c=\"d\"} 1"), "line 1: expected ',' or '}' after a label");
  EXPECT_EQ(error_of("foo{1a=\"b\"} 1"), "line 1: invalid label name");
  EXPECT_EQ(error_of("foo{a:b=\"c\"} 1"), "line 1: expected '=' after label name 'a'");
  EXPECT_EQ(error_of("foo{a\"b\"} 1"), "line 1: expected '=' after label name 'a'");
  EXPECT_EQ(error_of("foo{a=b} 1"), "line 1: expected '\"' to open a label value");
  EXPECT_EQ(error_of("foo{a=\"1\",a=\"2\"} 1"), "line 1: duplicate label name 'a'");
  EXPECT_EQ(error_of("foo{__name__=\"x\"} 1"), "line 1: label name __name__ is reserved");
  EXPECT_EQ(error_of("foo{,} 1"), "line 1: invalid label name");
}

TEST(PrometheusTextTest, LabelValueEscapesAndUtf8AreChecked) {
  EXPECT_EQ(error_of("foo{a=\"\\t\"} 1"),
            "line 1: invalid escape sequence in a label value (only \\\\, \\\" and \\n)");
  EXPECT_EQ(error_of("foo{a=\"x\\\"} 1"), "line 1: unterminated label value");
  EXPECT_EQ(error_of("foo{a=\"\xff\"} 1"), "line 1: label value is not valid UTF-8");
  EXPECT_EQ(error_of("foo{a=\"\xc0\xaf\"} 1"), "line 1: label value is not valid UTF-8");
  EXPECT_EQ(error_of("foo{a=\"\xed\xa0\x80\"} 1"), "line 1: label value is not valid UTF-8");
  EXPECT_TRUE(parse("foo{a=\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"} 1").ok);
}

TEST(PrometheusTextTest, HelpAndTypeLinesAreChecked) {
  EXPECT_TRUE(parse("# HELP foo\n# HELP foo a \\\\ b \\n c\n# TYPE foo untyped\n").ok);
  EXPECT_TRUE(parse("#HELP foo x\n#  TYPE foo summary\n").ok);
  for (std::string_view type : {"counter", "gauge", "histogram", "summary", "untyped"}) {
    EXPECT_TRUE(parse("# TYPE foo " + std::string(type) + "\n").ok) << type;
  }
  EXPECT_EQ(error_of("# TYPE foo gauges"), "line 1: unknown metric type 'gauges'");
  EXPECT_EQ(error_of("# TYPE foo GAUGE"), "line 1: unknown metric type 'GAUGE'");
  EXPECT_EQ(error_of("# TYPE foo"), "line 1: unknown metric type ''");
  EXPECT_EQ(error_of("# TYPE foo gauge extra"), "line 1: unexpected text after the metric type");
  EXPECT_EQ(error_of("# TYPE 1foo gauge"), "line 1: invalid metric name in TYPE line");
  EXPECT_EQ(error_of("# TYPE foo-bar gauge"), "line 1: invalid metric name in TYPE line");
  EXPECT_EQ(error_of("# HELP"), "line 1: invalid metric name in HELP line");
  EXPECT_EQ(error_of("# HELP foo a \\t b"),
            "line 1: invalid escape sequence in HELP text (only \\\\ and \\n)");
}

TEST(PrometheusTextTest, CarriageReturnsAndNulBytesAreRejected) {
  EXPECT_EQ(error_of("a 1\r\nb 2\r\n"),
            "line 1: carriage return (CRLF line ends are not accepted)");
  EXPECT_EQ(error_of("a 1\n# comment\r\n"),
            "line 2: carriage return (CRLF line ends are not accepted)");
  EXPECT_EQ(error_of(std::string_view("a 1\nb\0 2\n", 9)), "line 2: NUL byte");
}

TEST(PrometheusTextTest, LimitsAreEnforcedAndExactlyAtTheLimitPasses) {
  Limits small;
  small.max_bytes = 12;
  EXPECT_TRUE(parse("abcdefghij 1", small).ok);  // 12 bytes
  EXPECT_EQ(error_of("abcdefghij 12", small), "text is 13 bytes, over the limit of 12");

  Limits line;
  line.max_line = 8;
  EXPECT_TRUE(parse("abcdef 1\nb 2\n", line).ok);
  EXPECT_EQ(error_of("a 1\nabcdefg 1\n", line), "line 2: longer than 8 bytes");

  Limits labels;
  labels.max_labels = 2;
  EXPECT_TRUE(parse("m{a=\"1\",b=\"2\"} 1", labels).ok);
  EXPECT_EQ(error_of("m{a=\"1\",b=\"2\",c=\"3\"} 1", labels), "line 1: more than 2 labels");

  Limits samples;
  samples.max_samples = 2;
  EXPECT_TRUE(parse("# c\na 1\n\nb 2\n", samples).ok);
  EXPECT_EQ(error_of("a 1\nb 2\nc 3\n", samples), "line 3: more than 2 samples");
}

TEST(PrometheusTextTest, DefaultLimitsBoundTheWholeText) {
  const Limits defaults;
  EXPECT_EQ(defaults.max_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(defaults.max_line, 64u * 1024);
  EXPECT_EQ(defaults.max_labels, 64u);
  EXPECT_EQ(defaults.max_samples, 200'000u);

  std::string many;
  for (int i = 0; i < 65; ++i) {
    many += (i ? ",l" : "l") + std::to_string(i) + "=\"v\"";
  }
  EXPECT_EQ(error_of("m{" + many + "} 1"), "line 1: more than 64 labels");
  EXPECT_EQ(error_of("m{a=\"" + std::string(64 * 1024, 'x') + "\"} 1"),
            "line 1: longer than 65536 bytes");
  std::string lines;
  for (int i = 0; i <= 200'000; ++i) {
    lines += "m 1\n";
  }
  EXPECT_EQ(error_of(lines), "line 200001: more than 200000 samples");
  EXPECT_EQ(error_of(std::string(4 * 1024 * 1024 + 1, '\n')),
            "text is 4194305 bytes, over the limit of 4194304");
}

TEST(PrometheusTextTest, HandlerRefusalStopsTheParseWithItsReason) {
  std::string error;
  int calls = 0;
  const bool ok = parse_text(
      "a 1\nb 2\nc 3\n",
      [&](const Sample& s, std::string& why) {
        ++calls;
        if (s.name == "b") {
          why = "b is not welcome";
          return false;
        }
        return true;
      },
      error);
  EXPECT_FALSE(ok);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(error, "line 2: b is not welcome");
}

TEST(PrometheusTextTest, LabelHelpersFindAndUnescapeValues) {
  const Parsed p =
      parse("m{path=\"C:\\\\dir\\\"x\\\"\\nnext\",tricky=\"a,b=\\\"c\\\"}\", le = \"0.5\" } 1\n");
  ASSERT_TRUE(p.ok) << p.error;
  const std::string_view labels = p.samples.at(0).labels;
  EXPECT_EQ(label_value(labels, "path"), std::string("C:\\dir\"x\"\nnext"));
  EXPECT_EQ(find_label(labels, "path"), std::string_view("C:\\\\dir\\\"x\\\"\\nnext"));
  EXPECT_EQ(label_value(labels, "tricky"), std::string("a,b=\"c\"}"));
  EXPECT_EQ(find_label(labels, "le"), std::string_view("0.5"));
  EXPECT_FALSE(find_label(labels, "missing"));
  EXPECT_FALSE(label_value("", "le"));
  EXPECT_EQ(unescape_label_value("a\\\\b\\nc\\\"d"), "a\\b\nc\"d");
}

}  // namespace
}  // namespace sb::adapters::prometheus
