// The writer: files, rotation, restart, torn tails, a crash, a full queue, and the position of
// a removed, reordered, altered or inserted line.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gateway/audit/chain.h"
#include "gateway/audit/line_reader.h"
#include "gateway/audit/trail.h"
#include "gateway/audit/verify.h"
#include "tests/audit/audit_fixtures.h"

namespace sb::gateway::audit {
namespace {

using testing::attempt;
using testing::decision;
using testing::kKey;
using testing::lines_of;
using testing::read_all;
using testing::write_all;
using testing::write_lines;

/// "r" and `i`: the request id of a test's i-th decision (appended, as GCC 12 warns with
/// -Wrestrict on `"r" + std::to_string(i)`).
std::string request_id(std::uint64_t i) {
  std::string id = "r";
  id += std::to_string(i);
  return id;
}

class TrailTest : public testing::TrailDir {
 protected:
  // A trail of one config line and `n` decisions, written and closed; returns the config hash.
  std::string write_trail(int n, config::AuditSettings s) {
    std::unique_ptr<Trail> t = open(s);
    if (t == nullptr) {
      return {};
    }
    const std::string hash = record(*t);
    for (int i = 0; i < n; ++i) {
      t->submit(decision(hash, request_id(i), "public", "acme", "route", {"local"}));
    }
    t->stop();
    return hash;
  }
  std::string write_trail(int n) { return write_trail(n, settings()); }

  VerifyReport verify() { return verify_trail(dir_, kKey); }
};

TEST_F(TrailTest, WritesSealedLinesThatVerify) {
  const std::string hash = write_trail(5);
  ASSERT_EQ(trail_files(dir_).size(), 1u);
  const std::vector<std::string> lines = lines_of(file(0));
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines[0].find("\"type\":\"config\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"snapshot\":\"configs/" + hash + ".yaml\""), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/configs/" + hash + ".yaml"));
  EXPECT_EQ(snapshot_hash(read_all(dir_ + "/configs/" + hash + ".yaml")), hash);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.lines, 6u);
  EXPECT_EQ(r.last_seq, 6u);
  EXPECT_EQ(r.decisions, 5u);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(file(0).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(TrailTest, RemovedLineReportedAtItsPosition) {
  write_trail(5);
  std::vector<std::string> lines = lines_of(file(0));
  lines.erase(lines.begin() + 2);  // seq 3
  write_lines(file(0), lines);
  const VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "prev mismatch");
  EXPECT_EQ(r.first_break->at.file, trail_files(dir_)[0]);
  EXPECT_EQ(r.first_break->at.line, 3u);
  EXPECT_EQ(r.first_break->at.seq, 4u);
  EXPECT_EQ(r.breaks, 1u);
  EXPECT_FALSE(r.clean());
}

TEST_F(TrailTest, ReorderedLinesReportedAtTheFirstMovedOne) {
  write_trail(5);
  std::vector<std::string> lines = lines_of(file(0));
  std::swap(lines[3], lines[4]);  // seq 4 and 5
  write_lines(file(0), lines);
  const VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "prev mismatch");
  EXPECT_EQ(r.first_break->at.line, 4u);
  EXPECT_EQ(r.first_break->at.seq, 5u);
}

TEST_F(TrailTest, AlteredLineIsABadMacAtItsPosition) {
  write_trail(5);
  std::vector<std::string> lines = lines_of(file(0));
  lines[4].replace(lines[4].find("\"public\""), 8, "\"secret\"");
  write_lines(file(0), lines);
  const VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "bad mac");
  EXPECT_EQ(r.first_break->at.line, 5u);
  EXPECT_EQ(r.first_break->at.seq, 5u);
  EXPECT_EQ(r.breaks, 1u);  // the next line still chains to the altered one's mac
}

