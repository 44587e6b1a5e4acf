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

/// A handler that asks json_lex where each token lies (token_at) and checks every answer against
/// the text: each callback of a token is told of it first, and once; the token's bytes are what
/// the callback says (a string's quotes around its raw text, a number's text, the literal, the
/// bracket); and tokens follow one another with only whitespace, ',' and ':' between them.
class PlaceSax : public adapters::SaxUnbounded {
 public:
  using string_view = boost::json::string_view;
  using error_code = boost::system::error_code;

  explicit PlaceSax(std::string_view text) : text_(text) {}

  /// The first place found wrong (empty: none).
  std::string wrong;

  void token_at(std::size_t begin, std::size_t end) {
    if (told_) {
      fail("told twice", begin);
    }
    told_ = true;
    begin_ = begin;
    end_ = end;
  }
  /// After the document: only whitespace may follow the last token.
  void finish() {
    if (text_.find_first_not_of(" \t\r\n", last_end_) != std::string_view::npos) {
      fail("bytes after the last token", last_end_);
    }
  }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return bracket('{'); }
  bool on_object_end(std::size_t, error_code&) { return bracket('}'); }
  bool on_array_begin(error_code&) { return bracket('['); }
  bool on_array_end(std::size_t, error_code&) { return bracket(']'); }
  bool on_key_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_key(string_view s, std::size_t, error_code&) { return string(s); }
  bool on_string_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_string(string_view s, std::size_t, error_code&) { return string(s); }
  bool on_number_part(string_view s, error_code&) { return part(s); }
  bool on_int64(std::int64_t, string_view s, error_code&) { return number(s); }
  bool on_uint64(std::uint64_t, string_view s, error_code&) { return number(s); }
  bool on_double(double, string_view s, error_code&) { return number(s); }
  bool on_bool(bool b, error_code&) { return bytes(b ? "true" : "false"); }
  bool on_null(error_code&) { return bytes("null"); }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  void fail(const char* what, std::size_t at) {
    if (wrong.empty()) {
      wrong = std::string(what) + " at " + std::to_string(at);
    }
  }
  bool part(string_view s) {
    if (told_) {
      fail("told before a part", begin_);
    }
    parts_.append(s.data(), s.size());
    return true;
  }
  // The token told of, which must come next in the text.
  std::string_view take() {
    if (!told_) {
      fail("not told", last_end_);
      return {};
    }
    told_ = false;
    if (begin_ < last_end_ || end_ < begin_ || end_ > text_.size() ||
        text_.substr(last_end_, begin_ - last_end_).find_first_not_of(" \t\r\n,:") !=
            std::string_view::npos) {
      fail("not the next token", begin_);
      return {};
    }
    last_end_ = end_;
    return text_.substr(begin_, end_ - begin_);
  }
  bool bracket(char c) {
    const std::string_view t = take();
    if (t != std::string_view(&c, 1)) {
      fail("not the bracket", begin_);
    }
    return true;
  }
  bool bytes(std::string_view want) {
    if (take() != want) {
      fail("not the literal", begin_);
    }
    return true;
  }
  bool number(string_view last) {
    parts_.append(last.data(), last.size());
    if (take() != parts_) {
      fail("not the number", begin_);
    }
    parts_.clear();
    return true;
  }
  bool string(string_view last) {
    const std::string_view t = take();
    const bool escaped = t.find('\\') != std::string_view::npos;
    if (t.size() < 2 || t.front() != '"' || t.back() != '"' ||
        (!escaped && (!parts_.empty() ||
                      std::string_view(last.data(), last.size()) != t.substr(1, t.size() - 2)))) {
      fail("not the string", begin_);
    }
    parts_.clear();
    return true;
  }

  std::string_view text_;
  bool told_ = false;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t last_end_ = 0;
  std::string parts_;
};

/// What PlaceSax found wrong in json_lex's places for `text` (empty: nothing, or not taken on).
inline std::string lex_places(std::string_view text) {
  PlaceSax sax(text);
  if (!adapters::json_lex::lex(text, sax, 128)) {
    return {};
  }
  sax.finish();
  return sax.wrong;
}

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
