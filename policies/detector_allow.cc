#include "policies/detector_allow.h"

#include <hs/hs.h>

#include <algorithm>
#include <array>
#include <atomic>

#include "policies/normalize.h"

namespace sb::policies::allow {
namespace {

/// The default exact values and their names in explain.
struct DefaultValue {
  std::string_view value;
  std::string_view name;
};
constexpr std::array<DefaultValue, 3> kDefaultValues{{
    {"noreply@anthropic.com", "defaults.noreply_anthropic"},  // Claude Code's Co-Authored-By
    {"noreply@openai.com", "defaults.noreply_openai"},        // Codex's Co-authored-by
    {"codex@openai.com", "defaults.codex_openai"},            // Codex's own commit identity
}};
constexpr std::string_view kReservedName = "defaults.reserved_domains";

// RFC 2606 second-level names (and their subdomains) and RFC 2606/6761 top-level domains.
constexpr std::array<std::string_view, 3> kReservedSecondLevel{"example.com", "example.net",
                                                               "example.org"};
constexpr std::array<std::string_view, 4> kReservedTopLevel{"example", "test", "invalid",
                                                            "localhost"};

std::atomic<std::uint64_t> g_next_lists_id{1};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_host_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

/// ASCII case-insensitive: does `host` equal `name` or end with `.name`?
bool in_domain(std::string_view host, std::string_view name) {
  if (host.size() < name.size()) {
    return false;
  }
  const std::string_view tail = host.substr(host.size() - name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (lower(tail[i]) != name[i]) {
      return false;
    }
  }
  return host.size() == name.size() || host[host.size() - name.size() - 1] == '.';
}

/// The host of an address (`local@host`), URL (`scheme://[user@]host[:port][/path]`) or host name
/// (`host[:port][/path]`); empty when `value` is none of these.
std::string_view host_of(std::string_view value) {
  if (const std::size_t scheme = value.find("://"); scheme != std::string_view::npos) {
    value.remove_prefix(scheme + 3);
  }
  value = value.substr(0, value.find_first_of("/?#"));
  if (const std::size_t at = value.rfind('@'); at != std::string_view::npos) {
    value.remove_prefix(at + 1);
  }
  if (const std::size_t colon = value.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = value.substr(colon + 1);
    if (!std::all_of(port.begin(), port.end(), is_digit)) {
      return {};
    }
    value = value.substr(0, colon);
  }
  if (!value.empty() && value.back() == '.') {
    value.remove_suffix(1);  // a fully qualified name's root
  }
  const bool host = !value.empty() && std::all_of(value.begin(), value.end(), is_host_char) &&
                    value.front() != '.' && value.find("..") == std::string_view::npos;
  return host ? value : std::string_view{};
}

struct PatternMatch {
  unsigned long long size;
  int entry = -1;
};

int on_pattern(unsigned int id, unsigned long long from, unsigned long long to, unsigned int,
               void* ctx) noexcept {
  auto& m = *static_cast<PatternMatch*>(ctx);
  if (from == 0 && to == m.size) {
    m.entry = static_cast<int>(id);
    return 1;  // found: stop
  }
  return 0;
}

/// The calling thread's scratch for allow patterns and its buffer for folded values.
struct ThreadState {
  ThreadScratch hs;
  std::string folded;
};
thread_local ThreadState t_state;

constexpr unsigned kPatternFlags = HS_FLAG_SOM_LEFTMOST;

/// The exact value as the scanned text would carry it: Unicode-folded, then folded for comparison.
bool fold_entry(std::string_view value, Fold fold, std::string& out) {
  std::string text;
  if (normalize::is_ascii(value)) {
    text = value;
  } else {
    std::string scratch;
    if (!normalize::append_normalized(value, text, scratch)) {
      return false;
    }
  }
  out.clear();
  append_folded(text, fold, out);
  return true;
}

}  // namespace

Fold fold_of(std::string_view entity) {
  if (entity == "credit_card" || entity == "us_ssn" || entity == "phone") {
    return Fold::digits;
  }
  if (entity == "iban") {
    return Fold::alnum;
  }
  if (entity == "email" || entity == "ip_address") {
    return Fold::caseless;
  }
  const std::vector<std::string>& builtins = config::builtin_entities();
  const bool builtin = std::find(builtins.begin(), builtins.end(), entity) != builtins.end();
  return builtin ? Fold::exact : Fold::caseless;  // the secret kinds; custom detectors
}

void append_folded(std::string_view value, Fold fold, std::string& out) {
  switch (fold) {
    case Fold::caseless:
      for (char c : value) {
        out += lower(c);
      }
      return;
    case Fold::digits:
      for (char c : value) {
        if (is_digit(c)) {
          out += c;
        }
      }
      return;
    case Fold::alnum:
      for (char c : value) {
        if (is_digit(c) || (c >= 'A' && c <= 'Z')) {
          out += c;
        } else if (c >= 'a' && c <= 'z') {
          out += static_cast<char>(c - 'a' + 'A');
        }
      }
      return;
    case Fold::exact:
      out += value;
      return;
  }
}

bool takes_defaults(std::string_view entity) {
  return entity == "email" || entity == "url_credentials";
}

bool reserved_host(std::string_view value) {
  const std::string_view host = host_of(value);
  if (host.find('.') == std::string_view::npos) {
    return false;  // one label (or none): not a host name in a domain
  }
  const auto in = [&](std::string_view name) { return in_domain(host, name); };
  return std::any_of(kReservedSecondLevel.begin(), kReservedSecondLevel.end(), in) ||
         std::any_of(kReservedTopLevel.begin(), kReservedTopLevel.end(), in);
}

List::~List() {
  if (patterns_ != nullptr) {
    hs_free_database(patterns_);
  }
}

int List::match(std::string_view value) const {
  if (!exact_.empty()) {
    std::string& folded = t_state.folded;
    folded.clear();
    append_folded(value, fold_, folded);
    if (const auto it = exact_.find(folded); it != exact_.end()) {
      return it->second;
    }
  }
  if (patterns_ != nullptr && t_state.hs.scratch != nullptr) {
    PatternMatch m{value.size()};
    hs_scan(patterns_, value.data(), static_cast<unsigned int>(value.size()), 0, t_state.hs.scratch,
            on_pattern, &m);
    if (m.entry >= 0) {
      return m.entry;
    }
  }
  return reserved_ >= 0 && reserved_host(value) ? reserved_ : -1;
}

Lists::~Lists() = default;

std::unique_ptr<Lists> Lists::compile(const config::SensitivitySettings& settings,
                                      const std::vector<std::string>& names, std::string& error) {
  std::unique_ptr<Lists> lists(new Lists());
  lists->lists_.resize(names.size());
  if (settings.allow_defaults) {
    for (const DefaultValue& d : kDefaultValues) {
      lists->default_entries_.push_back(static_cast<int>(lists->entries_.size()));
      lists->entries_.push_back(EntryName{std::string(d.name), true});
    }
    lists->reserved_entry_ = static_cast<int>(lists->entries_.size());
    lists->entries_.push_back(EntryName{std::string(kReservedName), true});
  }
  const std::vector<std::string>& builtins = config::builtin_entities();
  bool any = false;
  for (const config::EntityLevel& e : settings.entities) {
    const auto it = std::find(builtins.begin(), builtins.end(), e.entity);
    const bool defaults = settings.allow_defaults && takes_defaults(e.entity);
    if (it == builtins.end() || e.level < 0 || (e.allow.empty() && !defaults)) {
      continue;
    }
    const auto index = static_cast<std::size_t>(it - builtins.begin());
    if (!lists->add_list(index, e.entity, "sensitivity.detectors." + e.entity, e.allow, defaults,
                         error)) {
      return nullptr;
    }
    any = any || lists->lists_[index] != nullptr;
  }
  for (std::size_t i = 0; i < settings.custom.size(); ++i) {
    const config::CustomDetector& c = settings.custom[i];
    if (c.level < 0) {
      continue;
    }
    const std::size_t index = builtins.size() + i;
    if (!lists->add_list(index, c.name, "sensitivity.detectors.custom[" + c.name + "]", c.allow,
                         settings.allow_defaults, error)) {
      return nullptr;
    }
    any = any || lists->lists_[index] != nullptr;
  }
  if (!any) {
    return nullptr;
  }
  lists->id_ = g_next_lists_id.fetch_add(1, std::memory_order_relaxed);
  return lists;
}

bool Lists::add_list(std::size_t e, std::string_view entity, std::string_view where,
                     const std::vector<config::AllowEntry>& configured, bool defaults,
                     std::string& error) {
  if (configured.empty() && !defaults) {
    return true;
  }
  auto list = std::make_unique<List>();
  list->fold_ = fold_of(entity);
  std::vector<std::string> expressions;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> ids;
  const unsigned extra = list->fold_ == Fold::exact ? 0u : HS_FLAG_CASELESS;
  std::string folded;
  for (std::size_t i = 0; i < configured.size(); ++i) {
    const config::AllowEntry& a = configured[i];
    const auto entry = static_cast<int>(entries_.size());
    entries_.push_back(EntryName{std::string(where) + ".allow[" + std::to_string(i) + "]", false});
    if (!a.pattern.empty()) {
      expressions.push_back(a.pattern);
      flags.push_back(kPatternFlags | extra);
      ids.push_back(static_cast<unsigned int>(entry));
    } else if (fold_entry(a.value, list->fold_, folded) && !folded.empty()) {
      list->exact_.emplace(folded, entry);  // the first of equal entries names them
    }
  }
  if (defaults) {
    for (std::size_t i = 0; i < kDefaultValues.size(); ++i) {
      folded.clear();
      append_folded(kDefaultValues[i].value, list->fold_, folded);
      list->exact_.emplace(folded, default_entries_[i]);
    }
    list->reserved_ = reserved_entry_;
  }
  if (!expressions.empty()) {
    std::vector<const char*> ptrs;
    for (const std::string& x : expressions) {
      ptrs.push_back(x.c_str());
    }
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(),
                         static_cast<unsigned int>(ptrs.size()), HS_MODE_BLOCK, nullptr,
                         &list->patterns_, &err) != HS_SUCCESS) {
      std::string name = std::string(where) + ".allow";
      if (err != nullptr && err->expression >= 0 &&
          static_cast<std::size_t>(err->expression) < ids.size()) {
        name = entries_[ids[static_cast<std::size_t>(err->expression)]].name;
      }
      error = name + ": pattern does not compile: " +
              (err != nullptr && err->message != nullptr ? err->message : "unknown error");
      hs_free_compile_error(err);
      return false;
    }
  }
  lists_[e] = std::move(list);
  return true;
}

ThreadScratch::~ThreadScratch() {
  if (scratch != nullptr) {
    hs_free_scratch(scratch);
  }
}

bool Lists::prepare() const {
  ThreadScratch& t = t_state.hs;
  if (t.fitted_to == id_) {
    return true;
  }
  for (const auto& list : lists_) {
    if (list != nullptr && list->patterns_ != nullptr &&
        hs_alloc_scratch(list->patterns_, &t.scratch) != HS_SUCCESS) {
      return false;
    }
  }
  t.fitted_to = id_;
  return true;
}

bool compiles_alone(const std::string& expression, unsigned flags, std::string& message) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(expression.c_str(), flags, HS_MODE_BLOCK, nullptr, &db, &err) == HS_SUCCESS) {
    hs_free_database(db);
    return true;
  }
  message = err != nullptr && err->message != nullptr ? err->message : "does not compile";
  hs_free_compile_error(err);
  return false;
}

bool pattern_compiles(const std::string& pattern, std::string& message) {
  if (pattern.find('\0') != std::string::npos) {
    message = "pattern contains a NUL byte";
    return false;
  }
  return compiles_alone(pattern, kPatternFlags, message);
}

}  // namespace sb::policies::allow