TEST_F(TrailTest, InsertedLinesReportedAtTheirPosition) {
  write_trail(5);
  const std::vector<std::string> original = lines_of(file(0));
  // A copy of a genuine line (valid mac) put where it does not chain.
  std::vector<std::string> lines = original;
  lines.insert(lines.begin() + 4, original[1]);
  write_lines(file(0), lines);
  VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "prev mismatch");
  EXPECT_EQ(r.first_break->at.line, 5u);
  EXPECT_EQ(r.first_break->at.seq, 2u);
  // A line forged without the key, chained by its prev to the line before it.
  lines = original;
  ChainState state{3, std::string(check_line(kKey, original[2]).mac)};
  std::string forged;
  seal(std::string(32, 'x'), decision("h", "forged", "public", "acme", "route", {"cloud"}), state,
       forged);
  forged.pop_back();
  lines.insert(lines.begin() + 3, forged);
  write_lines(file(0), lines);
  r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "bad mac");
  EXPECT_EQ(r.first_break->at.line, 4u);
}

TEST_F(TrailTest, MissingFirstFileReportedAsMissingEarlierLines) {
  config::AuditSettings s = settings();
  s.rotate_size = 1024;
  write_trail(40, s);
  ASSERT_GT(trail_files(dir_).size(), 2u);
  std::filesystem::remove(file(0));
  const VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "missing earlier lines");
  EXPECT_EQ(r.first_break->at.line, 1u);
  EXPECT_GT(r.first_break->at.seq, 1u);
}

TEST_F(TrailTest, RotationKeepsTheChainAcrossFiles) {
  config::AuditSettings s = settings();
  s.rotate_size = 1024;
  write_trail(60, s);
  const std::vector<std::string> files = trail_files(dir_);
  ASSERT_GT(files.size(), 3u);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::vector<std::string> lines = lines_of(dir_ + "/" + files[i]);
    ASSERT_FALSE(lines.empty()) << files[i];
    total += lines.size();
    // File numbers count up by one; each file stays near the size bound.
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%06zu.jsonl", i + 1);
    EXPECT_TRUE(files[i].ends_with(suffix)) << files[i];
    EXPECT_LT(read_all(dir_ + "/" + files[i]).size(), 1024u + 2 * lines[0].size());
  }
  EXPECT_EQ(total, 61u);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.files, files.size());
  EXPECT_EQ(r.last_seq, 61u);
}

TEST_F(TrailTest, RotationByAgeStartsANewFileAtTheNextWrite) {
  config::AuditSettings s = settings();
  s.rotate_age = std::chrono::milliseconds(1);
  std::unique_ptr<Trail> t = open(s);
  ASSERT_NE(t, nullptr);
  const std::string hash = record(*t);
  for (int i = 0; i < 20'000 && t->counters().lines.load() < 1; ++i) {
    ::usleep(1000);
  }
  ASSERT_EQ(t->counters().lines.load(), 1u);
  ::usleep(5000);  // the file is now older than rotate_age
  t->submit(decision(hash, "r0", "public", "acme", "route", {"local"}));
  t->stop();
  EXPECT_EQ(trail_files(dir_).size(), 2u);
  EXPECT_EQ(t->counters().rotations.load(), 1u);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.last_seq, 2u);
}

// Many threads submit at once: every line arrives once, in one chain.
TEST_F(TrailTest, ConcurrentSubmittersAllWrittenInOneChain) {
  std::unique_ptr<Trail> t = open(settings());
  ASSERT_NE(t, nullptr);
  const std::string hash = record(*t);
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&t, &hash, n] {
      for (int i = 0; i < 2000; ++i) {
        t->submit(decision(hash, std::to_string(n) + "-" + std::to_string(i), "public", "acme",
                           "route", {"local"}));
      }
    });
  }
  for (std::thread& th : threads) {
    th.join();
  }
  t->stop();
  EXPECT_EQ(t->counters().dropped.load(), 0u);
  EXPECT_EQ(t->counters().lines.load(), 8001u);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.decisions, 8000u);
}

