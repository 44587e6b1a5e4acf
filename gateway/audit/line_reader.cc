#include "gateway/audit/line_reader.h"

namespace sb::gateway::audit {

bool next_trail_line(std::istream& in, TrailLine& line) {
  line.text.clear();
  line.bytes = 0;
  line.too_long = false;
  line.torn = false;
  std::streambuf* buf = in.rdbuf();
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      in.setstate(std::ios::eofbit);
      line.torn = line.bytes > 0;
      return line.torn;
    }
    if (c == '\n') {
      return true;
    }
    ++line.bytes;
    if (line.text.size() < kMaxTrailLine) {
      line.text.push_back(static_cast<char>(c));
    } else {
      line.too_long = true;
    }
  }
}

}  // namespace sb::gateway::audit
