#include "policies/detector.h"

#include <hs/hs.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "policies/detector_allow.h"
#include "policies/detector_rules.h"
#include "policies/normalize.h"

namespace sb::policies {
namespace {

/// Gives every compiled database an identity that is never reused (unlike its address), so a
/// thread can tell whether its scratch was fitted to this database.
std::atomic<std::uint64_t> g_next_database_id{1};

/// A validated value: entity and where it lies in the scanned buffer.
struct Hit {
  std::uint32_t entity;
  std::size_t begin;
  std::size_t end;
};

/// A value an allow-list entry let through.
struct AllowedHit {
  std::uint32_t entity;
  std::uint32_t entry;  ///< index into allow::Lists::entries()
};

/// Per-thread buffers reused across scans (the joined, normalised text, the normaliser's work
/// buffer and the hits), trimmed after a scan of an unusually large request so a thread does not
/// keep megabytes for good.
struct ThreadBuffers {
  std::string joined;
  std::string scratch;
  std::vector<Hit> hits;     ///< in report order
  std::vector<Hit> grouped;  ///< hits grouped by entity
  std::vector<AllowedHit> allowed;
  std::vector<rules::Span> spans;  ///< one search's values
  std::vector<rules::Span> runs;   ///< the runs of digits the anchored rules start from
  std::vector<std::size_t> ends;   ///< one anchored rule's reports
  std::vector<std::uint32_t> offsets;
  std::vector<std::uint32_t> cursor;
  static constexpr std::size_t kKeepJoined = 1 << 20;
  static constexpr std::size_t kKeepHits = 1 << 14;
  void trim() {
    if (joined.capacity() > kKeepJoined) {
      std::string().swap(joined);
    }
    if (scratch.capacity() > kKeepJoined) {
      std::string().swap(scratch);
    }
    if (hits.capacity() > kKeepHits) {
      std::vector<Hit>().swap(hits);
      std::vector<Hit>().swap(grouped);
    }
    if (allowed.capacity() > kKeepHits) {
      std::vector<AllowedHit>().swap(allowed);
    }
    if (spans.capacity() > kKeepHits) {
      std::vector<rules::Span>().swap(spans);
    }
    if (runs.capacity() > kKeepHits) {
      std::vector<rules::Span>().swap(runs);
    }
    if (ends.capacity() > kKeepHits) {
      std::vector<std::size_t>().swap(ends);
    }
  }
};

thread_local allow::ThreadScratch t_scratch;
thread_local ThreadBuffers t_buffers;

using allow::compiles_alone;

/// A built-in check of an expression's reports, for an enabled entity.
struct BoundCheck {
  std::uint32_t entity = 0;
  rules::Extractor extract = nullptr;
  unsigned shapes = 0;  ///< 0 = always
};

/// What one Hyperscan expression id stands for: built-in checks (checks[first, first + count)),
/// or a custom detector's matches.
struct Expression {
  std::uint32_t first = 0;
  std::uint32_t count = 0;   ///< 0 for custom expressions
  std::uint32_t entity = 0;  ///< custom: the detector's entity
  bool som = false;          ///< custom: `from` holds the leftmost start
  rules::Shaper shape = nullptr;
};

/// A rule whose expression is replaced by its anchors (rules::Rule::anchors), with the checks of
/// its enabled entities.
struct AnchoredRule {
  Expression ex;
  rules::Anchors anchors = nullptr;
};

/// A built-in search, for an enabled entity.
struct BoundSearch {
  std::uint32_t entity = 0;
  rules::Finder find = nullptr;
};

}  // namespace

bool custom_pattern_compiles(const std::string& pattern, std::string& message) {
  if (pattern.find('\0') != std::string::npos) {
    message = "pattern contains a NUL byte";
    return false;
  }
  return compiles_alone(pattern, HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST, message) ||
         compiles_alone(pattern, HS_FLAG_MULTILINE | HS_FLAG_SINGLEMATCH, message);
}

bool custom_pattern_has_start(const std::string& pattern) {
  std::string message;
  return compiles_alone(pattern, HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST, message);
}

bool allow_pattern_compiles(const std::string& pattern, std::string& message) {
  return allow::pattern_compiles(pattern, message);
}

struct Detector::Impl {
  hs_database_t* db = nullptr;  ///< nullptr when no expression is enabled
  std::uint64_t id = 0;
  std::vector<Expression> expressions;
  std::vector<BoundCheck> checks;
  std::vector<AnchoredRule> anchored;
  std::vector<BoundSearch> searches;
  std::unique_ptr<allow::Lists> allow;  ///< nullptr when no detector has an allow-list
  int fail_level = -1;  ///< the highest configured level, reported when a scan fails

