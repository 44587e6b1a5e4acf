// collect_raw_facts() (adapters/chat_facts.h): every key and string of a JSON text, read from its
// bytes, so that the values a DOM drops (the earlier values of a repeated key) are scanned too.

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/basic_parser_impl.hpp>

#include "adapters/chat_facts.h"
#include "adapters/chat_facts_internal.h"
#include "adapters/json_lex.h"
#include "adapters/json_sax.h"

namespace sb::adapters {
namespace {

using facts_detail::Walker;

// Each key and string to the walker, in document order, as the DOM walk would give them were
// there no repeated keys; a `type` string flags a part's kind as the DOM walk does.
class RawSax : public SaxUnbounded {
 public:
  using string_view = boost::json::string_view;
  using error_code = boost::system::error_code;
  explicit RawSax(Walker& w) : w_(w) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return value(); }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_array_begin(error_code&) { return value(); }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_key_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_key(string_view s, std::size_t, error_code&) {
    const std::string_view k = whole(s);
    w_.key(k);
    type_key_ = k == "type";
    part_.clear();
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) { return part(s); }
  bool on_string(string_view s, std::size_t, error_code&) {
    const std::string_view v = whole(s);
    if (type_key_) {
      w_.flag_type(v);
    }
    w_.string(v, 0);
    part_.clear();
    return value();
  }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    w_.integer(i);
    return value();
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    w_.integer(u);
    return value();
  }
  bool on_double(double d, string_view, error_code&) {
    w_.number(d);
    return value();
  }
  bool on_bool(bool, error_code&) { return value(); }
  bool on_null(error_code&) { return value(); }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

 private:
  bool value() {
    type_key_ = false;
    return true;
  }
  bool part(string_view s) {
    part_.append(s.data(), s.size());
    return true;
  }
  // A key or string that may have come in parts (escapes).
  std::string_view whole(string_view last) {
    if (part_.empty()) {
      return {last.data(), last.size()};
    }
    part_.append(last.data(), last.size());
    return part_;
  }

  Walker& w_;
  std::string part_;
  bool type_key_ = false;
};

}  // namespace

void collect_raw_facts(std::string_view json, ChatFacts& out) {
  constexpr std::size_t kMaxDepth = 128;
  Walker w(out);
  {
    RawSax sax(w);
    if (!json_lex::lex(json, sax, kMaxDepth)) {
      w.restart();  // read again from the start, by basic_parser
      boost::json::parse_options opts;
      opts.max_depth = kMaxDepth;
      boost::json::basic_parser<RawSax> p(opts, w);
      boost::system::error_code ec;
      p.write_some(false, json.data(), json.size(), ec);
    }
  }
  facts_detail::finish(w);
}

}  // namespace sb::adapters
