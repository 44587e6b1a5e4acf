#pragma once
// Upstream error bodies reach clients, so they are scrubbed first: the backend's own key, any
// token that looks like a provider key or a bearer credential, and the upstream's host name are
// replaced. The text stays valid JSON when it was (replacements contain no quotes or escapes).

#include <string>
#include <string_view>

namespace sb::gateway {

/// `secret` (the backend key, may be empty) and `host` (the upstream host) are replaced wherever
/// they appear; so are `sk-…`/`sk-ant-…`/`AKIA…`/`AIza…` tokens and `Bearer …` credentials.
std::string scrub_upstream_text(std::string_view text, std::string_view secret,
                                std::string_view host);

}  // namespace sb::gateway
