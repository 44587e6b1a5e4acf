#pragma once
// Text normalisation before sensitivity matching (policies/detector.h): text as people paste it
// is folded to the ASCII forms the detection rules expect, using ICU's character data rather than
// hand-written tables.
//
// Private to the policies library. Every function runs in time linear in its input and keeps no
// state between calls; the caller owns (and reuses) the buffers.

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::policies::normalize {

/// True when every byte of `text` is below 0x80. Pure ASCII text needs no normalisation: it is
/// already in the form below.
bool is_ascii(std::string_view text);

namespace detail {
// is_ascii both ways, for the tests: the AVX2 one only where cpu::has_avx2().
bool is_ascii_sse2(std::string_view text);
bool is_ascii_avx2(std::string_view text);
}  // namespace detail

/// Appends the matching form of `text` (any bytes, UTF-8 expected) to `out`:
///  - a byte that does not start a well-formed UTF-8 sequence, or a truncated sequence, becomes one
///    space (a separator: what is around it is still scanned);
///  - Unicode compatibility folding (NFKC): full-width letters, digits and `＠` become ASCII,
///    ligatures and circled or super/subscript digits their plain forms, and so on;
///  - every dash (general category Pd: U+2010-2015, U+FE58, U+FE63, U+FF0D, ...) and the minus
///    sign U+2212 becomes `-`; every space separator (Zs: no-break, thin, narrow no-break,
///    ideographic, ...) becomes ` `; line and paragraph separators (U+2028, U+2029) become `\n`;
///  - default-ignorable code points (zero-width space and joiners, soft hyphen, byte order mark,
///    variation selectors, bidi controls, ...) are removed, and so are combining marks that follow
///    an ASCII character (so `4̶1̶1̶1̶` reads `4111` and a keycap `4️⃣` reads `4`);
///  - decimal digits of other scripts (Arabic-Indic, Devanagari, ...) become ASCII digits.
/// `scratch` is a work buffer (its content is overwritten). Compatibility folding can lengthen
/// text (U+FDFA, 3 bytes, becomes 33): the appended output is capped at kMaxGrowth times the input
/// plus kGrowthSlack bytes, so memory stays proportional to the request. Returns false when ICU
/// fails, the cap is reached or `text` is 2 GiB or longer: the caller must then treat the text as
/// unscannable (fail closed).
bool append_normalized(std::string_view text, std::string& out, std::string& scratch);

/// The output cap of append_normalized: ordinary text shrinks or keeps its size (full-width forms
/// and invisible characters shrink); only runs of ligature-like compatibility characters grow.
inline constexpr std::size_t kMaxGrowth = 3;
inline constexpr std::size_t kGrowthSlack = 4096;

}  // namespace sb::policies::normalize
