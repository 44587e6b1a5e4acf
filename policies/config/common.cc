// Helpers the config sections share (policies/config/builder.h).
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "policies/config/builder.h"

namespace sb::config::detail {

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

void strip_one_newline(std::string& s) {
  if (s.ends_with('\n')) {
    s.pop_back();
    if (s.ends_with('\r')) {
      s.pop_back();
    }
  }
}

// A secret file (api_key_file, admin.token_file) that users other than its owner may read has
// already leaked as far as this host goes: it is refused, naming the file and its mode.
std::optional<std::string> exposed_secret_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) {
    return std::nullopt;
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "file '" + path + "' is readable by group or others (mode " + mode +
         "): make it readable by its owner only (chmod 600)";
}

bool valid_backend_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return is_alnum(c) || c == '_' || c == '.' || c == '-';
  });
}

bool valid_header_name(std::string_view name) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return is_alnum(c) || kSpecials.find(c) != std::string_view::npos;
  });
}

// Field values may hold visible characters, spaces, tabs and obs-text, never CR, LF or NUL.
bool valid_header_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
}

// Key material goes to memory kept out of core dumps (see secret_memory.h); the plain copy it
// came through is wiped rather than left in freed heap memory.
namespace {
void wipe(std::string& s) {
  explicit_bzero(s.data(), s.size());
  s.clear();
}
}  // namespace

WipeOnExit::~WipeOnExit() {
  if (s_) {
    wipe(*s_);
  }
}

void assign_secret(SecretString& target, std::optional<std::string>&& value) {
  if (value) {
    target.assign(value->data(), value->size());
    wipe(*value);
  }
}

bool ConfigBuilder::read_secret_file(const Located& v, const SecretFile& kind,
                                     const std::function<bool(const std::string&)>& valid,
                                     SecretString& target, std::string& path_out) {
  std::string path;
  std::optional<std::string> secret = r_.file_contents(v, kMaxKeyFileBytes, &path);
  const WipeOnExit wipe_secret(secret);
  if (!kind.conflict.empty()) {
    r_.error(v, std::string(kind.conflict));
    return false;
  }
  if (!secret) {
    return false;
  }
  if (std::optional<std::string> exposed = exposed_secret_file(path)) {
    r_.error(v, std::move(*exposed));
    return false;
  }
  strip_one_newline(*secret);
  if (secret->empty()) {
    r_.error(v, std::string(kind.noun) + " file is empty");
    return false;
  }
  if (!valid(*secret)) {
    return false;
  }
  assign_secret(target, std::move(secret));
  path_out = std::move(path);
  return true;
}

std::function<void(const Located&)> ConfigBuilder::set_duration(Duration& target, bool allow_zero) {
  return
      [this, &target, allow_zero](const Located& v) { assign(target, r_.duration(v, allow_zero)); };
}

std::function<void(const Located&)> ConfigBuilder::set_size(std::uint64_t& target,
                                                            bool allow_zero) {
  return [this, &target, allow_zero](const Located& v) { assign(target, r_.size(v, allow_zero)); };
}

std::function<void(const Located&)> ConfigBuilder::set_bool(bool& target) {
  return [this, &target](const Located& v) { assign(target, r_.boolean(v)); };
}

std::function<void(const Located&)> ConfigBuilder::set_number(double& target) {
  return [this, &target](const Located& v) { assign(target, r_.non_negative_number(v)); };
}

bool ConfigBuilder::read_kept(const Located& map, std::span<const Kept> keys) {
  std::vector<YamlReader::Field> fields;
  fields.reserve(keys.size());
  for (const Kept& k : keys) {
    fields.push_back({k.key, k.required, keep(*k.slot)});
  }
  return r_.read_map(map, fields);
}

void ConfigBuilder::mark(std::string path, const Located& where) {
  config_.positions.insert_or_assign(std::move(path), std::pair{where.line, where.column});
}

}  // namespace sb::config::detail
