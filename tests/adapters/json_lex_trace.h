#pragma once
// What a SAX reader told its handler, as one line per event (the parts of a string joined): the
// oracle that holds json_lex (adapters/json_lex.h) to Boost.JSON's basic_parser.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse_options.hpp>

#include "adapters/json_lex.h"
#include "adapters/json_sax.h"

namespace sb::testing {

class TraceSax : public adapters::SaxUnbounded {
 public:
  using string_view = boost::json::string_view;
  using error_code = boost::system::error_code;

  std::string trace;

  bool on_document_begin(error_code&) { return add("doc{"); }
  bool on_document_end(error_code&) { return add("}doc"); }
  bool on_object_begin(error_code&) { return add("{"); }
  bool on_object_end(std::size_t n, error_code&) { return closed('}', n); }
  bool on_array_begin(error_code&) { return add("["); }
  bool on_array_end(std::size_t n, error_code&) { return closed(']', n); }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) { return whole("K:", s); }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) { return whole("S:", s); }
  bool on_number_part(string_view s, error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t v, string_view s, error_code&) {
    return number("I:" + std::to_string(v), s);
  }
  bool on_uint64(std::uint64_t v, string_view s, error_code&) {
    return number("U:" + std::to_string(v), s);
  }
  bool on_double(double v, string_view s, error_code&) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    return number("D:" + std::to_string(bits), s);
  }
  bool on_bool(bool b, error_code&) { return add(b ? "true" : "false"); }
  bool on_null(error_code&) { return add("null"); }
  bool on_comment_part(string_view, error_code&) { return add("comment"); }
  bool on_comment(string_view, error_code&) { return add("comment"); }

 private:
  bool closed(char bracket, std::size_t n) {
    trace += bracket;
    trace += std::to_string(n);
    trace += '\n';
    return true;
  }
  bool add(const std::string& line) {
    trace += line;
    trace += '\n';
    return true;
  }
  bool whole(const char* tag, string_view last) {
    part_.append(last.data(), last.size());
    std::string line = tag + part_;
    part_.clear();
    return add(line);
  }
  bool number(std::string line, string_view last) {
    number_.append(last.data(), last.size());
    line += ':' + number_;
    number_.clear();
    return add(line);
  }
  std::string part_;
  std::string number_;
};

/// The events basic_parser reports for `text` (max depth 128, then only whitespace); empty when
/// it refuses the text.
inline std::string boost_trace(std::string_view text) {
  boost::json::parse_options opts;
  opts.max_depth = 128;
  boost::json::basic_parser<TraceSax> parser(opts);
  boost::system::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || text.find_first_not_of(" \t\r\n", used) != std::string_view::npos) {
    return {};
  }
  return parser.handler().trace;
}

/// The events json_lex reports; nullopt-like empty string when it does not take the text on.
inline std::string lex_trace(std::string_view text, bool& taken) {
  TraceSax sax;
  taken = adapters::json_lex::lex(text, sax, 128);
  return taken ? sax.trace : std::string();
}

}  // namespace sb::testing
