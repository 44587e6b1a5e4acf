#pragma once
// A member's path in a request body, as a refusal names it: "messages.1.content.0.text" in
// Anthropic's wording, "input[2].content[0].text" in OpenAI's. Each level is a link on the stack
// to the one above, and the text is written only when an error names it: a path string built
// for every turn, item and block cost more than the translation of most of them. A path must not
// outlive the one it extends; extending a temporary does not compile.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::adapters {

class MemberPath {
 public:
  /// How an array element's index is written: `.1` (Anthropic) or `[1]` (OpenAI).
  enum class Index { dotted, bracketed };

  /// A top-level member ("messages", "input").
  MemberPath(const char* member, Index style = Index::dotted) : text_(member), style_(style) {}
  /// Below `parent`: `suffix` with its leading dot (".content", ".source.url.url").
  MemberPath(const MemberPath& parent, std::string_view suffix)
      : parent_(&parent), text_(suffix), style_(parent.style_) {}
  MemberPath(MemberPath&& parent, std::string_view suffix) = delete;
  /// The element `k` of the array at `parent`.
  MemberPath(const MemberPath& parent, std::size_t k)
      : parent_(&parent), index_(k), style_(parent.style_) {}
  MemberPath(MemberPath&& parent, std::size_t k) = delete;

  /// The element `k` of the array at this path.
  MemberPath element(std::size_t k) const& { return {*this, k}; }
  MemberPath element(std::size_t k) && = delete;

  /// The path as the wording writes it.
  std::string str() const {
    std::string s = parent_ != nullptr ? parent_->str() : std::string();
    if (index_ == kNoIndex) {
      s += text_;
    } else if (style_ == Index::dotted) {
      s += '.';
      s += std::to_string(index_);
    } else {
      s += '[';
      s += std::to_string(index_);
      s += ']';
    }
    return s;
  }

 private:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  const MemberPath* parent_ = nullptr;
  std::string_view text_;
  std::size_t index_ = kNoIndex;
  Index style_;
};

/// `where` and then `suffix` (with its leading dot).
inline MemberPath operator/(const MemberPath& where, std::string_view suffix) {
  return {where, suffix};
}
MemberPath operator/(MemberPath&& where, std::string_view suffix) = delete;

}  // namespace sb::adapters
