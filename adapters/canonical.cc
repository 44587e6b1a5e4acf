#include "adapters/canonical.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <utility>

namespace sb::adapters {

namespace {

// This thread's spare arena. Trivially destructible, so still readable while the thread's other
// thread_locals are destroyed; the keeper frees the spare at the thread's end and closes the slot.
thread_local RequestArena* t_spare = nullptr;
thread_local bool t_closed = false;
struct SpareKeeper {
  bool armed = false;
  ~SpareKeeper() {
    t_closed = true;
    delete std::exchange(t_spare, nullptr);
  }
};
thread_local SpareKeeper t_keeper;

}  // namespace

std::unique_ptr<RequestArena, RequestArena::Release> RequestArena::acquire() {
  RequestArena* a = std::exchange(t_spare, nullptr);
  return std::unique_ptr<RequestArena, Release>(a != nullptr ? a : new RequestArena());
}

void RequestArena::Release::operator()(RequestArena* a) const noexcept {
  if (t_spare != nullptr || t_closed) {
    delete a;
    return;
  }
  a->reset();
  t_keeper.armed = true;  // registers the keeper's destructor for this thread
  t_spare = a;
}

RequestArena::~RequestArena() {
  free_blocks(large_);
  free_blocks(blocks_);
  free_blocks(spare_);
}

void RequestArena::free_blocks(Block* b) noexcept {
  while (b != nullptr) {
    ::operator delete(std::exchange(b, b->next));
  }
}

// Empty again: the blocks in use become spare ones (the oldest, smallest, first), ahead of the
// spare ones left unused, as far as kKept bytes; the rest go back to the heap.
void RequestArena::reset() noexcept {
  free_blocks(std::exchange(large_, nullptr));
  Block* kept = spare_;
  while (blocks_ != nullptr) {
    Block* b = std::exchange(blocks_, blocks_->next);
    b->next = kept;
    kept = b;
  }
  std::size_t total = 0;
  for (Block** at = &kept; *at != nullptr; at = &(*at)->next) {
    total += (*at)->size;
    if (total > kKept) {
      free_blocks(std::exchange(*at, nullptr));
      break;
    }
  }
  spare_ = kept;
  top_ = inline_;
  end_ = inline_ + kInline;
  heap_bytes_ = 0;
  block_bytes_ = 0;
  string_ = nullptr;
  reusable_ = nullptr;
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
  for (const Block* list : {blocks_, large_}) {
    for (const Block* b = list; b != nullptr; b = b->next) {
      const char* data = reinterpret_cast<const char*>(b + 1);
      if (inside(data, data + b->size)) {
        return true;
      }
    }
  }
  return false;
}

// A new block of at least `at_least` bytes (and half the blocks so far: a block as large as all
// before doubled the heap at each growth, up to 4x what a dense body's vectors hold, past the
// typed reading's budget), becoming the top one; a string being built moves over to it.
void RequestArena::grow(std::size_t at_least) {
  const std::size_t building = string_ != nullptr ? static_cast<std::size_t>(top_ - string_) : 0;
  std::size_t size = std::max<std::size_t>({kInline * 2, block_bytes_ / 2, at_least + building});
  size = (size + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
         alignof(std::max_align_t);
  static_assert(sizeof(Block) % alignof(std::max_align_t) == 0);
  if (string_ == nullptr) {
    give_back(top_, static_cast<std::size_t>(end_ - top_));  // the old block's tail
  }
  Block* b = nullptr;
  for (Block** at = &spare_; *at != nullptr; at = &(*at)->next) {
    if ((*at)->size >= at_least + building) {  // a kept block that will do
      b = std::exchange(*at, (*at)->next);
      break;
    }
  }
  if (b == nullptr) {
    b = static_cast<Block*>(::operator new(sizeof(Block) + size));
    b->size = size;
  }
  b->next = blocks_;
  blocks_ = b;
  heap_bytes_ += b->size;
  block_bytes_ += b->size;
  char* data = reinterpret_cast<char*>(b + 1);
  if (building > 0) {
    std::memcpy(data, string_, building);
  }
  string_ = string_ != nullptr ? data : nullptr;
  top_ = data + building;
  end_ = data + b->size;
}

// Keeps [p, p + bytes) for reuse when it is large enough to be worth it, at a max_align_t
// boundary (what every allocation asks at most).
void RequestArena::give_back(char* p, std::size_t bytes) {
  constexpr std::size_t kAlign = alignof(std::max_align_t);
  const auto misalign = reinterpret_cast<std::uintptr_t>(p) % kAlign;
  const std::size_t skip = misalign == 0 ? 0 : kAlign - misalign;
  if (bytes < kMinReused + skip) {
    return;
  }
  auto* r = reinterpret_cast<Reusable*>(p + skip);
  r->next = reusable_;
  r->size = (bytes - skip) / kAlign * kAlign;
  reusable_ = r;
}

// The first piece given back that holds `bytes`, carved from its front (the rest stays given
// back); nullptr when none does.
void* RequestArena::reuse(std::size_t bytes, std::size_t align) {
  constexpr std::size_t kAlign = alignof(std::max_align_t);
  if (align > kAlign) {
    return nullptr;
  }
  const std::size_t taken = (bytes + kAlign - 1) / kAlign * kAlign;
  for (Reusable** at = &reusable_; *at != nullptr; at = &(*at)->next) {
    Reusable* r = *at;
    if (r->size < taken) {
      continue;
    }
    *at = r->next;
    if (r->size - taken >= kMinReused) {
      auto* rest = reinterpret_cast<Reusable*>(reinterpret_cast<char*>(r) + taken);
      rest->next = *at;
      rest->size = r->size - taken;
      *at = rest;
    }
    return r;
  }
  return nullptr;
}

void* RequestArena::allocate_large(std::size_t bytes) {
  auto* b = static_cast<Block*>(::operator new(sizeof(Block) + bytes));
  b->size = bytes;
  b->prev = nullptr;
  b->next = large_;
  if (large_ != nullptr) {
    large_->prev = b;
  }
  large_ = b;
  heap_bytes_ += bytes;
  return b + 1;
}

void RequestArena::free_large(void* p) noexcept {
  Block* b = static_cast<Block*>(p) - 1;
  (b->prev != nullptr ? b->prev->next : large_) = b->next;
  if (b->next != nullptr) {
    b->next->prev = b->prev;
  }
  heap_bytes_ -= b->size;
  ::operator delete(b);
}

void RequestArena::do_deallocate(void* p, std::size_t bytes, std::size_t align) {
  if (bytes >= kLarge && align <= alignof(std::max_align_t)) {
    free_large(p);  // every allocation this large has a block of its own
    return;
  }
  if (string_ != nullptr) {
    return;  // the string being built lies above: nothing below it moves
  }
  char* c = static_cast<char*>(p);
  if (c + bytes == top_) {
    top_ = c;  // the latest allocation: the top moves back
    return;
  }
  give_back(c, bytes);
}

void* RequestArena::do_allocate(std::size_t bytes, std::size_t align) {
  // Never called while a string is being built (the parser finishes each string first).
  if (bytes >= kLarge && align <= alignof(std::max_align_t)) {
    return allocate_large(bytes);
  }
  if (bytes >= kMinReused && reusable_ != nullptr) {
    if (void* p = reuse(bytes, align)) {
      return p;
    }
  }
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
    : arena_(RequestArena::acquire()),
      stop(arena_.get()),
      tools(arena_.get()),
      messages(arena_.get()),
      members(arena_.get()),
      unknown(arena_.get()),
      unescaped(arena_.get()) {}

std::string_view ChatRequest::raw(std::string_view key) const {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    if (it->key == key) {
      return body.substr(it->value_begin, it->value_end - it->value_begin);
    }
  }
  return {};
}

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
