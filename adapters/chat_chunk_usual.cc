// read_usual_chunk: a streamed chunk of the usual shape read by hand, straight into the members
// the stream writers use. Boost.JSON's basic_parser and the SAX handler behind it cost about 150
// instructions a token (4,200 for a chunk of 280 bytes); here a member is a key compared by size
// and bytes and a value read where it stands, and a member nobody reads is checked and passed
// over (about 2,400 for the same chunk). Anything this reader does not take on (see
// chat_chunk_internal.h) it leaves to the SAX reading, whose answer stands; the chat_chunk fuzz
// target holds both to a DOM's reading.

#include <cstdint>
#include <cstring>

#include "adapters/byte_scan.h"
#include "adapters/chat_chunk_internal.h"
#include "adapters/json_lex.h"
#include "adapters/json_sax.h"

namespace sb::adapters::chunk_detail {
namespace {

class UsualChunk {
 public:
  UsualChunk(std::string_view data, std::string_view body, Reading& out)
      : begin_(data.data()),
        p_(data.data()),
        end_(data.data() + data.size()),
        body_(body),
        out_(out) {}

  bool document() {
    if (ChunkContent* const known = out_.content;
        known != nullptr && !known->around.empty() && around_string(*known)) {
      return true;
    }
    ChunkPrefix* const prefix = out_.prefix;
    const std::size_t known = prefix != nullptr ? prefix->bytes.size() : 0;
    const auto root_member = [this](std::string_view key) { return root(key); };
    if (known != 0 && static_cast<std::size_t>(end_ - p_) > known &&
        std::memcmp(p_, prefix->bytes.data(), known) == 0) {
      // The bytes the last chunk started with, checked then: its members are this one's.
      p_ += known;
      if (prefix->has_id) {
        out_.id = std::string_view(begin_ + prefix->id_begin, prefix->id_size);
        root_seen_.first(kIdBit);
      }
      open_ = false;
      known_ = known;
      if (!members(root_member)) {
        return false;
      }
    } else {
      ws();
      if (p_ == end_ || *p_ != '{' || !object(root_member)) {
        return false;
      }
    }
    ws();
    if (p_ != end_) {
      return false;
    }
    if (prefix != nullptr && known_ == 0 && prefix_end_ >= kMinPrefix) {
      prefix->bytes.assign(begin_, prefix_end_);
      prefix->has_id = id_begin_ != 0 && id_begin_ < prefix_end_;
      prefix->id_begin = id_begin_;
      prefix->id_size = out_.id.size();
    }
    if (out_.content != nullptr) {
      keep_content(*out_.content);
    }
    return true;
  }

 private:
  static constexpr int kMaxSkipDepth = 8;

  // The chunk as `known`'s bytes around one string (ChunkContent): read as that chunk was, with
  // this string as its content. False, with nothing read, when it is not.
  bool around_string(const ChunkContent& known) {
    const std::size_t before = known.before;
    const std::size_t after = known.around.size() - before;
    const auto size = static_cast<std::size_t>(end_ - begin_);
    if (size < before + after + 2 || begin_[before] != '"' ||
        std::memcmp(begin_, known.around.data(), before) != 0 ||
        std::memcmp(end_ - after, known.around.data() + before, after) != 0) {
      return false;
    }
    const std::size_t decoded = out_.decoded.size();
    p_ = begin_ + before;
    std::string_view content;
    if (!string(content) || p_ != end_ - after) {
      out_.decoded.resize(decoded);  // a string that ends elsewhere: read the chunk whole
      p_ = begin_;
      return false;
    }
    if (known.has_id) {
      out_.id = std::string_view(begin_ + known.id_begin, known.id_size);
    }
    ChunkChoice& c = out_.choices.emplace_back();
    c.has_body = true;
    c.index_kind = known.index_kind;
    c.index = known.index;
    out_.calls_begin.push_back(out_.calls.size());
    if (known.field == ChunkContent::Field::arguments) {
      ChunkToolCall& t = out_.calls.emplace_back();
      t.index = known.call_index;
      t.has_function = true;
      t.arguments = content;
    } else {
      text_member(c, known.field) = content;
    }
    return true;  // `usage` was null or absent: read as absent either way
  }

  // The choice's member a text delta's string is (not arguments, which are a call's).
  static std::string_view& text_member(ChunkChoice& c, ChunkContent::Field field) {
    switch (field) {
      case ChunkContent::Field::reasoning_content:
        return c.reasoning_content;
      case ChunkContent::Field::reasoning:
        return c.reasoning;
      case ChunkContent::Field::content:
      case ChunkContent::Field::arguments:
        break;
    }
    return c.content;
  }

