#pragma once
// A detector with every built-in entity at level 3 and without the default allow-list (the test
// texts write some values in the reserved example domains as stand-ins for real ones).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "policies/config.h"
#include "policies/detector.h"

namespace sb::policies::testing {

inline std::unique_ptr<Detector> every_entity() {
  config::SensitivitySettings s;
  s.allow_defaults = false;
  for (const std::string& name : config::builtin_entities()) {
    s.entities.push_back(config::EntityLevel{name, 3});
  }
  std::string error;
  auto d = Detector::compile(s, error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

}  // namespace sb::policies::testing