  /// Every value the expressions, the anchored rules and the searches find in `buf`, into
  /// tb.hits. False when Hyperscan failed.
  bool find_hits(std::string_view buf, ThreadBuffers& tb) const;

  ~Impl() {
    if (db != nullptr) {
      hs_free_database(db);
    }
  }
};

namespace {

struct ScanContext {
  const std::vector<Expression>* expressions;
  const std::vector<BoundCheck>* checks;
  std::string_view buf;
  std::vector<Hit>* hits;
};

/// Runs a built-in rule's checks on one of its reports, ending at `end`.
void run_checks(const Expression& ex, const std::vector<BoundCheck>& checks, std::string_view buf,
                std::size_t end, std::vector<Hit>& hits) {
  const unsigned shape = ex.shape != nullptr ? ex.shape(buf, end) : ~0u;
  if (shape == 0) {
    return;
  }
  for (std::uint32_t i = ex.first; i < ex.first + ex.count; ++i) {
    const BoundCheck& check = checks[i];
    if (check.shapes != 0 && (check.shapes & shape) == 0) {
      continue;
    }
    rules::Span span;
    if (check.extract(buf, end, span)) {
      hits.push_back(Hit{check.entity, span.begin, span.end});
    }
  }
}

int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
             void* ctx) noexcept {
  auto& c = *static_cast<ScanContext*>(ctx);
  // No exception may cross Hyperscan's C frames: a failed allocation stops the scan, which then
  // fails closed.
  try {
    const Expression& ex = (*c.expressions)[id];
    const auto end = static_cast<std::size_t>(to);
    if (ex.count > 0) {
      run_checks(ex, *c.checks, c.buf, end, *c.hits);
    } else if (ex.som) {
      c.hits->push_back(Hit{ex.entity, static_cast<std::size_t>(from), end});
    } else {
      // Single-match expression without a start: any non-empty span ending at `to`. Its value is
      // unknown, so no allow-list can apply (the config loader refuses one on such a pattern).
      c.hits->push_back(Hit{ex.entity, end > 0 ? end - 1 : 0, end});
    }
  } catch (...) {
    return 1;  // terminates the scan
  }
  return 0;
}

}  // namespace

Detector::~Detector() = default;

// The expressions given to Hyperscan, in id order, with their flags; impl.expressions gets the
// matching Expression for each.
struct Detector::Compiling {
  Impl& impl;
  std::vector<std::string> expressions;
  std::vector<unsigned int> flags;

  void add(std::string expression, unsigned int f, Expression ex) {
    expressions.push_back(std::move(expression));
    flags.push_back(f);
    impl.expressions.push_back(ex);
  }
};

namespace {

bool is_word_char(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         ch == '_';
}

/// Keywords as one expression: literal, case-insensitive, whole words (a word boundary on each
/// side that is a word character in the keyword itself). Empty when there are none.
std::string keyword_alternation(const std::vector<std::string>& keywords) {
  std::string alternation;
  for (const std::string& word : keywords) {
    if (word.empty()) {
      continue;
    }
    alternation += alternation.empty() ? "(?:" : "|";
    if (is_word_char(word.front())) {
      alternation += "\\b";
    }
    rules::append_escaped(word, alternation);
    if (is_word_char(word.back())) {
      alternation += "\\b";
    }
  }
  if (!alternation.empty()) {
    alternation += ")";
  }
  return alternation;
}

}  // namespace

std::unique_ptr<Detector> Detector::compile(const config::SensitivitySettings& settings,
                                            std::string& error) {
  std::unique_ptr<Detector> d(new Detector());
  d->impl_ = std::make_unique<Impl>();
  d->set_levels(settings);
  Compiling expressions{*d->impl_, {}, {}};
  d->add_builtin_rules(expressions);
  const std::size_t builtins = config::builtin_entities().size();
  for (std::size_t i = 0; i < settings.custom.size(); ++i) {
    const auto entity = static_cast<std::uint32_t>(builtins + i);
    if (d->levels_[entity] >= 0 && !d->add_custom(settings.custom[i], entity, expressions, error)) {
      return nullptr;
    }
  }
  for (int level : d->levels_) {
    d->impl_->fail_level = std::max(d->impl_->fail_level, level);
  }
  if (!d->add_allow_lists(settings, error)) {
    return nullptr;
  }
  if (expressions.expressions.empty()) {
    return d;  // no expression (a scan finds nothing unless a search is enabled)
  }
  if (!d->compile_database(expressions, error)) {
    return nullptr;
  }
  return d;
}