  // After a whole reading: when the chunk is a text delta and nothing else a reader takes (one
  // choice; one text member, content or reasoning, a string of the chunk, and no tool call; or
  // one tool call with neither id nor name whose function's arguments are that string; no
  // refusal or finish reason; `usage` null or absent; `id` a view before the text), the bytes
  // around its text.
  void keep_content(ChunkContent& keep) const {
    const bool arguments = content_field_ == ChunkContent::Field::arguments;
    if (contents_ != 1 || out_.choices.size() != 1 || out_.calls.size() != (arguments ? 1 : 0) ||
        usage_object_) {
      return;
    }
    if (arguments) {
      const ChunkToolCall& t = out_.calls.front();
      if (!t.has_function || !t.id.empty() || !t.name.empty()) {
        return;
      }
    }
    ChunkChoice c = out_.choices.front();
    if (!arguments) {
      text_member(c, content_field_) = {};  // the other text members are empty, as is the rest
    }
    const bool id_before =
        out_.id.empty() || (out_.id.data() >= begin_ && out_.id.data() < content_at_);
    if (!c.has_body || c.content_parts || !c.content.empty() || !c.refusal.empty() ||
        !c.reasoning_content.empty() || !c.reasoning.empty() || !c.finish_reason.empty() ||
        !id_before) {
      return;
    }
    const auto before = static_cast<std::size_t>(content_at_ - begin_);
    keep.around.assign(begin_, before);
    keep.around.append(content_end_, static_cast<std::size_t>(end_ - content_end_));
    keep.before = before;
    keep.has_id = !out_.id.empty();
    keep.id_begin = keep.has_id ? static_cast<std::size_t>(out_.id.data() - begin_) : 0;
    keep.id_size = out_.id.size();
    keep.field = content_field_;
    keep.call_index = arguments ? out_.calls.front().index : std::nullopt;
    keep.index_kind = c.index_kind;
    keep.index = c.index;
  }

  // One bit per member a reader takes: a second one is left to the SAX reading.
  class Seen {
   public:
    bool first(unsigned bit) {
      const bool was = (bits_ & (1u << bit)) != 0;
      bits_ |= 1u << bit;
      return !was;
    }

   private:
    unsigned bits_ = 0;
  };

  // Whitespace, in one compare for the usual byte that is none (a compact chunk has none).
  void ws() {
    constexpr std::uint64_t kSpace = 1ull << ' ' | 1ull << '\n' | 1ull << '\r' | 1ull << '\t';
    while (p_ < end_ && static_cast<unsigned char>(*p_) <= ' ' &&
           (kSpace >> static_cast<unsigned char>(*p_) & 1) != 0) {
      ++p_;
    }
  }

  // The members of the object at p_ (its '{'): `member(key)` with p_ at each value, which it
  // reads; past the closing '}'.
  template <class Member>
  bool object(Member member) {
    ++p_;
    ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    return members(member);
  }

  // The members of an object from the first key at p_ on, as object() reads them.
  template <class Member>
  bool members(Member member) {
    for (;;) {
      member_ = p_;
      std::string_view key;
      if (p_ == end_ || *p_ != '"' || !string(key)) {
        return false;
      }
      ws();
      if (p_ == end_ || *p_ != ':') {
        return false;
      }
      ++p_;
      ws();
      if (p_ == end_ || !member(key)) {
        return false;
      }
      if (const After a = next('}'); a != After::more) {
        return a == After::closed;
      }
    }
  }

  // The elements of the array at p_ (its '['): `element()` with p_ at each; past the ']'.
  template <class Element>
  bool array(Element element) {
    ++p_;
    ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (p_ == end_ || !element()) {
        return false;
      }
      if (const After a = next(']'); a != After::more) {
        return a == After::closed;
      }
    }
  }

  enum class After { more, closed, bad };

  // After a member or an element of a container closed by `close`: past a ',' (and at what comes
  // next, which the caller reads), or past `close`.
  After next(char close) {
    ws();
    if (p_ == end_) {
      return After::bad;
    }
    if (*p_ == ',') {
      ++p_;
      ws();
      return After::more;
    }
    if (*p_ == close) {
      ++p_;
      return After::closed;
    }
    return After::bad;
  }

  // A string at p_ (its quote): the chunk's own bytes without escapes, else decoded.
  bool string(std::string_view& out) {
    const char* const text = ++p_;
    for (;;) {
      p_ = byte_scan::find_json_special(p_, end_);
      if (p_ == end_) {
        return false;
      }
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(text, static_cast<std::size_t>(p_ - text));
        ++p_;
        return true;
      }
      if (c < 0x80) {
        return c == '\\' && escaped(text, out);  // else a control byte
      }
      const std::size_t n = json_lex::utf8_length(p_, end_);
      if (n == 0) {
        return false;
      }
      p_ += n;
    }
  }

