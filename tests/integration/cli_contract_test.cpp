// What every `maya` command promises (issue 11, "Output a person can read"): its own help with
// a synopsis, options and an example, internal options hidden; `maya help CMD` and
// `maya volume help CMD` the same as `--help`; -o json on every command; exit 2 on usage errors.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "lib/common/files.h"

#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

using nlohmann::json;
using Words = std::vector<std::string>;

const std::vector<Words>& every_command() {
  static const std::vector<Words> all = {
      {"init"},
      {"load"},
      {"status"},
      {"unload"},
      {"volume", "create"},
      {"volume", "list"},
      {"volume", "inspect"},
      {"volume", "stats"},
      {"volume", "delete"},
      {"volume", "attach"},
      {"volume", "detach"},
      {"volume", "replica", "add"},
      {"volume", "replica", "remove"},
      {"volume", "rebuild"},
      {"volume", "snapshot", "create"},
      {"volume", "snapshot", "list"},
      {"volume", "snapshot", "delete"},
      {"volume", "snapshot", "revert"},
      {"snapshot", "list"},
      {"snapshot", "delete"},
      {"pool", "create"},
      {"pool", "list"},
      {"pool", "inspect"},
      {"pool", "destroy"},
      {"replica", "create"},
      {"replica", "list"},
      {"replica", "destroy"},
      {"target", "serve"},
      {"target", "run"},
  };
  return all;
}

Words with(Words words, std::initializer_list<std::string> more) {
  words.insert(words.end(), more);
  return words;
}

class CliContract : public ::testing::Test {
 protected:
  TempRoot root_;
};