// Names and levels: the built-in entities (-1 unless the settings enable them), then the custom
// detectors.
void Detector::set_levels(const config::SensitivitySettings& settings) {
  const auto& builtins = config::builtin_entities();
  names_ = builtins;
  levels_.assign(builtins.size(), -1);
  for (const auto& e : settings.entities) {
    const auto it = std::find(builtins.begin(), builtins.end(), e.entity);
    if (it != builtins.end()) {
      levels_[static_cast<std::size_t>(it - builtins.begin())] = e.level;
    }
  }
  for (const auto& c : settings.custom) {
    names_.push_back(c.name);
    levels_.push_back(c.level);
  }
}

// The built-in rules with at least one check of an enabled entity (a disabled entity's checks
// are not compiled in).
void Detector::add_builtin_rules(Compiling& out) {
  const auto& builtins = config::builtin_entities();
  for (const rules::Rule& rule : rules::builtin_rules()) {
    Expression ex;
    ex.first = static_cast<std::uint32_t>(impl_->checks.size());
    ex.shape = rule.shape;
    for (const rules::Check& check : rule.checks) {
      const auto it = std::find(builtins.begin(), builtins.end(), check.entity);
      if (it == builtins.end()) {
        continue;
      }
      const auto entity = static_cast<std::uint32_t>(it - builtins.begin());
      if (levels_[entity] >= 0) {
        impl_->checks.push_back(BoundCheck{entity, check.extract, check.shapes});
        ++ex.count;
      }
    }
    if (ex.count > 0 && rule.anchors != nullptr) {
      impl_->anchored.push_back(AnchoredRule{ex, rule.anchors});
    } else if (ex.count > 0) {
      out.add(rule.expression, rule.flags, ex);
    }
  }
  for (const rules::Search& search : rules::builtin_searches()) {
    const auto it = std::find(builtins.begin(), builtins.end(), search.entity);
    if (it != builtins.end() && levels_[static_cast<std::size_t>(it - builtins.begin())] >= 0) {
      impl_->searches.push_back(
          BoundSearch{static_cast<std::uint32_t>(it - builtins.begin()), search.find});
    }
  }
}

// A custom detector's pattern and keywords. False with `error` when they do not compile.
bool Detector::add_custom(const config::CustomDetector& c, std::uint32_t entity, Compiling& out,
                          std::string& error) {
  const std::string where = "sensitivity.custom[" + c.name + "]: ";
  if (!c.pattern.empty()) {
    if (c.pattern.find('\0') != std::string::npos) {
      error = where + "pattern contains a NUL byte";
      return false;
    }
    // `^` and `$` match at every line (so at every text) boundary. The leftmost start is
    // tracked so that overlapping matches of one value count once; the rare pattern Hyperscan
    // cannot track a start for is counted at most once per scan instead.
    const unsigned int som = HS_FLAG_MULTILINE | HS_FLAG_SOM_LEFTMOST;
    const unsigned int single = HS_FLAG_MULTILINE | HS_FLAG_SINGLEMATCH;
    std::string message;
    if (compiles_alone(c.pattern, som, message)) {
      out.add(c.pattern, som, Expression{0, 0, entity, true, nullptr});
    } else if (compiles_alone(c.pattern, single, message)) {
      out.add(c.pattern, single, Expression{0, 0, entity, false, nullptr});
    } else {
      error = where + message;
      return false;
    }
  }
  std::string alternation = keyword_alternation(c.keywords);
  if (!alternation.empty()) {
    const unsigned int f = HS_FLAG_CASELESS | HS_FLAG_SOM_LEFTMOST;
    std::string message;
    if (!compiles_alone(alternation, f, message)) {
      error = where + message;
      return false;
    }
    out.add(std::move(alternation), f, Expression{0, 0, entity, true, nullptr});
  }
  return true;
}

bool Detector::add_allow_lists(const config::SensitivitySettings& settings, std::string& error) {
  std::string allow_error;
  impl_->allow = allow::Lists::compile(settings, names_, allow_error);
  if (!allow_error.empty()) {
    error = std::move(allow_error);
    return false;
  }
  if (impl_->allow != nullptr) {
    for (const allow::EntryName& e : impl_->allow->entries()) {
      allow_entries_.push_back(AllowEntryName{e.name, e.from_defaults});
    }
  }
  return true;
}

