// Sealing and checking one line: the mac covers every byte before `,"mac":`, seq and prev chain.

#include "gateway/audit/chain.h"

#include <gtest/gtest.h>

#include <string>

namespace sb::gateway::audit {
namespace {

const std::string kKey(32, 'k');

std::string sealed(std::string_view body, ChainState& state) {
  std::string out;
  seal(kKey, body, state, out);
  EXPECT_EQ(out.back(), '\n');
  out.pop_back();
  return out;
}

TEST(ChainTest, SealThenCheckRoundTrip) {
  ChainState state;
  const std::string first = sealed(R"({"v":1,"type":"config")", state);
  const std::string second = sealed(R"({"v":1,"type":"dropped","count":3)", state);
  EXPECT_EQ(first.rfind(R"({"v":1,"type":"config","seq":1,"prev":")", 0), 0u) << first;

  const CheckedLine a = check_line(kKey, first);
  ASSERT_EQ(a.status, CheckedLine::Status::ok);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(a.prev, kZeroMac);
  EXPECT_EQ(a.body, R"({"v":1,"type":"config")");
  const CheckedLine b = check_line(kKey, second);
  ASSERT_EQ(b.status, CheckedLine::Status::ok);
  EXPECT_EQ(b.seq, 2u);
  EXPECT_EQ(b.prev, a.mac);
  EXPECT_EQ(state.seq, 2u);
  EXPECT_EQ(state.mac, b.mac);
  // The line is JSON: the mac is computed as documented.
  EXPECT_EQ(std::string(a.mac), hmac_hex(kKey, first.substr(0, first.find(",\"mac\":"))));
}

TEST(ChainTest, AlteredByteWrongKeyAndForgedMacAreBadMacs) {
  ChainState state;
  std::string line = sealed(R"({"v":1,"type":"decision","sensitivity":"public")", state);
  std::string altered = line;
  altered.replace(altered.find("public"), 6, "secret");
  EXPECT_EQ(check_line(kKey, altered).status, CheckedLine::Status::bad_mac);
  EXPECT_EQ(check_line(std::string(32, 'x'), line).status, CheckedLine::Status::bad_mac);
  std::string forged_seq = line;
  forged_seq.replace(forged_seq.find("\"seq\":1"), 7, "\"seq\":7");
  EXPECT_EQ(check_line(kKey, forged_seq).status, CheckedLine::Status::bad_mac);
  std::string forged_mac = line;
  forged_mac[forged_mac.size() - 3] = forged_mac[forged_mac.size() - 3] == '0' ? '1' : '0';
  EXPECT_EQ(check_line(kKey, forged_mac).status, CheckedLine::Status::bad_mac);
}

TEST(ChainTest, LinesWithoutTheSealAreUnparseable) {
  ChainState state;
  const std::string line = sealed(R"({"v":1,"type":"config")", state);
  for (const std::string& bad :
       {std::string(), std::string("{}"), line.substr(0, line.size() - 1), line.substr(1),
        std::string(R"({"v":1,"type":"decision"})"), line + " "}) {
    EXPECT_EQ(check_line(kKey, bad).status, CheckedLine::Status::unparseable) << bad;
  }
  std::string upper = line;
  upper[upper.size() - 5] = 'A';  // uppercase hex is not what the writer writes
  EXPECT_EQ(check_line(kKey, upper).status, CheckedLine::Status::unparseable);
  std::string zero_seq = line;
  zero_seq.replace(zero_seq.find("\"seq\":1"), 7, "\"seq\":0");
  EXPECT_EQ(check_line(kKey, zero_seq).status, CheckedLine::Status::unparseable);
}

}  // namespace
}  // namespace sb::gateway::audit
