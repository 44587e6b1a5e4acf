#pragma once
// A request to an upstream, as the gateway builds it: method, target, version, header fields and
// body. The fields are kept as the lines they are sent as (FieldLines), so writing the head is a
// copy of one block.
//
// The subset of Beast's request interface the gateway uses, with Beast's meanings (see
// field_lines.h); an http::field names a field by Beast's canonical spelling.
//
// The body is one string (body()) or a splice (splice.h): a client's body goes upstream without a
// copy, its bytes and the gateway's edits between them written with one gather write.

#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/verb.hpp>

#include "adapters/upstream/field_lines.h"
#include "adapters/upstream/field_name.h"
#include "adapters/upstream/splice.h"

namespace sb::upstream {

class Request {
 public:
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;
  using iterator = FieldLines::iterator;

  Request() = default;
  Request(verb method, std::string_view target, unsigned version)
      : method_(method), target_(target), version_(version) {}

  verb method() const { return method_; }
  void method(verb v) { method_ = v; }
  std::string_view method_string() const { return boost::beast::http::to_string(method_); }
  std::string_view target() const { return target_; }
  void target(std::string_view t) { target_.assign(t.data(), t.size()); }
  /// The target `prefix` + `rest` (a base path and an endpoint's path), in one allocation.
  void target(std::string_view prefix, std::string_view rest) {
    target_.clear();
    target_.reserve(prefix.size() + rest.size());
    target_.append(prefix).append(rest);
  }
  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  unsigned version() const { return version_; }
  void version(unsigned v) { version_ = v; }

  void set(std::string_view name, std::string_view value) { fields_.set(name, value); }
  void set(field name, std::string_view value) { fields_.set(field_name(name), value); }
  void insert(std::string_view name, std::string_view value) { fields_.insert(name, value); }
  void insert(field name, std::string_view value) { fields_.insert(field_name(name), value); }
  void erase(std::string_view name) { fields_.erase(name); }
  void erase(field name) { fields_.erase(field_name(name)); }

  /// The value of the first field named `name`; empty when there is none.
  std::string_view operator[](std::string_view name) const { return fields_[name]; }
  std::string_view operator[](field name) const { return fields_[field_name(name)]; }
  iterator find(std::string_view name) const { return fields_.find(name); }
  iterator find(field name) const { return fields_.find(field_name(name)); }
  iterator begin() const { return fields_.begin(); }
  iterator end() const { return fields_.end(); }

  /// The body as one string (a splice given before is dropped).
  std::string& body() {
    body_.pieces.clear();
    spliced_ = false;
    return body_.added;
  }
  /// The body when it is one string (of a splice, the bytes it added).
  const std::string& body() const { return body_.added; }
  /// The body as a splice of `original`: bytes the caller keeps alive and unchanged while the
  /// request is sent (until Pool::send returns), not copied. Replaces a body set through body().
  void body(Splice splice, std::string_view original);
  /// The body's size, whichever way it was given.
  std::size_t body_size() const { return spliced_ ? body_.size() : body_.added.size(); }
  /// The body's pieces, in order: one (body()) when it is not a splice.
  std::size_t body_pieces() const { return spliced_ ? body_.pieces.size() : 1; }
  std::string_view body_piece(std::size_t k) const {
    return spliced_ ? body_.piece(original_, body_.pieces[k]) : std::string_view(body_.added);
  }
  /// The whole body as one string (a copy).
  std::string body_text() const { return spliced_ ? body_.text(original_) : body_.added; }

  /// Beast's prepare_payload for a request with a string body: a Content-Length when the body is
  /// not empty or the method is POST, PUT or OPTIONS; never a Transfer-Encoding (the body is
  /// sent whole).
  void prepare_payload();

  /// The request line, the fields and the blank line: the bytes before the body.
  std::string head() const;
  /// The same, written into `out` (replacing what it held; its storage reused).
  void head(std::string& out) const;

 private:
  verb method_ = verb::get;
  std::string target_;
  unsigned version_ = 11;
  bool spliced_ = false;
  FieldLines fields_;
  Splice body_;  // a whole body is its `added` bytes, without pieces
  std::string_view original_;
};

}  // namespace sb::upstream