// One Hyperscan database of every expression; an error names the detector whose expression
// failed. A database that cannot get scanning memory fails here, not on the first request.
bool Detector::compile_database(Compiling& in, std::string& error) {
  Impl& impl = *impl_;
  std::vector<const char*> ptrs;
  std::vector<unsigned int> ids;
  for (std::size_t i = 0; i < in.expressions.size(); ++i) {
    ptrs.push_back(in.expressions[i].c_str());
    ids.push_back(static_cast<unsigned int>(i));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), in.flags.data(), ids.data(),
                       static_cast<unsigned int>(ptrs.size()), HS_MODE_BLOCK, nullptr, &impl.db,
                       &err) != HS_SUCCESS) {
    std::string where = "sensitivity: ";
    if (err != nullptr && err->expression >= 0 &&
        static_cast<std::size_t>(err->expression) < impl.expressions.size()) {
      const Expression& ex = impl.expressions[static_cast<std::size_t>(err->expression)];
      const std::uint32_t entity = ex.count > 0 ? impl.checks[ex.first].entity : ex.entity;
      where = entity >= config::builtin_entities().size()
                  ? "sensitivity.custom[" + names_[entity] + "]: "
                  : "sensitivity.detectors." + names_[entity] + ": ";
    }
    error = where + (err != nullptr && err->message != nullptr ? err->message : "does not compile");
    hs_free_compile_error(err);
    return false;
  }
  impl.id = g_next_database_id.fetch_add(1, std::memory_order_relaxed);
  hs_scratch_t* probe = nullptr;
  if (hs_alloc_scratch(impl.db, &probe) != HS_SUCCESS) {
    error = "sensitivity: cannot allocate scanning memory";
    return false;
  }
  hs_free_scratch(probe);
  return true;
}

namespace {

/// The texts as one buffer, joined by '\n' (no value spans a line break), each normalised
/// (policies/normalize.h) unless it is pure ASCII; a single ASCII text is scanned in place.
/// False when ICU failed: the text cannot be read as the model would.
bool join_texts(std::span<const std::string_view> texts, ThreadBuffers& tb, std::string_view& buf) {
  if (texts.size() == 1 && normalize::is_ascii(texts.front())) {
    buf = texts.front();
    return true;
  }
  if (texts.empty()) {
    buf = {};
    return true;
  }
  std::size_t total = texts.size() - 1;
  for (std::string_view t : texts) {
    total += t.size();
  }
  tb.joined.clear();
  tb.joined.reserve(total);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) {
      tb.joined += '\n';
    }
    if (normalize::is_ascii(texts[i])) {
      tb.joined += texts[i];
    } else if (!normalize::append_normalized(texts[i], tb.joined, tb.scratch)) {
      return false;
    }
  }
  buf = tb.joined;
  return true;
}

/// The hits grouped by entity (a counting sort), into tb.grouped; tb.offsets[e] is where entity
/// e's hits start.
void group_by_entity(std::size_t entities, ThreadBuffers& tb) {
  std::vector<std::uint32_t>& offsets = tb.offsets;
  offsets.assign(entities + 1, 0);
  for (const Hit& h : tb.hits) {
    ++offsets[h.entity + 1];
  }
  for (std::size_t e = 0; e < entities; ++e) {
    offsets[e + 1] += offsets[e];
  }
  tb.grouped.resize(tb.hits.size());
  std::vector<std::uint32_t>& cursor = tb.cursor;
  cursor.assign(offsets.begin(), offsets.end() - 1);
  for (const Hit& h : tb.hits) {
    tb.grouped[cursor[h.entity]++] = h;
  }
}

/// The values among one entity's hits: overlapping spans (one value reported by several
/// expressions, or at several ends) merge; disjoint spans are separate occurrences. Hits arrive
/// nearly ordered by start, so the comparison sort is usually skipped.
///
/// With an allow-list, each value (the union of its spans: a custom pattern reports every end of
/// a match, so only the union is the whole value) is checked against the list once; an allowed
/// value goes to `allowed` instead of the count.
std::uint32_t count_values(std::vector<Hit>::iterator first, std::vector<Hit>::iterator last,
                           const allow::List* list, std::string_view buf,
                           std::vector<AllowedHit>& allowed) {
  const auto by_start = [](const Hit& a, const Hit& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  };
  if (!std::is_sorted(first, last, by_start)) {
    std::sort(first, last, by_start);
  }
  std::uint32_t count = 0;
  std::size_t begin = 0;
  std::size_t end = 0;
  bool open = false;
  const auto close = [&] {
    const int entry = list != nullptr ? list->match(buf.substr(begin, end - begin)) : -1;
    if (entry >= 0) {
      allowed.push_back(AllowedHit{first->entity, static_cast<std::uint32_t>(entry)});
    } else {
      ++count;
    }
  };
  for (auto it = first; it != last; ++it) {
    if (!open || it->begin >= end) {
      if (open) {
        close();
      }
      begin = it->begin;
      end = it->end;
      open = true;
    } else {
      end = std::max(end, it->end);
    }
  }
  if (open) {
    close();
  }
  return count;
}

