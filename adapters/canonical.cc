#include "adapters/canonical.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>

namespace sb::adapters {

RequestArena::~RequestArena() {
  while (blocks_ != nullptr) {
    Block* next = blocks_->next;
    ::operator delete(blocks_);
    blocks_ = next;
  }
}

bool RequestArena::contains(const char* p, std::size_t n) const {
  // std::less gives a total order on pointers of unrelated blocks.
  const auto inside = [&](const char* begin, const char* end) {
    return !std::less<const char*>()(p, begin) && !std::less<const char*>()(end, p) &&
           n <= static_cast<std::size_t>(end - p);
  };
  if (inside(inline_, inline_ + kInline)) {
    return true;
  }
  for (const Block* b = blocks_; b != nullptr; b = b->next) {
    const char* data = reinterpret_cast<const char*>(b + 1);
    if (inside(data, data + b->size)) {
      return true;
    }
  }
  return false;
}

// A new block of at least `at_least` bytes (and twice the heap so far), becoming the top one; a
// string being built moves over to it.
void RequestArena::grow(std::size_t at_least) {
  const std::size_t building = string_ != nullptr ? static_cast<std::size_t>(top_ - string_) : 0;
  std::size_t size = std::max<std::size_t>({kInline * 2, heap_bytes_, at_least + building});
  size = (size + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
         alignof(std::max_align_t);
  static_assert(sizeof(Block) % alignof(std::max_align_t) == 0);
  auto* b = static_cast<Block*>(::operator new(sizeof(Block) + size));
  b->next = blocks_;
  b->size = size;
  blocks_ = b;
  heap_bytes_ += size;
  char* data = reinterpret_cast<char*>(b + 1);
  if (building > 0) {
    std::memcpy(data, string_, building);
  }
  string_ = string_ != nullptr ? data : nullptr;
  top_ = data + building;
  end_ = data + size;
}

void* RequestArena::do_allocate(std::size_t bytes, std::size_t align) {
  // Never called while a string is being built (the parser finishes each string first).
  auto space = static_cast<std::size_t>(end_ - top_);
  void* p = top_;
  if (std::align(align, bytes, p, space) == nullptr) {
    grow(bytes + align);
    space = static_cast<std::size_t>(end_ - top_);
    p = top_;
    if (std::align(align, bytes, p, space) == nullptr) {
      throw std::bad_alloc();
    }
  }
  top_ = static_cast<char*>(p) + bytes;
  return p;
}

void RequestArena::append(std::string_view piece) {
  if (string_ == nullptr) {
    string_ = top_;
  }
  if (static_cast<std::size_t>(end_ - top_) < piece.size()) {
    grow(piece.size());
  }
  if (!piece.empty()) {
    std::memcpy(top_, piece.data(), piece.size());
  }
  top_ += piece.size();
}

std::string_view RequestArena::finish_string() {
  if (string_ == nullptr) {
    return {};
  }
  const std::string_view s(string_, static_cast<std::size_t>(top_ - string_));
  string_ = nullptr;
  return s;
}

ChatRequest::ChatRequest()
    : arena_(std::make_unique<RequestArena>()),
      stop(arena_.get()),
      tools(arena_.get()),
      messages(arena_.get()),
      members(arena_.get()),
      unknown(arena_.get()),
      tokens(arena_.get()),
      unescaped(arena_.get()) {}

bool ChatRequest::holds(std::string_view s) const {
  if (s.empty()) {
    return true;
  }
  const std::less<const char*> before;
  const bool in_body = !before(s.data(), body.data()) &&
                       !before(body.data() + body.size(), s.data()) &&
                       s.size() <= static_cast<std::size_t>(body.data() + body.size() - s.data());
  return in_body || arena_->contains(s.data(), s.size());
}

}  // namespace sb::adapters