TEST_F(CliContract, EveryCommandHasItsOwnHelpWithAnExampleAndNoInternalOptions) {
  for (const Words& command : every_command()) {
    std::string name;
    for (const auto& w : command) name += (name.empty() ? "" : " ") + w;
    SCOPED_TRACE(name);
    RunResult help = root_.maya(with(command, {"--help"}));
    EXPECT_EQ(help.status, 0) << help.err;
    EXPECT_EQ(help.out.rfind("Usage: maya " + name, 0), 0u) << help.out;
    EXPECT_NE(help.out.find("\nExample:\n  maya"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("--output"), std::string::npos) << "global options are shown";
    for (const char* internal : {"--name", "--word", "--ref", "--ready-fd", "--log-to-file",
                                 "--fuse-fd", "--fuse-transport"})
      EXPECT_EQ(help.out.find(internal), std::string::npos) << internal << " in\n" << help.out;
    // `maya help volume create` is `maya volume create --help`.
    Words via_help = {"help"};
    via_help.insert(via_help.end(), command.begin(), command.end());
    RunResult same = root_.maya(via_help);
    EXPECT_EQ(same.status, 0);
    EXPECT_EQ(same.out, help.out);
  }
  RunResult volume_help = root_.maya({"volume", "help"});
  EXPECT_EQ(volume_help.status, 0);
  EXPECT_EQ(volume_help.out, root_.maya({"help", "volume"}).out);
  EXPECT_NE(volume_help.out.find("maya volume attach NAME"), std::string::npos);
  // `maya GROUP help VERB` is `maya GROUP VERB --help`, in every group with verbs.
  for (const Words& verb : std::vector<Words>{{"volume", "create"},
                                              {"snapshot", "list"},
                                              {"target", "run"},
                                              {"pool", "create"},
                                              {"replica", "create"}}) {
    RunResult via_group = root_.maya({verb[0], "help", verb[1]});
    EXPECT_EQ(via_group.status, 0) << verb[0];
    EXPECT_EQ(via_group.out, root_.maya({verb[0], verb[1], "--help"}).out) << verb[0];
  }
  RunResult top = root_.maya({"--help"});
  EXPECT_NE(
      top.out.find("Exit status: 0 done, 1 failed, 2 usage error, 3 the daemon is not running"),
      std::string::npos)
      << top.out;
}

// Usage errors exit 2 with a pointer to the help, before anything is asked of a daemon (none
// runs here: a usage error wins over "daemon not running", exit 3).
TEST_F(CliContract, UsageErrorsExitTwoAndSayWhereTheHelpIs) {
  ASSERT_EQ(root_.init().status, 0);
  for (const Words& args : std::vector<Words>{
           {"volume", "inspect"},
           {"volume", "stats"},
           {"volume", "stats", "v", "--interval", "soon"},
           {"volume", "delete"},
           {"volume", "attach"},
           {"volume", "create"},
           {"volume", "replica", "add"},
           {"volume", "replica", "remove", "v"},
           {"volume", "replica", "grow", "v"},
           {"volume", "snapshot", "create", "v"},
           {"volume", "snapshot", "grow", "v", "s"},
           {"volume", "rebuild", "v", "--timeout", "soon"},
           {"snapshot", "delete", "no-at-sign"},
           {"pool", "create", "p"},
           {"pool", "create", "p", "/dev/a", "/dev/b"},
           {"pool", "inspect"},
           {"pool", "destroy"},
           {"pool", "grow"},
           {"replica", "create", "tpool"},
           {"replica", "create", "tpool", "r"},
           {"replica", "create", "tpool", "r", "--size", "ten"},
           {"replica", "destroy", "tpool"},
           {"replica", "grow"},
           {"snapshot", "grow"},
           {"target", "grow"},
           {"target", "serve", "--backing", "f", "--iqn", "bad name", "--listen", "127.0.0.1:0"},
           {"target", "run", "--volume", "v", "--store", "/nonexistent/s", "--run",
            "/nonexistent/r", "--fuse-transport", "uring"},
           {"volume", "list", "--bogus"},
           {"status", "-o", "yaml"},
           {"--config"},
           {"nosuchcommand"},
       }) {
    std::string line;
    for (const auto& w : args) line += w + " ";
    RunResult r = root_.maya(args);
    EXPECT_EQ(r.status, 2) << line << ": " << r.err;
    EXPECT_NE(r.err.find("--help`"), std::string::npos) << line << ": " << r.err;
  }
}

// Every command that reports something prints one JSON document with -o json.
TEST_F(CliContract, EveryCommandHonoursOutputJson) {
  ASSERT_EQ(root_.init().status, 0);
  auto json_of = [&](const Words& args) {
    RunResult r = root_.maya(with(args, {"-o", "json"}));
    EXPECT_EQ(r.status, 0) << r.err;
    json parsed = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << r.out;
    return parsed;
  };
  EXPECT_TRUE(json_of({"load"})["pid"].is_number());
  EXPECT_TRUE(json_of({"load"}).contains("changed")) << "a reload answers in JSON too";
  EXPECT_EQ(json_of({"status"})["running"], true);
  EXPECT_EQ(json_of({"volume", "create", "j", "--size", "32MiB", "--replicas", "2"})["name"], "j");
  EXPECT_EQ(json_of({"volume", "create", "l", "--size", "32MiB", "--driver", "local"})["name"],
            "l");
  EXPECT_EQ(json_of({"volume", "list"}).size(), 2u);
  EXPECT_EQ(json_of({"volume", "inspect", "j"})["replicas_wanted"], 2);
  EXPECT_EQ(json_of({"volume", "rebuild", "j"})["volume"], "j");
  EXPECT_EQ(json_of({"volume", "replica", "add", "j"})["added"], "r3");
  EXPECT_EQ(json_of({"volume", "rebuild", "j", "--wait", "--timeout", "10m"})["health"], "healthy");
  EXPECT_EQ(json_of({"volume", "replica", "remove", "j", "r3"})["removed"], "r3");
  EXPECT_EQ(json_of({"volume", "snapshot", "create", "j", "s1"})["name"], "s1");
  EXPECT_EQ(json_of({"volume", "snapshot", "list", "j"}).size(), 1u);
  EXPECT_EQ(json_of({"volume", "snapshot", "revert", "j", "s1"})["reverted_to"], "s1");
  EXPECT_EQ(json_of({"snapshot", "list"}).size(), 1u);
  EXPECT_EQ(json_of({"volume", "snapshot", "delete", "j", "s1"})["deleted"], "s1");
  EXPECT_EQ(json_of({"volume", "delete", "j", "l"})["deleted"], json({"j", "l"}));
  EXPECT_EQ(json_of({"pool", "list"}).at(0)["name"], "default");
  EXPECT_EQ(json_of({"pool", "inspect", "default"})["kind"], "directory");
  EXPECT_EQ(json_of({"unload"})["stopped"], true);
  EXPECT_EQ(json_of({"unload"})["stopped"], false);
}

// Logs are read by people: every line starts with a timestamp and a level, and each event is
// logged once (not once by the volume layer and again by the driver below it).
TEST_F(CliContract, EveryLogLineHasATimestampAndEachEventIsLoggedOnce) {
  ASSERT_EQ(root_.init().status, 0);
  ASSERT_EQ(root_.maya({"load"}).status, 0);
  for (const Words& args : std::vector<Words>{
           {"volume", "create", "logged-j", "--size", "32MiB"},
           {"volume", "create", "logged-l", "--size", "32MiB", "--driver", "local"},
           {"volume", "attach", "logged-l"},
           {"volume", "detach", "logged-l"},
           {"volume", "snapshot", "create", "logged-j", "s1"},
           {"volume", "delete", "logged-j", "logged-l", "--with-snapshots"},
       }) {
    RunResult r = root_.maya(args);
    ASSERT_EQ(r.status, 0) << args[1] << " " << args[2] << ": " << r.err;
  }
  const std::string log_file = root_.status()["log_file"].get<std::string>();
  ASSERT_EQ(root_.maya({"unload"}).status, 0);
  auto text = read_file(log_file);
  ASSERT_TRUE(text) << text.error().message;
  const std::regex stamped(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info |warn |error) \S.*)");
  std::set<std::string> seen;
  std::map<std::string, int> events;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(std::regex_match(line, stamped)) << "no timestamp and level: " << line;
    const std::string message = line.size() > 25 ? line.substr(25) : line;
    EXPECT_TRUE(seen.insert(message).second) << "logged twice: " << message;
    for (const char* event : {"created", "deleted", "attached", "detached"}) {
      for (const char* volume : {"logged-j", "logged-l"}) {
        if (message.find(event) != std::string::npos && message.find(volume) != std::string::npos &&
            message.find("snapshot") == std::string::npos)
          ++events[std::string(volume) + " " + event];
      }
    }
  }
  for (const char* event : {"logged-j created", "logged-j deleted", "logged-l created",
                            "logged-l deleted", "logged-l attached", "logged-l detached"})
    EXPECT_EQ(events[event], 1) << event << " in\n" << *text;
}

}  // namespace
}  // namespace maya::testing
