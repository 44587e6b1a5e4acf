#pragma once
// HTTP header fields kept as the lines they are sent as ("Name: value\r\n", back to back in one
// block), with an index of where each line starts: the storage of the upstream request's fields
// (written as they are) and of a response's head (filled by the parser). Building it allocates
// the block and the index once (they keep their capacity across clear()), where a Beast message
// allocates, links and frees a node per field.
//
// Beast's meanings: set() replaces every field of that name by one at the end, insert() adds one
// after the last of that name (or at the end), erase() removes every field of that name, lookups
// answer the first; names compare ASCII case-insensitively and keep the spelling given. Names and
// values are stored as given: callers pass what was checked (a value holding CR or LF would
// break the lines).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sb::upstream {

class FieldLines {
  struct Entry {
    std::uint32_t at;          ///< the line's first byte in block_
    std::uint32_t name_size;   ///< the name's; ": " follows it
    std::uint32_t value_size;  ///< the value's; "\r\n" follows it
    std::uint32_t line_size() const { return name_size + value_size + 4; }
  };

 public:
  /// One field, read as Beast's fields are (name_string(), value()).
  class Field {
   public:
    std::string_view name_string() const { return {line_, e_->name_size}; }
    std::string_view value() const { return {line_ + e_->name_size + 2, e_->value_size}; }

   private:
    friend class FieldLines;
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
    friend class FieldLines;
    iterator(const char* block, const Entry* e) : block_(block), e_(e) {}
    const char* block_;
    const Entry* e_;
  };

  /// At the end, whatever is there already.
  void add(std::string_view name, std::string_view value) {
    put(entries_.size(), block_.size(), name, value);
  }
  void set(std::string_view name, std::string_view value) {
    erase(name);
    add(name, value);
  }
  void insert(std::string_view name, std::string_view value);
  void erase(std::string_view name);
  /// No fields; the storage kept.
  void clear() {
    block_.clear();
    entries_.clear();
    name_sizes_ = 0;
  }

  /// The value of the first field named `name`; empty when there is none.
  std::string_view operator[](std::string_view name) const;
  iterator find(std::string_view name) const;
  iterator begin() const { return {block_.data(), entries_.data()}; }
  iterator end() const { return {block_.data(), entries_.data() + entries_.size()}; }
  std::size_t size() const { return entries_.size(); }
  /// The lines, as sent.
  std::string_view lines() const { return block_; }

 private:
  std::string_view name_at(const Entry& e) const { return {block_.data() + e.at, e.name_size}; }
  /// Writes the line of (name, value) at `at` of block_ and records it as entries_[index].
  void put(std::size_t index, std::size_t at, std::string_view name, std::string_view value);

  std::string block_;
  std::vector<Entry> entries_;
  /// Bit (n % 32) set when a field with a name of n bytes was added: an erase() of a name whose
  /// bit is clear has nothing to look for (only clear() clears them: they may say "maybe").
  std::uint32_t name_sizes_ = 0;
};

}  // namespace sb::upstream
