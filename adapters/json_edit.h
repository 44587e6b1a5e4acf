#pragma once
// Byte-preserving edits of a JSON object's top-level members.
//
// The gateway must pass a client's body through untouched except for the few members it owns
// (e.g. "model"). Re-serializing a DOM would reformat numbers and reorder nothing but still change
// bytes; these helpers splice the original text instead. Input must be valid JSON (validate with
// Boost.JSON first); on anything unexpected they return nullopt / false and change nothing.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace boost::json {
class value;
}

namespace sb::adapters {

struct JsonMember {
  std::string key;        ///< unescaped key
  std::size_t begin = 0;  ///< offset of the key's opening quote
  std::size_t value_begin = 0;
  std::size_t value_end = 0;  ///< one past the value's last byte
};

/// Top-level members of a JSON object text, in order. nullopt when `text` is not an object.
std::optional<std::vector<JsonMember>> scan_object(std::string_view text);

/// Same, into `out`, reusing its storage (for per-event hot paths). False when `text` is not an
/// object; `out` is then unspecified.
bool scan_object(std::string_view text, std::vector<JsonMember>& out);

/// The last member named `key` of a scan (the occurrence a JSON parser keeps), or nullptr.
const JsonMember* last_of(std::span<const JsonMember> members, std::string_view key);

/// Marks in `superseded` (one entry per member, true or false) each member that a later member of
/// the same key supersedes: a parser keeps the last occurrence, and an upstream whose parser
/// kept the first would read what the gateway did not (a `max_tokens` past a cap). Whether any
/// is marked. Pairwise for a few members, by sorting for many.
bool mark_superseded(std::span<const JsonMember> members, std::vector<char>& superseded);

/// `text` without the members `superseded` marks (mark_superseded over `members`, its scan): each
/// goes with the separator after it (a superseded member always has one after it).
std::string without_superseded(std::string_view text, std::span<const JsonMember> members,
                               std::span<const char> superseded);

/// The raw value bytes of a scanned member of `text`.
inline std::string_view raw_value(std::string_view text, const JsonMember& m) {
  return text.substr(m.value_begin, m.value_end - m.value_begin);
}

/// The raw value of the last member named `key` of `members`, the scan of `text`; empty when
/// there is none.
inline std::string_view raw_value_of(std::string_view text, std::span<const JsonMember> members,
                                     std::string_view key) {
  const JsonMember* m = last_of(members, key);
  return m != nullptr ? raw_value(text, *m) : std::string_view();
}

/// A raw JSON integer value as an unsigned number (no sign, fraction or exponent); nullopt
/// otherwise.
std::optional<std::uint64_t> raw_unsigned(std::string_view raw);

/// The raw value of the last top-level member `key` of the object `text` (the occurrence a parser
/// keeps), from one scan into `scratch` (its storage reused). nullopt when `text` is not an object
/// or has no such member.
std::optional<std::string_view> last_member_value(std::string_view text, std::string_view key,
                                                  std::vector<JsonMember>& scratch);

/// The raw value of the last top-level member `key` of the object `text`, read from its end
/// without a scan of the whole: found when the last `"key"` of the text is a key whose value is
/// followed only by members with scalar values (strings, numbers, literals) and the brace that
/// ends the text. Between that member and the final brace nothing opens or closes, so the member
/// belongs to the outermost object. nullopt when the text does not end that way: scan it then
/// (last_member_value). Unlike a scan, what comes before the member is not checked to be JSON.
/// The shape of OpenAI's and vLLM's answers: `"usage": {...}` is followed by `"service_tier"`
/// and `"system_fingerprint"`, or by nulls.
std::optional<std::string_view> tail_member_value(std::string_view text, std::string_view key);
/// tail_member_value in two steps, for a caller that reads the value itself: the offset of the
/// value of the last `"key"` of the text when that is a key (npos when not), and whether the
/// text after the value's end (one past its last byte) is only members with scalar values and
/// the brace that ends the text.
std::size_t tail_member_begin(std::string_view text, std::string_view key);
bool tail_closes(std::string_view text, std::size_t value_end);

/// Sets top-level member `key` to the raw JSON `value` (replacing the value bytes of the last
/// occurrence if present, else appending the member before the closing brace).
bool set_member(std::string& text, std::string_view key, std::string_view raw_value);

/// Removes every top-level occurrence of `key` (and its separating comma). True if any removed.
bool remove_member(std::string& text, std::string_view key);

/// Same, with `members` the scan of `text` already made (scan_object): no second scan.
bool remove_member(std::string& text, std::string_view key, std::span<const JsonMember> members);

/// The JSON text of a number, doubles in their shortest round-trip form ("0.7", where Boost's
/// serializer writes "7E-1"), so an upstream sees the client's value as written. nullopt when
/// `v` is not a finite number.
std::optional<std::string> json_number_text(const boost::json::value& v);

/// The value of one hexadecimal digit (either case), or -1.
int hex_digit(char c);

/// JSON string literal for `s`, quotes included, escaped per RFC 8259.
std::string quote(std::string_view s);
/// Appends quote(s) to `out` (no string of its own on the way).
void append_quoted(std::string& out, std::string_view s);
/// Appends `v` in decimal to `out`.
void append_decimal(std::string& out, std::int64_t v);

/// The length of the prefix of `s` with no quote, backslash or control byte (below 0x20): what a
/// JSON string carries as it is (byte_scan::find_json_unsafe).
std::size_t plain_json_run(std::string_view s);

/// The elements of the JSON array `text` as they are written: what lies between its brackets,
/// without the whitespace around them (empty when `text` is no bracketed text). For splicing one
/// array's elements into another.
std::string_view json_array_elements(std::string_view text);

/// Decodes JSON escapes (\uXXXX with surrogate pairs, \n, \", ...) found in arbitrary text into
/// `out` (appended), keeping anything that is not a valid escape as it is: for text that may be
/// JSON-escaped without being valid JSON (the sensitivity scan decodes it so that escaped digits
/// are seen as digits). False when the text held no escape (then `out` holds a copy).
bool decode_escapes_lenient(std::string_view s, std::string& out);

}  // namespace sb::adapters
