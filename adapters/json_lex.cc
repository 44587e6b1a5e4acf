#include "adapters/json_lex.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value_stack.hpp>

#include "adapters/json_sax.h"

namespace sb::adapters::json_lex {
namespace {

// Takes the one number of a document.
class NumberSax : public SaxUnbounded {
 public:
  explicit NumberSax(Number& out) : out_(out) {}
  using string_view = boost::json::string_view;
  using error_code = boost::system::error_code;
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return false; }
  bool on_object_end(std::size_t, error_code&) { return false; }
  bool on_array_begin(error_code&) { return false; }
  bool on_array_end(std::size_t, error_code&) { return false; }
  bool on_key_part(string_view, std::size_t, error_code&) { return false; }
  bool on_key(string_view, std::size_t, error_code&) { return false; }
  bool on_string_part(string_view, std::size_t, error_code&) { return false; }
  bool on_string(string_view, std::size_t, error_code&) { return false; }
  bool on_number_part(string_view s, error_code&) {
    part_ += s.size();
    return true;
  }
  bool on_int64(std::int64_t v, string_view s, error_code&) {
    out_.kind = Number::Kind::int64;
    out_.i = v;
    return read(s);
  }
  bool on_uint64(std::uint64_t v, string_view s, error_code&) {
    out_.kind = Number::Kind::uint64;
    out_.u = v;
    return read(s);
  }
  bool on_double(double v, string_view s, error_code&) {
    out_.kind = Number::Kind::dbl;
    out_.d = v;
    return read(s);
  }
  /// The length of the number read; 0 before.
  std::size_t length = 0;
  bool on_bool(bool, error_code&) { return false; }
  bool on_null(error_code&) { return false; }
  bool on_comment_part(string_view, error_code&) { return false; }
  bool on_comment(string_view, error_code&) { return false; }

 private:
  bool read(string_view s) {
    length = part_ + s.size();
    return false;  // the number is all this reader wants: stop
  }
  Number& out_;
  std::size_t part_ = 0;
};

// The members of every object of `v`: fewer than the keys its parse read when an object named a
// key twice (the DOM keeps the last value).
std::size_t members_of(const boost::json::value& v) {
  std::size_t n = 0;
  if (const boost::json::object* o = v.if_object()) {
    n += o->size();
    for (const auto& m : *o) {
      n += members_of(m.value());
    }
  } else if (const boost::json::array* a = v.if_array()) {
    for (const boost::json::value& e : *a) {
      n += members_of(e);
    }
  }
  return n;
}

// Builds the DOM as boost::json::parser's own handler does.
class DomSax : public SaxUnbounded {
 public:
  using string_view = boost::json::string_view;
  using error_code = boost::system::error_code;
  DomSax(unsigned char* temp, std::size_t size) : st(boost::json::storage_ptr(), temp, size) {}
  boost::json::value_stack st;
  std::size_t keys = 0;  ///< every key read, repeated ones included
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code&) {
    keys += n;
    st.push_object(n);
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, string_view, error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return false; }
  bool on_comment(string_view, error_code&) { return false; }
};

}  // namespace

boost::json::value parse(std::string_view text, boost::system::error_code& ec,
                         boost::json::storage_ptr sp, const boost::json::parse_options& opts,
                         bool* repeated) {
  if (!opts.allow_comments && !opts.allow_trailing_commas && !opts.allow_invalid_utf8) {
    unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
    DomSax dom(temp, sizeof temp);
    dom.st.reset(sp);
    if (lex(text, dom, opts.max_depth)) {
      ec = {};
      boost::json::value v = dom.st.release();
      if (repeated != nullptr) {
        *repeated = members_of(v) != dom.keys;
      }
      return v;
    }
  }
  if (repeated != nullptr) {
    *repeated = true;
  }
  return boost::json::parse(text, ec, std::move(sp), opts);
}

bool hex4(const char* at, const char* end, std::uint32_t& u) {
  if (end - at < 4) {
    return false;
  }
  u = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = boost::json::detail::hex_digit(static_cast<unsigned char>(at[i]));
    if (d < 0) {
      return false;
    }
    u = (u << 4) | static_cast<std::uint32_t>(d);
  }
  return true;
}

std::size_t unicode_escape(const char*& p, const char* end, char (&out)[4]) {
  std::uint32_t u = 0;
  if (!hex4(p + 2, end, u)) {
    return 0;
  }
  const char* q = p + 6;
  if (u >= 0xd800 && u <= 0xdfff) {
    std::uint32_t low = 0;
    if (u > 0xdbff || end - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, end, low) ||
        low < 0xdc00 || low > 0xdfff) {
      return 0;
    }
    q += 6;
    u = ((u - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
  }
  p = q;
  return byte_scan::utf8_encode(u, out);
}

bool read_number(std::string_view rest, std::size_t length, Number& out) {
  boost::json::basic_parser<NumberSax> parser(boost::json::parse_options{}, out);
  boost::system::error_code ec;
  parser.write_some(false, rest.data(), rest.size(), ec);  // stops after the number
  return parser.handler().length == length;
}

}  // namespace sb::adapters::json_lex