  // The rest of a string from its first escape (at p_), decoded into out_.decoded. Its room is the
  // chunk's size, reserved once: a string never decodes longer than its text, so the strings
  // decoded before never move.
  [[gnu::noinline]] bool escaped(const char* text, std::string_view& out) {
    std::string& d = out_.decoded;
    if (d.capacity() < static_cast<std::size_t>(end_ - begin_)) {
      if (!d.empty()) {
        return false;
      }
      d.reserve(static_cast<std::size_t>(end_ - begin_));
    }
    const std::size_t start = d.size();
    const char* run = text;
    for (;;) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        d.append(run, static_cast<std::size_t>(p_ - run));
        out = std::string_view(d).substr(start);
        ++p_;
        return true;
      }
      if (c >= 0x80) {
        const std::size_t n = json_lex::utf8_length(p_, end_);
        if (n == 0) {
          return false;
        }
        p_ += n;
      } else if (c != '\\' || end_ - p_ < 2) {
        return false;  // a control byte, or a backslash at the end
      } else {
        d.append(run, static_cast<std::size_t>(p_ - run));
        if (p_[1] == 'u') {
          char u[4];
          const std::size_t n = json_lex::unicode_escape(p_, end_, u);
          if (n == 0) {
            return false;
          }
          d.append(u, n);
        } else {
          const char e = byte_scan::simple_escape(p_[1]);
          if (e == 0) {
            return false;
          }
          d.push_back(e);
          p_ += 2;
        }
        run = p_;
      }
      p_ = byte_scan::find_json_special(p_, end_);
      if (p_ == end_) {
        return false;
      }
    }
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) {
      return false;
    }
    p_ += n;
    return true;
  }

  bool null() { return literal("null", 4); }

  // An array whose elements `element()` reads, or null (read as none).
  template <class Element>
  bool array_or_null(Element element) {
    return *p_ == '[' ? array(element) : null();
  }

  // A string, or null (read as empty).
  bool text(std::string_view& out) {
    if (*p_ == '"') {
      return string(out);
    }
    out = {};
    return null();
  }

  // An integer of 1 to 18 digits without a sign, fraction or exponent (an int64 as basic_parser
  // reads it), or null.
  bool index(ChunkChoice::Index& kind, std::int64_t& value) {
    if (*p_ == 'n') {
      kind = ChunkChoice::Index::absent;
      value = 0;
      return null();
    }
    const json_lex::NumberShape n = json_lex::number_shape(p_, end_);
    if (n.end == nullptr || !n.plain()) {
      return false;
    }
    std::int64_t v = 0;
    for (; p_ < n.end; ++p_) {
      v = v * 10 + (*p_ - '0');
    }
    kind = ChunkChoice::Index::integer;
    value = v;
    return true;
  }

  // A number of JSON's grammar within the bounds of the header.
  bool number() {
    const json_lex::NumberShape n = json_lex::number_shape(p_, end_);
    if (n.end == nullptr || n.int_digits > 18 || n.frac_digits > 32 || n.exp_digits > 4) {
      return false;
    }
    p_ = n.end;
    return true;
  }

  // A value nobody reads, checked as basic_parser checks it.
  bool skip(int depth) {
    switch (*p_) {
      case '"': {
        std::string_view s;
        return string(s);
      }
      case '{':
        return depth < kMaxSkipDepth &&
               object([this, depth](std::string_view) { return skip(depth + 1); });
      case '[':
        return depth < kMaxSkipDepth && array([this, depth] { return skip(depth + 1); });
      case 't':
        return literal("true", 4);
      case 'f':
        return literal("false", 5);
      case 'n':
        return null();
      default:
        return number();
    }
  }

  bool root(std::string_view key) {
    if (open_) {
      prefix_end_ = static_cast<std::size_t>(member_ - begin_);  // the members before are kept
    }
    if (key_is(key, "choices")) {
      open_ = false;  // read anew in every chunk, and so is every member after it
      return root_seen_.first(0) && array_or_null([this] { return choice(); });
    }
    if (key_is(key, "id")) {
      if (!root_seen_.first(kIdBit) || !text(out_.id)) {
        return false;
      }
      if (out_.id.data() >= begin_ && out_.id.data() < end_) {
        id_begin_ = static_cast<std::size_t>(out_.id.data() - begin_);
      } else {
        open_ = false;  // decoded: not a view of the chunk's bytes
      }
      return true;
    }
    if (key_is(key, "usage")) {
      open_ = false;
      if (!root_seen_.first(2)) {
        return false;
      }
      usage_object_ = *p_ == '{';
      if (*p_ == '{') {
        const std::size_t end = usage_detail::read_usual_usage(
            std::string_view(begin_, static_cast<std::size_t>(end_ - begin_)),
            static_cast<std::size_t>(p_ - begin_), out_.usage);
        if (end == std::string_view::npos) {
          return false;
        }
        p_ = begin_ + end;
        return true;
      }
      boost::system::error_code ec;
      return null() && out_.usage.on_null(ec);
    }
    if (key_is(key, "error")) {
      open_ = false;
      return root_seen_.first(3) && null();
    }
    return skip(0);
  }

  bool choice() {
    if (*p_ != '{') {
      return false;
    }
    const std::size_t position = out_.choices.size();  // every element is an object here
    out_.choices.emplace_back().position = position;
    out_.calls_begin.push_back(out_.calls.size());
    Seen seen;
    return object([this, &seen](std::string_view key) {
      ChunkChoice& c = out_.choices.back();
      if (key_is(key, "index")) {
        return seen.first(0) && index(c.index_kind, c.index);
      }
      if (key == body_) {
        if (!seen.first(1)) {
          return false;
        }
        if (*p_ != '{') {
          return null();
        }
        c.has_body = true;
        return delta(c);
      }
      if (key_is(key, "finish_reason")) {
        return seen.first(2) && text(c.finish_reason);
      }
      return skip(0);
    });
  }

  // A delta's text member or a call's arguments (text()), its string noted for the content delta
  // this chunk offers.
  bool text_of(ChunkContent::Field field, std::string_view& out) {
    const char* const at = p_;
    if (!text(out)) {
      return false;
    }
    if (*at == '"') {
      ++contents_;
      content_field_ = field;
      content_at_ = at;
      content_end_ = p_;
    }
    return true;
  }

  bool delta(ChunkChoice& c) {
    Seen seen;
    return object([this, &c, &seen](std::string_view key) {
      if (key_is(key, "content")) {
        return seen.first(0) && text_of(ChunkContent::Field::content, c.content);
      }
      if (key_is(key, "tool_calls")) {
        return seen.first(1) && array_or_null([this] { return call(); });
      }
      if (key_is(key, "refusal")) {
        return seen.first(2) && text(c.refusal);
      }
      if (key_is(key, "reasoning_content")) {
        return seen.first(3) &&
               text_of(ChunkContent::Field::reasoning_content, c.reasoning_content);
      }
      if (key_is(key, "reasoning")) {
        return seen.first(4) && text_of(ChunkContent::Field::reasoning, c.reasoning);
      }
      return skip(0);
    });
  }

  bool call() {
    if (*p_ != '{') {
      return false;
    }
    out_.calls.emplace_back();
    Seen seen;
    return object([this, &seen](std::string_view key) {
      ChunkToolCall& t = out_.calls.back();
      if (key_is(key, "index")) {
        ChunkChoice::Index kind = ChunkChoice::Index::absent;
        std::int64_t v = 0;
        if (!seen.first(0) || !index(kind, v)) {
          return false;
        }
        if (kind == ChunkChoice::Index::integer) {
          t.index = v;
        }
        return true;
      }
      if (key_is(key, "id")) {
        return seen.first(1) && text(t.id);
      }
      if (key_is(key, "function")) {
        if (!seen.first(2)) {
          return false;
        }
        if (*p_ != '{') {
          return null();
        }
        t.has_function = true;
        Seen fn;
        return object([this, &t, &fn](std::string_view name) {
          if (key_is(name, "name")) {
            return fn.first(0) && text(t.name);
          }
          if (key_is(name, "arguments")) {
            return fn.first(1) && text_of(ChunkContent::Field::arguments, t.arguments);
          }
          return skip(1);
        });
      }
      return skip(0);
    });
  }

  static constexpr unsigned kIdBit = 1;
  static constexpr std::size_t kMinPrefix = 16;  ///< shorter ones are not worth a compare

  const char* begin_;
  const char* p_;
  const char* end_;
  std::string_view body_;
  Reading& out_;
  Seen root_seen_;
  // The prefix (ChunkPrefix) this chunk offers: while `open_`, every top-level member so far is one
  // it may hold (`id` as a view, members skipped), and prefix_end_ is where the member being read
  // starts.
  const char* member_ = nullptr;  ///< the key of the member being read
  bool open_ = true;
  std::size_t prefix_end_ = 0;
  std::size_t id_begin_ = 0;  ///< `id`'s text in the chunk; 0: none
  std::size_t known_ = 0;     ///< the prefix this chunk started with (then it keeps it)
  // The content delta this chunk offers (ChunkContent): its string contents, the last one's
  // bytes, and whether its `usage` was an object.
  int contents_ = 0;
  ChunkContent::Field content_field_ = ChunkContent::Field::content;
  const char* content_at_ = nullptr;   ///< the opening quote
  const char* content_end_ = nullptr;  ///< past the closing quote
  bool usage_object_ = false;
};

}  // namespace

bool read_usual_chunk(std::string_view data, std::string_view body, Reading& out) {
  return UsualChunk(data, body, out).document();
}

}  // namespace sb::adapters::chunk_detail
