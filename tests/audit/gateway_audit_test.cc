// The gateway with `audit:`: it opens the trail at start (or refuses to start), records the
// config at start and at each reload, and drains the trail at exit. Runs the built binary.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gateway/audit/verify.h"
#include "tests/audit/audit_fixtures.h"

#ifndef SB_SWITCHBOARD_BIN
#error "SB_SWITCHBOARD_BIN must name the built switchboard binary"
#endif

namespace sb::gateway::audit {
namespace {

using testing::kKey;
using testing::lines_of;
using testing::write_all;

class GatewayAuditTest : public testing::TrailDir {
 protected:
  void SetUp() override {
    TrailDir::SetUp();
    write_all(root_ + "/audit.key", kKey + "\n");
    ::chmod((root_ + "/audit.key").c_str(), 0600);
  }
  std::string config(const std::string& audit_path) {
    const std::string path = root_ + "/c.yaml";
    write_all(path,
              "server: {listen: \"127.0.0.1:0\"}\nadmin: {listen: \"127.0.0.1:0\"}\n"
              "backends:\n"
              "  local: {provider: vllm, base_url: \"http://127.0.0.1:1/v1\", model: m}\n"
              "audit: {path: " +
                  audit_path + ", key_file: audit.key, flush_interval: 10ms}\n");
    return path;
  }
  pid_t start(const std::string& config_path) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string log = root_ + "/gateway.log";
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      std::freopen("/dev/null", "w", stdout);
      ::execl(SB_SWITCHBOARD_BIN, SB_SWITCHBOARD_BIN, "run", "--config", config_path.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }
  // Waits (up to 20 s) until the trail holds `n` lines.
  bool wait_lines(std::size_t n) {
    for (int i = 0; i < 2000; ++i) {
      const std::vector<std::string> files = trail_files(dir_);
      std::size_t count = 0;
      for (const std::string& f : files) {
        count += lines_of(dir_ + "/" + f).size();
      }
      if (count >= n) {
        return true;
      }
      ::usleep(10'000);
    }
    return false;
  }
};

TEST_F(GatewayAuditTest, RecordsTheConfigAtStartAndReloadAndDrainsAtExit) {
  const pid_t pid = start(config("trail"));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_lines(1)) << testing::read_all(root_ + "/gateway.log");
  ::kill(pid, SIGHUP);
  ASSERT_TRUE(wait_lines(2)) << testing::read_all(root_ + "/gateway.log");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const VerifyReport r = verify_trail(dir_, kKey);
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.configs, 2u);
  const std::vector<std::string> lines = lines_of(dir_ + "/" + trail_files(dir_).at(0));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"event\":\"start\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"event\":\"reload\""), std::string::npos) << lines[1];
}

TEST_F(GatewayAuditTest, ATrailThatCannotBeOpenedFailsTheStart) {
  write_all(root_ + "/not-a-dir", "x");
  const pid_t pid = start(config("not-a-dir"));
  ASSERT_GT(pid, 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string log = testing::read_all(root_ + "/gateway.log");
  EXPECT_NE(log.find("audit: '"), std::string::npos) << log;
  EXPECT_NE(log.find("is not a directory"), std::string::npos) << log;
}

}  // namespace
}  // namespace sb::gateway::audit
