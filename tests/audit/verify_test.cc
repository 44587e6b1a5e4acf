// `audit verify`: the clearance invariant against each line's config snapshot, the compliance
// report (text and JSON), a wrong key, and the command's exit codes (the built binary).

#include "gateway/audit/verify.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "gateway/audit/trail.h"
#include "tests/audit/audit_fixtures.h"

#ifndef SB_SWITCHBOARD_BIN
#error "SB_SWITCHBOARD_BIN must name the built switchboard binary"
#endif

namespace sb::gateway::audit {
namespace {

using testing::attempt;
using testing::decision;
using testing::kKey;
using testing::write_all;

class VerifyTest : public testing::TrailDir {
 protected:
  // Writes `bodies` (built with the recorded config's hash) after a config line.
  void write(const std::vector<std::string>& bodies) {
    std::unique_ptr<Trail> t = open(settings());
    ASSERT_NE(t, nullptr);
    hash_ = record(*t);
    for (const std::string& b : bodies) {
      t->submit(b);
    }
    t->stop();
  }
  std::string hash() {
    if (hash_.empty()) {
      hash_ = snapshot_hash(snapshot_text(testing::kConfig, [](const std::string&) {
        return std::optional<std::string>("sk-secret-value-0123456789");
      }));
    }
    return hash_;
  }
  // Runs the built binary; returns its exit code, its stdout in `out`.
  int run(const std::string& args, std::string* out = nullptr) {
    const std::string cmd = std::string(SB_SWITCHBOARD_BIN) + " " + args + " 2>/dev/null";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) {
      text.append(buf, n);
    }
    const int status = ::pclose(p);
    if (out != nullptr) {
      *out = text;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string key_file() {
    const std::string path = root_ + "/audit.key";
    write_all(path, kKey + "\n");
    return path;
  }

  std::string hash_;
};

TEST_F(VerifyTest, RestrictedRequestOnAClosedBackendIsAViolation) {
  const std::string h = hash();
  write({decision(h, "ok1", "internal", "acme", "route", {"cloud"}),
         attempt(h, "ok1", "internal", "acme", "cloud"),
         decision(h, "bad1", "restricted", "acme", "route", {"local", "cloud"}),
         attempt(h, "bad2", "restricted", "acme", "cloud")});
  const VerifyReport r = verify_trail(dir_, kKey);
  EXPECT_TRUE(r.chain_ok()) << to_text(r);
  ASSERT_EQ(r.violations.size(), 2u) << to_text(r);
  EXPECT_EQ(r.violations[0].request_id, "bad1");
  EXPECT_EQ(r.violations[0].at.line, 4u);
  EXPECT_EQ(r.violations[0].at.seq, 4u);
  EXPECT_NE(r.violations[0].detail.find("restricted request of tenant 'acme' on backend 'cloud' "
                                        "(closed), which is not cleared for it"),
            std::string::npos)
      << r.violations[0].detail;
  EXPECT_EQ(r.violations[1].request_id, "bad2");
  EXPECT_EQ(r.violations[1].at.line, 5u);
  EXPECT_FALSE(r.clean());
  EXPECT_NE(to_text(r).find("Result: FAILED"), std::string::npos);
}

TEST_F(VerifyTest, CommercialTenantOnAResearchOnlyModelIsAViolation) {
  const std::string h = hash();
  write({attempt(h, "a", "restricted", "lab", "study"), attempt(h, "b", "public", "acme", "study"),
         attempt(h, "c", "confidential", "lab", "cloud")});
  const VerifyReport r = verify_trail(dir_, kKey);
  ASSERT_EQ(r.violations.size(), 2u) << to_text(r);
  EXPECT_EQ(r.violations[0].request_id, "b");
  EXPECT_EQ(r.violations[1].request_id, "c");
}

// Each line is checked under its own config: after a reload to `egress: none`, a closed backend
// is a violation even at the lowest level; before it, the same line is clean.
TEST_F(VerifyTest, EachLineIsCheckedUnderTheConfigItNames) {
  std::unique_ptr<Trail> t = open(settings());
  ASSERT_NE(t, nullptr);
  const std::string before = record(*t);
  t->submit(attempt(before, "open", "public", "acme", "cloud"));
  const std::string closed_off = std::string(testing::kConfig) + "egress: none\n";
  const std::string text = snapshot_text(closed_off, [](const std::string&) {
    return std::optional<std::string>("sk-secret-value-0123456789");
  });
  const std::string after = snapshot_hash(text);
  ASSERT_NE(after, before);
  t->record_config(text, after, "reload");
  t->submit(attempt(after, "egress", "public", "acme", "cloud"));
  t->stop();
  const VerifyReport r = verify_trail(dir_, kKey);
  EXPECT_TRUE(r.chain_ok()) << to_text(r);
  EXPECT_EQ(r.configs, 2u);
  ASSERT_EQ(r.violations.size(), 1u) << to_text(r);
  EXPECT_EQ(r.violations[0].request_id, "egress");
}

TEST_F(VerifyTest, UnknownNamesAndMissingSnapshotsAreViolations) {
  const std::string h = hash();
  write({attempt(h, "u1", "topsecret", "acme", "local"), attempt(h, "u2", "public", "who", "local"),
         attempt(h, "u3", "public", "acme", "elsewhere"),
         attempt(std::string(64, 'a'), "u4", "public", "acme", "local")});
  const VerifyReport r = verify_trail(dir_, kKey);
  ASSERT_EQ(r.violations.size(), 4u) << to_text(r);
  EXPECT_NE(r.violations[0].detail.find("unknown sensitivity level 'topsecret'"),
            std::string::npos);
  EXPECT_NE(r.violations[1].detail.find("unknown tenant 'who'"), std::string::npos);
  EXPECT_NE(r.violations[2].detail.find("unknown backend 'elsewhere'"), std::string::npos);
  EXPECT_NE(r.violations[3].detail.find("is missing"), std::string::npos) << r.violations[3].detail;
}

TEST_F(VerifyTest, AlteredSnapshotIsAViolation) {
  const std::string h = hash();
  write({attempt(h, "a", "public", "acme", "local")});
  const std::string path = dir_ + "/configs/" + h + ".yaml";
  write_all(path, testing::read_all(path) + "# edited\n");
  const VerifyReport r = verify_trail(dir_, kKey);
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_NE(r.violations[0].detail.find("does not match its hash"), std::string::npos);
}

TEST_F(VerifyTest, CleanMultiDayTrailCountsPerLevelBackendAndDay) {
  const std::string h = hash();
  const std::string d1 = "2026-11-30T23:59:59.999Z";
  const std::string d2 = "2026-12-01T00:00:00.000Z";
  write({decision(h, "a", "restricted", "acme", "route", {"local"}, d1),
         attempt(h, "a", "restricted", "acme", "local", d1),
         decision(h, "b", "restricted", "acme", "route", {"local"}, d2),
         attempt(h, "b", "restricted", "acme", "local", d2),
         decision(h, "c", "public", "acme", "route", {"cloud", "local"}, d2),
         attempt(h, "c", "public", "acme", "cloud", d2),
         attempt(h, "c", "public", "acme", "local", d2),
         decision(h, "d", "restricted", "acme", "forbidden", {}, d2),
         decision(h, "e", "public", "acme", "unknown_model", {}, d1)});
  const VerifyReport r = verify_trail(dir_, kKey);
  ASSERT_TRUE(r.clean()) << to_text(r);
  EXPECT_EQ(r.decisions, 5u);
  EXPECT_EQ(r.attempts, 4u);
  EXPECT_EQ(r.outcomes.at("route"), 3u);
  EXPECT_EQ(r.outcomes.at("forbidden"), 1u);
  EXPECT_EQ(r.outcomes.at("unknown_model"), 1u);
  const LevelReport& restricted = r.levels.at("restricted");
  EXPECT_EQ(restricted.decisions, 3u);
  EXPECT_EQ(restricted.attempts, 2u);
  ASSERT_EQ(restricted.backends.size(), 1u);
  const ServedCounts& local = restricted.backends.at("local");
  EXPECT_EQ(local.hosting, "self-hosted");
  EXPECT_EQ(local.total, 2u);
  EXPECT_EQ(local.per_day.at("2026-11-30"), 1u);
  EXPECT_EQ(local.per_day.at("2026-12-01"), 1u);
  EXPECT_EQ(r.levels.at("public").backends.at("cloud").hosting, "closed");

  const std::string text = to_text(r);
  EXPECT_NE(text.find("Chain: OK"), std::string::npos) << text;
  EXPECT_NE(text.find("restricted: 3 decisions, 2 attempts"), std::string::npos) << text;
  EXPECT_NE(text.find("2026-11-30: 1  2026-12-01: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("Violations: none"), std::string::npos) << text;
  EXPECT_NE(text.find("Result: CLEAN"), std::string::npos) << text;

  const boost::json::value j = boost::json::parse(to_json(r));
  EXPECT_EQ(j.at("clean").as_bool(), true);
  EXPECT_EQ(j.at("chain").at("ok").as_bool(), true);
  const auto& jl = j.at("levels").at("restricted").at("backends").at("local");
  EXPECT_EQ(jl.at("hosting").as_string(), "self-hosted");
  EXPECT_EQ(jl.at("per_day").at("2026-11-30").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(jl.at("per_day").at("2026-12-01").to_number<std::uint64_t>(), 1u);
  EXPECT_EQ(j.at("outcomes").at("forbidden").to_number<std::uint64_t>(), 1u);
  EXPECT_TRUE(j.at("violations").as_array().empty());
}

TEST_F(VerifyTest, WrongKeyMakesEveryLineABadMacFirstOneReported) {
  const std::string h = hash();
  write({attempt(h, "a", "public", "acme", "local"), attempt(h, "b", "public", "acme", "local")});
  const VerifyReport r = verify_trail(dir_, std::string(40, 'W'));
  ASSERT_TRUE(r.first_break.has_value());
  EXPECT_EQ(r.first_break->kind, "bad mac");
  EXPECT_EQ(r.first_break->at.line, 1u);
  EXPECT_EQ(r.first_break->at.seq, 1u);
  EXPECT_EQ(r.breaks, 3u);
  const boost::json::value j = boost::json::parse(to_json(r));
  EXPECT_EQ(j.at("chain").at("first_break").at("kind").as_string(), "bad mac");
  EXPECT_EQ(j.at("chain").at("first_break").at("at").at("line").to_number<std::uint64_t>(), 1u);
}

TEST_F(VerifyTest, CommandExitCodes) {
  const std::string h = hash();
  write({attempt(h, "a", "public", "acme", "local")});
  const std::string key = key_file();
  std::string out;
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + key, &out), 0) << out;
  EXPECT_NE(out.find("Result: CLEAN"), std::string::npos) << out;
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + key + " --json", &out), 0);
  EXPECT_EQ(boost::json::parse(out).at("clean").as_bool(), true);
  // Usage errors.
  EXPECT_EQ(run("audit verify --trail " + dir_), 2);
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + key + " --bogus"), 2);
  EXPECT_EQ(run("audit frobnicate"), 2);
  EXPECT_EQ(run("audit verify --trail " + root_ + "/nowhere --key " + key), 2);
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + root_ + "/nokey"), 2);
  write_all(root_ + "/short.key", "short\n");
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + root_ + "/short.key"), 2);
  // A violation, then a break.
  std::unique_ptr<Trail> t = open(settings());
  ASSERT_NE(t, nullptr);
  t->submit(attempt(h, "bad", "restricted", "acme", "cloud"));
  t->stop();
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + key, &out), 1);
  EXPECT_NE(out.find("Violations: 1"), std::string::npos) << out;
  write_all(root_ + "/wrong.key", std::string(40, 'W'));
  EXPECT_EQ(run("audit verify --trail " + dir_ + " --key " + root_ + "/wrong.key", &out), 1);
  EXPECT_NE(out.find("Chain: BROKEN at"), std::string::npos) << out;
}

}  // namespace
}  // namespace sb::gateway::audit