TEST_F(TrailTest, RestartResumesTheChainInANewFile) {
  write_trail(3);
  write_trail(4);
  ASSERT_EQ(trail_files(dir_).size(), 2u);
  const std::vector<std::string> second = lines_of(file(1));
  const CheckedLine first_of_second = check_line(kKey, second.front());
  EXPECT_EQ(first_of_second.seq, 5u);
  EXPECT_EQ(first_of_second.prev, check_line(kKey, lines_of(file(0)).back()).mac);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.last_seq, 9u);
  EXPECT_EQ(r.configs, 2u);
}

TEST_F(TrailTest, OpenRefusesAKeyThatDoesNotVerifyTheLastLine) {
  write_trail(2);
  config::AuditSettings s = settings();
  s.key.assign(std::string(40, 'Z'));
  std::string error;
  EXPECT_EQ(Trail::open(s, error), nullptr);
  EXPECT_NE(error.find("does not verify with this key"), std::string::npos) << error;
}

TEST_F(TrailTest, OpenRefusesAPathThatIsAFile) {
  write_all(root_ + "/plain", "x");
  config::AuditSettings s = settings();
  s.path = root_ + "/plain";
  std::string error;
  EXPECT_EQ(Trail::open(s, error), nullptr);
  EXPECT_NE(error.find("is not a directory"), std::string::npos) << error;
}

TEST_F(TrailTest, TornTailIsAWarningAndTheNextFileChainsToTheLastCompleteLine) {
  write_trail(3);
  {
    std::FILE* f = std::fopen(file(0).c_str(), "ab");
    std::fputs("{\"v\":1,\"type\":\"decis", f);
    std::fclose(f);
  }
  write_trail(2);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("torn last line"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.last_seq, 7u);
}

TEST_F(TrailTest, AnOverlongLineIsOneBreakAndNeverHeldWhole) {
  write_trail(5);
  std::vector<std::string> lines = lines_of(file(0));
  // Line 3 padded past the reader's limit (its bytes are read past, not held).
  lines[2].insert(1, std::string(kMaxTrailLine + 100, ' '));
  write_lines(file(0), lines);
  const VerifyReport r = verify();
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "overlong line");
  EXPECT_EQ(r.first_break->at.line, 3u);
  EXPECT_NE(r.first_break->detail.find(std::to_string(lines[2].size())), std::string::npos)
      << r.first_break->detail;
  EXPECT_EQ(r.breaks, 1u);  // line 4 takes up the chain: one problem, one break
  EXPECT_EQ(r.lines, 6u);
  EXPECT_EQ(r.last_seq, 6u);
  EXPECT_FALSE(r.clean());
}

TEST_F(TrailTest, AnOverlongTornTailIsAWarning) {
  write_trail(3);
  {
    std::FILE* f = std::fopen(file(0).c_str(), "ab");
    std::string tail = "{\"v\":1,";
    tail.append(kMaxTrailLine + 10, 'x');
    std::fputs(tail.c_str(), f);
    std::fclose(f);
  }
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find(std::to_string(kMaxTrailLine + 17) + " bytes"), std::string::npos)
      << r.warnings[0];
}

TEST_F(TrailTest, FullQueueDropsAndWritesADroppedLine) {
  config::AuditSettings s = settings();
  s.queue = 16;
  s.flush_interval = std::chrono::milliseconds(10'000);  // the writer drains only at stop
  std::unique_ptr<Trail> t = open(s);
  ASSERT_NE(t, nullptr);
  const std::string hash = record(*t);
  for (int i = 0; i < 100; ++i) {
    t->submit(decision(hash, request_id(i), "public", "acme", "route", {"local"}));
  }
  EXPECT_EQ(t->counters().dropped.load(), 84u);
  t->stop();
  EXPECT_EQ(t->counters().lines.load(), 18u);  // config, dropped, 16 decisions
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.dropped, 84u);
  EXPECT_EQ(r.decisions, 16u);
  const std::vector<std::string> lines = lines_of(file(0));
  EXPECT_NE(lines[1].find("\"type\":\"dropped\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"count\":84"), std::string::npos) << lines[1];
  // After stop nothing is queued: it is counted as dropped.
  t->submit(decision(hash, "late", "public", "acme", "route", {"local"}));
  EXPECT_EQ(t->counters().dropped.load(), 85u);
}

