#pragma once
// Builders of routing configs as plain config::Config values, for the engine and state tests.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "policies/config.h"

namespace sb::policies::testing {

/// Levels of the default scales, for readable conditions.
enum Level { kPublic = 0, kInternal = 1, kConfidential = 2, kRestricted = 3 };
enum Tier { kSmall = 0, kStandard = 1, kFrontier = 2 };

inline config::LevelRange at_least(int level) {
  return config::LevelRange{level, -1};
}
inline config::LevelRange at_most(int level) {
  return config::LevelRange{-1, level};
}
inline config::LevelRange exactly(int level) {
  return config::LevelRange{level, level};
}

/// A config under construction. References returned by the adders stay valid until the next add
/// of the same kind.
class ConfigBuilder {
 public:
  ConfigBuilder() {
    // The loader's defaults for the built-in detectors.
    const std::vector<std::pair<std::string, int>> entities = {
        {"credit_card", kRestricted},
        {"us_ssn", kRestricted},
        {"iban", kRestricted},
        {"email", kConfidential},
        {"phone", kConfidential},
        {"ip_address", kInternal},
        {"aws_access_key", kRestricted},
        {"github_token", kRestricted},
        {"openai_key", kRestricted},
        {"anthropic_key", kRestricted},
        {"slack_token", kRestricted},
        {"private_key", kRestricted},
        {"jwt", kRestricted},
        {"google_api_key", kRestricted},
        {"stripe_key", kRestricted},
        {"gitlab_token", kRestricted},
        {"huggingface_token", kRestricted},
        {"openrouter_key", kRestricted},
        {"deepseek_key", kRestricted},
        {"npm_token", kRestricted},
        {"groq_key", kRestricted},
        {"xai_key", kRestricted},
        {"perplexity_key", kRestricted},
        {"url_credentials", kRestricted},
    };
    for (const auto& [name, level] : entities) {
      c_.sensitivity.entities.push_back(config::EntityLevel{name, level});
    }
  }

  config::Backend& backend(std::string name, config::Hosting hosting, std::string tier,
                           std::string clearance, unsigned max_in_flight = 0) {
    config::Backend b;
    b.name = std::move(name);
    b.hosting = hosting;
    b.provider =
        hosting == config::Hosting::closed ? config::Provider::openai : config::Provider::vllm;
    b.base_url = "http://127.0.0.1:1/v1";
    b.model = "m";
    b.tier = std::move(tier);
    b.clearance = std::move(clearance);
    b.max_in_flight = max_in_flight;
    c_.backends.push_back(std::move(b));
    return c_.backends.back();
  }
  config::Backend& self_hosted(std::string name, std::string tier, std::string clearance,
                               unsigned max_in_flight = 0) {
    return backend(std::move(name), config::Hosting::self_hosted, std::move(tier),
                   std::move(clearance), max_in_flight);
  }
  config::Backend& closed(std::string name, std::string tier, std::string clearance,
                          unsigned max_in_flight = 0) {
    return backend(std::move(name), config::Hosting::closed, std::move(tier), std::move(clearance),
                   max_in_flight);
  }

  config::ModelAlias& model(std::string name, std::vector<std::string> candidates,
                            std::string tier = "") {
    c_.models.push_back(
        config::ModelAlias{std::move(name), std::move(candidates), std::move(tier)});
    return c_.models.back();
  }

  config::Tenant& tenant(std::string name, int floor = kPublic) {
    config::Tenant t;
    t.name = std::move(name);
    t.floor = floor;
    c_.tenants.push_back(std::move(t));
    return c_.tenants.back();
  }

  /// A rule routing to `to` (empty: the alias's candidates); fill `when` and `route` on the result.
  config::Policy& rule(std::string name, std::vector<std::string> to = {}) {
    config::Policy p;
    p.name = std::move(name);
    p.route.to = std::move(to);
    p.line = static_cast<int>(c_.policies.size()) + 1;
    c_.policies.push_back(std::move(p));
    return c_.policies.back();
  }

  config::Config& config() { return c_; }
  std::shared_ptr<const config::Config> build() const {
    return std::make_shared<const config::Config>(c_);
  }

 private:
  config::Config c_;
};

}  // namespace sb::policies::testing