/// The allowed values counted by entity and entry.
void count_allowed(std::vector<AllowedHit>& allowed, std::vector<AllowedCount>& out) {
  std::sort(allowed.begin(), allowed.end(), [](const AllowedHit& a, const AllowedHit& b) {
    return std::tie(a.entity, a.entry) < std::tie(b.entity, b.entry);
  });
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    const AllowedHit& h = allowed[i];
    if (i > 0 && allowed[i - 1].entity == h.entity && allowed[i - 1].entry == h.entry) {
      ++out.back().count;
    } else {
      out.push_back(AllowedCount{static_cast<std::uint16_t>(h.entity), h.entry, 1});
    }
  }
}

/// Each entity's values in tb.hits, counted once, into `result` (entities and level); values an
/// allow-list has count for nothing and go to result.allowed instead.
void tally(const allow::Lists* allow, const std::vector<int>& levels, std::string_view buf,
           ThreadBuffers& tb, Detection& result) {
  group_by_entity(levels.size(), tb);
  for (std::size_t e = 0; e < levels.size(); ++e) {
    const auto first = tb.grouped.begin() + tb.offsets[e];
    const auto last = tb.grouped.begin() + tb.offsets[e + 1];
    if (first == last) {
      continue;
    }
    const allow::List* list = allow != nullptr ? allow->list(e) : nullptr;
    const std::uint32_t count = count_values(first, last, list, buf, tb.allowed);
    if (count > 0) {
      result.entities.push_back(EntityCount{static_cast<std::uint16_t>(e), count});
      result.level = std::max(result.level, levels[e]);
    }
  }
  if (!tb.allowed.empty()) {
    count_allowed(tb.allowed, result.allowed);
  }
}

}  // namespace

bool Detector::Impl::find_hits(std::string_view buf, ThreadBuffers& tb) const {
  tb.hits.clear();
  tb.allowed.clear();
  ScanContext ctx{&expressions, &checks, buf, &tb.hits};
  if (db != nullptr && hs_scan(db, buf.data(), static_cast<unsigned int>(buf.size()), 0,
                               t_scratch.scratch, on_match, &ctx) != HS_SUCCESS) {
    return false;
  }
  if (!anchored.empty()) {
    tb.runs.clear();
    rules::digit_runs(buf, tb.runs);
    for (const AnchoredRule& rule : anchored) {
      tb.ends.clear();
      rule.anchors(buf, tb.runs, tb.ends);
      for (const std::size_t end : tb.ends) {
        run_checks(rule.ex, checks, buf, end, tb.hits);
      }
    }
  }
  for (const BoundSearch& search : searches) {
    tb.spans.clear();
    search.find(buf, tb.spans);
    for (const rules::Span& span : tb.spans) {
      tb.hits.push_back(Hit{search.entity, span.begin, span.end});
    }
  }
  return true;
}

Detection Detector::scan(std::span<const std::string_view> texts) const {
  const Impl& impl = *impl_;
  if (impl.db == nullptr && impl.anchored.empty() && impl.searches.empty()) {
    return Detection{};
  }
  Detection failed;
  failed.level = impl.fail_level;
  try {
    if (impl.db != nullptr && t_scratch.fitted_to != impl.id) {
      // Grows the thread's scratch if this database needs more; cheap when it already fits.
      if (hs_alloc_scratch(impl.db, &t_scratch.scratch) != HS_SUCCESS) {
        return failed;
      }
      t_scratch.fitted_to = impl.id;
    }
    ThreadBuffers& tb = t_buffers;
    std::string_view buf;
    Detection result;
    const bool read = join_texts(texts, tb, buf);
    if (read && buf.empty()) {
      return result;
    }
    // Larger than one Hyperscan block scan can take, or an allow-list that cannot run: failed.
    if (!read || buf.size() > std::numeric_limits<unsigned int>::max() ||
        (impl.allow != nullptr && !impl.allow->prepare()) || !impl.find_hits(buf, tb)) {
      tb.trim();
      return failed;
    }
    tally(impl.allow.get(), levels_, buf, tb, result);
    tb.trim();
    std::sort(result.entities.begin(), result.entities.end(),
              [this](const EntityCount& a, const EntityCount& b) {
                const int la = levels_[a.entity];
                const int lb = levels_[b.entity];
                return la != lb ? la > lb : names_[a.entity] < names_[b.entity];
              });
    return result;
  } catch (...) {
    // Out of memory joining the texts or recording values: fail closed.
    return failed;
  }
}

}  // namespace sb::policies
