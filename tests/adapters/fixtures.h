#pragma once
// Reads golden files under tests/fixtures (byte for byte; line endings are part of the data).

#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sb::test {

inline std::string read_fixture(const std::string& relative) {
  const std::string path = std::string(SB_FIXTURES_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open fixture " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sb::test
