#pragma once
// A request to an upstream, as the gateway builds it: method, target, version, header fields and
// body. The fields are kept as the bytes they are sent as ("Name: value\r\n", one after another
// in one block), so writing the head is a copy of that block, and building a request allocates
// the block once (where a Beast message allocates, links and frees a node per field).
//
// The subset of Beast's request interface the gateway uses, with Beast's meanings: set() replaces
// every field of that name by one at the end, insert() adds one after the last of that name (or
// at the end), erase() removes every field of that name, lookups answer the first; names compare
// ASCII case-insensitively and keep the spelling given (Beast's canonical one for an
// http::field). Names and values are written as given: callers pass what they checked (header
// values from the client went through the request's own checks).

#include <cstddef>
#include <cstdint>
#include <ostream>  // before Beast's field names: its string_view needs it whole
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace sb::upstream {

class Request {
  struct Entry {
    std::uint32_t at;          ///< the line's first byte in block_
    std::uint32_t name_size;   ///< the name's; ": " follows it
    std::uint32_t value_size;  ///< the value's; "\r\n" follows it
    std::uint32_t line_size() const { return name_size + value_size + 4; }
  };

 public:
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;

  /// One field, read as Beast's fields are.
  class Field {
   public:
    std::string_view name_string() const { return {line_, e_->name_size}; }
    std::string_view value() const { return {line_ + e_->name_size + 2, e_->value_size}; }

   private:
    friend class Request;
    Field(const char* line, const Entry* e) : line_(line), e_(e) {}
    const char* line_;
    const Entry* e_;
  };
  class iterator {
   public:
    Field operator*() const { return {block_ + e_->at, e_}; }
    iterator& operator++() {
      ++e_;
      return *this;
    }
    bool operator==(const iterator& o) const { return e_ == o.e_; }

   private:
    friend class Request;
    iterator(const char* block, const Entry* e) : block_(block), e_(e) {}
    const char* block_;
    const Entry* e_;
  };

  Request() = default;
  Request(verb method, std::string_view target, unsigned version)
      : method_(method), target_(target), version_(version) {}

  verb method() const { return method_; }
  void method(verb v) { method_ = v; }
  std::string_view method_string() const { return boost::beast::http::to_string(method_); }
  std::string_view target() const { return target_; }
  void target(std::string_view t) { target_.assign(t.data(), t.size()); }
  /// 10 for HTTP/1.0, 11 for HTTP/1.1.
  unsigned version() const { return version_; }
  void version(unsigned v) { version_ = v; }

  void set(std::string_view name, std::string_view value);
  void set(field name, std::string_view value) { set(to_name(name), value); }
  void insert(std::string_view name, std::string_view value);
  void insert(field name, std::string_view value) { insert(to_name(name), value); }
  void erase(std::string_view name);
  void erase(field name) { erase(to_name(name)); }

  /// The value of the first field named `name`; empty when there is none.
  std::string_view operator[](std::string_view name) const;
  std::string_view operator[](field name) const { return (*this)[to_name(name)]; }
  iterator find(std::string_view name) const;
  iterator find(field name) const { return find(to_name(name)); }
  iterator begin() const { return {block_.data(), entries_.data()}; }
  iterator end() const { return {block_.data(), entries_.data() + entries_.size()}; }

  std::string& body() { return body_; }
  const std::string& body() const { return body_; }

  /// Beast's prepare_payload for a request with a string body: a Content-Length when the body is
  /// not empty or the method is POST, PUT or OPTIONS; never a Transfer-Encoding (the body is
  /// sent whole).
  void prepare_payload();

  /// The request line, the fields and the blank line: the bytes before the body.
  std::string head() const;

 private:
  static std::string_view to_name(field f) {
    const auto s = boost::beast::http::to_string(f);
    return {s.data(), s.size()};
  }
  std::string_view name_at(const Entry& e) const { return {block_.data() + e.at, e.name_size}; }
  /// Writes the line of (name, value) at `at` of block_ (`at` == size: at the end) and records it
  /// as entries_[index].
  void put(std::size_t index, std::size_t at, std::string_view name, std::string_view value);

  verb method_ = verb::get;
  std::string target_;
  unsigned version_ = 11;
  std::string block_;
  std::vector<Entry> entries_;
  /// Bit (n % 32) set when a field with a name of n bytes was added: an erase() of a name whose
  /// bit is clear has nothing to look for (the bits are never cleared: they may say "maybe").
  std::uint32_t name_sizes_ = 0;
  std::string body_;
};

}  // namespace sb::upstream
