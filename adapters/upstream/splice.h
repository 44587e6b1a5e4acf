#pragma once
// A text made of another without copying it: pieces in order, each a range of the original (lent
// by its owner) or of the splice's own bytes (what an edit added). A chat body to an
// OpenAI-compatible upstream is the client's bytes with a new `model` and the stream's usage
// option: a splice of the client's body, sent with one gather write (upstream::Request).
// Offsets, not pointers: a splice may move, and the original is given when it is read. Header
// only: the translators that build one link no networking code.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sb::upstream {

struct Splice {
  struct Piece {
    bool added = false;     ///< a range of `added`, else of the original
    std::size_t begin = 0;  ///< offset in the original or in `added`
    std::size_t size = 0;
  };
  std::string added;
  std::vector<Piece> pieces;

  /// Appends the original's bytes [begin, begin + size); adjacent ranges are one piece.
  void keep(std::size_t begin, std::size_t size);
  /// Appends new bytes; new bytes in a row are one piece.
  void add(std::string_view bytes);
  /// The text's size.
  std::size_t size() const;
  /// One piece's bytes, `original` the text the splice was made of.
  std::string_view piece(std::string_view original, const Piece& p) const {
    return p.added ? std::string_view(added).substr(p.begin, p.size)
                   : original.substr(p.begin, p.size);
  }
  /// The text as one string.
  std::string text(std::string_view original) const;

 private:
  void push(const Piece& p) {
    if (pieces.empty()) {
      pieces.reserve(8);  // a chat body's splice has three to five pieces
    }
    pieces.push_back(p);
  }
};

inline void Splice::keep(std::size_t begin, std::size_t size) {
  if (size == 0) {
    return;
  }
  if (!pieces.empty() && !pieces.back().added &&
      pieces.back().begin + pieces.back().size == begin) {
    pieces.back().size += size;
    return;
  }
  push(Piece{false, begin, size});
}

inline void Splice::add(std::string_view bytes) {
  if (bytes.empty()) {
    return;
  }
  const std::size_t begin = added.size();
  added.append(bytes);
  if (!pieces.empty() && pieces.back().added && pieces.back().begin + pieces.back().size == begin) {
    pieces.back().size += bytes.size();
    return;
  }
  push(Piece{true, begin, bytes.size()});
}

inline std::size_t Splice::size() const {
  std::size_t n = 0;
  for (const Piece& p : pieces) {
    n += p.size;
  }
  return n;
}

inline std::string Splice::text(std::string_view original) const {
  std::string out;
  out.reserve(size());
  for (const Piece& p : pieces) {
    out.append(piece(original, p));
  }
  return out;
}

}  // namespace sb::upstream
