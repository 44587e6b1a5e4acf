#pragma once
// Allow-lists of the sensitivity detectors (policies/detector.h): values a detector finds that are
// not sensitive, so that a match of one of them counts for nothing (no entity, no level).
//
// Each detector's list holds the operator's `allow:` entries and, unless `allow_defaults: false`,
// the built-in defaults (for `email`, `url_credentials` and custom detectors only):
//  - reserved domains: an address, URL or host name whose host is `example.com`, `example.net`,
//    `example.org` or a subdomain of one (RFC 2606), or ends in one of the reserved top-level
//    domains `.example`, `.test`, `.invalid` (RFC 2606) or `.localhost` (RFC 6761). The host has
//    at least two labels; a value that is not an address, URL or host name is never reserved;
//  - the fixed addresses coding agents write into their own prompts: `noreply@anthropic.com`
//    (Claude Code's `Co-Authored-By:` commit trailer), `noreply@openai.com` (Codex's commit
//    trailer) and `codex@openai.com` (the commit identity of Codex's own commits).
//
// How values compare (the text is already Unicode-folded, policies/normalize.h, and so are exact
// entries when they are compiled):
//  - exact entries: email, ip_address and custom detectors ignore ASCII case; credit_card, us_ssn
//    and phone compare their digits only (`4111 1111 1111 1111` == `4111-1111-1111-1111`); iban
//    compares letters and digits, case ignored; keys and tokens compare byte for byte;
//  - patterns: a Hyperscan expression that must match the whole value as it appears in the text,
//    case-insensitively except for keys and tokens.
//
// Where it applies: once per value, after the scan has confirmed and merged a detector's matches
// (one value reported by several checks, or a custom pattern's match reported at every end, is one
// value: the union of its spans). An entity without a list costs one pointer test per value. With
// a list, a value costs one hash lookup of its folded form (built in a per-thread buffer: no
// allocation once the buffer has grown), one Hyperscan scan of the value when the list has
// patterns, and a host check when the defaults apply.
//
// Private to the policies library. Immutable once compiled; match() may run on many threads.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policies/config.h"

struct hs_database;
struct hs_scratch;

namespace sb::policies::allow {

/// A thread's Hyperscan scratch, grown to fit every database the thread has scanned with and
/// freed with the thread, and the id of the database it was last fitted to (ids are never reused,
/// unlike addresses). The detector keeps one per thread, and so do the allow-lists.
struct ThreadScratch {
  hs_scratch* scratch = nullptr;
  std::uint64_t fitted_to = 0;
  ThreadScratch() = default;
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
  ~ThreadScratch();
};

/// How an entity's values compare.
enum class Fold : std::uint8_t {
  caseless,  ///< ASCII letters lower-cased
  digits,    ///< digits only
  alnum,     ///< ASCII letters (upper-cased) and digits only
  exact,     ///< byte for byte
};
/// The fold of a built-in entity's values; custom detectors' values are caseless.
Fold fold_of(std::string_view entity);

/// Appends the comparable form of `value` to `out`.
void append_folded(std::string_view value, Fold fold, std::string& out);

/// Whether the built-in defaults apply to the built-in entity's values (they do to every custom
/// detector's).
bool takes_defaults(std::string_view entity);

/// Whether `value` is an address, URL or host name in a reserved domain (see the file comment).
bool reserved_host(std::string_view value);

/// An allow entry as explain names it: a default's name (`defaults.reserved_domains`) or the
/// configured entry's key path (`sensitivity.detectors.email.allow[0]`). Never the value.
struct EntryName {
  std::string name;
  bool from_defaults = false;
};

/// One detector's list, compiled.
class List {
 public:
  List() = default;
  ~List();
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  /// The index (into Lists::entries()) of an entry that allows `value`, or -1. `value` is the
  /// matched bytes of the scanned text. Entries are tried in this order: exact values (configured,
  /// then defaults), patterns, reserved domains. Never throws but std::bad_alloc.
  int match(std::string_view value) const;

 private:
  friend class Lists;
  Fold fold_ = Fold::caseless;
  int reserved_ = -1;  ///< entry index of the reserved-domain default; -1 when off
  std::unordered_map<std::string, int> exact_;  ///< folded value -> entry index
  hs_database* patterns_ = nullptr;             ///< expression id = entry index
};

/// Every detector's list.
class Lists {
 public:
  /// Compiles the lists of `settings` for the detector's entities `names` (built-in entities,
  /// then custom detectors, as Detector::entity_names()). nullptr with `error` unset when no
  /// detector has a list; nullptr with `error` set (naming the entry) when a pattern does not
  /// compile.
  static std::unique_ptr<Lists> compile(const config::SensitivitySettings& settings,
                                        const std::vector<std::string>& names, std::string& error);
  ~Lists();

  /// Entity `e`'s list, or nullptr.
  const List* list(std::size_t e) const { return lists_[e].get(); }
  const std::vector<EntryName>& entries() const { return entries_; }

  /// Fits the calling thread's scratch for pattern scans to these lists; false when it cannot be
  /// allocated (the scan must then fail closed). Cheap when it already fits.
  bool prepare() const;

 private:
  Lists() = default;
  bool add_list(std::size_t e, std::string_view entity, std::string_view where,
                const std::vector<config::AllowEntry>& configured, bool defaults,
                std::string& error);
  std::vector<std::unique_ptr<List>> lists_;
  std::vector<EntryName> entries_;
  std::vector<int> default_entries_;  ///< entry index of each default exact value
  int reserved_entry_ = -1;
  std::uint64_t id_ = 0;  ///< never reused, to tell whether a thread's scratch fits
};

/// Whether a Hyperscan `expression` compiles alone (block mode) with `flags`; the Hyperscan
/// message otherwise. Also the detector's check of its custom patterns and keywords.
bool compiles_alone(const std::string& expression, unsigned flags, std::string& message);

/// Whether an allow-list `pattern` compiles as Lists::compile compiles it (with a start of match);
/// the Hyperscan message otherwise.
bool pattern_compiles(const std::string& pattern, std::string& message);

}  // namespace sb::policies::allow