// A file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG: the writer counts the error,
// keeps the sealed line and writes it once the limit is lifted; the chain has no hole. In a child,
// so the limit never touches the test process.
TEST_F(TrailTest, WriteErrorsAreCountedAndRetriedWithoutBreakingTheChain) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    std::string error;
    std::unique_ptr<Trail> t = Trail::open(settings(), error);
    if (t == nullptr) {
      ::_exit(3);
    }
    const std::string hash = record(*t);
    const auto wait_until = [](auto done) {
      for (int i = 0; i < 20'000 && !done(); ++i) {
        ::usleep(1000);
      }
      return done();
    };
    if (!wait_until([&] { return t->counters().lines.load() == 1; })) {
      ::_exit(4);
    }
    rlimit original{};
    ::getrlimit(RLIMIT_FSIZE, &original);
    rlimit tiny = original;
    tiny.rlim_cur = 1;
    ::setrlimit(RLIMIT_FSIZE, &tiny);
    t->submit(decision(hash, "r0", "public", "acme", "route", {"local"}));
    if (!wait_until([&] { return t->counters().write_errors.load() >= 1; }) ||
        t->counters().lines.load() != 1) {
      ::_exit(5);
    }
    ::setrlimit(RLIMIT_FSIZE, &original);
    if (!wait_until([&] { return t->counters().lines.load() == 2; })) {
      ::_exit(6);
    }
    t->stop();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.lines, 2u);
}

// kill -9 while lines stream in: the trail verifies up to the last complete line, and what is
// missing is only what the child had not yet written (its own `lines` counter, reported through
// a pipe, is a lower bound on what the trail must hold).
TEST_F(TrailTest, CrashLosesAtMostTheUnwrittenBatch) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    config::AuditSettings s = settings();
    s.flush_interval = std::chrono::milliseconds(2);
    std::string error;
    std::unique_ptr<Trail> t = Trail::open(s, error);
    if (t == nullptr) {
      ::_exit(3);
    }
    const std::string hash = record(*t);
    for (std::uint64_t i = 0;; ++i) {
      t->submit(decision(hash, request_id(i), "public", "acme", "route", {"local"}));
      if (i % 64 == 0) {
        const std::uint64_t written = t->counters().lines.load();
        if (::write(fds[1], &written, sizeof written) != sizeof written) {
          ::_exit(4);
        }
        ::usleep(1000);
      }
    }
  }
  ::close(fds[1]);
  std::uint64_t written = 0;
  std::uint64_t reported = 0;
  while (written < 2000 && ::read(fds[0], &reported, sizeof reported) == sizeof reported) {
    written = reported;
  }
  ASSERT_GE(written, 2000u);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  while (::read(fds[0], &reported, sizeof reported) == sizeof reported) {
    written = std::max(written, reported);  // reports sent before the kill
  }
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  const VerifyReport r = verify();
  EXPECT_TRUE(r.clean()) << to_text(r);
  EXPECT_GE(r.lines, written);  // nothing written was lost
  EXPECT_EQ(r.last_seq, r.lines);
  // Decisions are in submission order without a hole: r0 .. r(decisions-1).
  std::vector<std::string> lines;
  for (const std::string& f : trail_files(dir_)) {
    for (std::string& l : lines_of(dir_ + "/" + f)) {
      lines.push_back(std::move(l));
    }
  }
  ASSERT_EQ(lines.size(), r.lines);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    ASSERT_NE(lines[i].find("\"request_id\":\"r" + std::to_string(i - 1) + "\""), std::string::npos)
        << i;
  }
  // A restart after the crash continues the chain.
  std::unique_ptr<Trail> t = open(settings());
  ASSERT_NE(t, nullptr);
  record(*t, "start");
  t->stop();
  const VerifyReport after = verify();
  EXPECT_TRUE(after.clean()) << to_text(after);
  EXPECT_EQ(after.last_seq, r.last_seq + 1);
}

}  // namespace
}  // namespace sb::gateway::audit
