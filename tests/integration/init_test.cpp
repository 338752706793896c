// `maya init` as a user runs it: writes a config that `maya load` accepts, never clobbers one.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "lib/common/files.h"
#include "lib/config/config.h"
#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;

TEST(Init, WritesAValidConfigAndTheDirectoriesUnderTheRoot) {
  TempRoot root;
  RunResult r = run_maya({"init", "--root", root.path().string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(root.config().string()), std::string::npos) << r.out;

  auto cfg = config::load(root.config());
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  for (const fs::path& p : {cfg->store_dir, cfg->state_dir, cfg->run_dir, cfg->plugin_socket,
                            cfg->control_socket(), cfg->pidfile(), cfg->log_file()}) {
    EXPECT_EQ(p.string().rfind(root.path().string() + "/", 0), 0u) << p << " escapes the root";
  }
  EXPECT_TRUE(fs::is_directory(cfg->store_dir));
  EXPECT_TRUE(fs::is_directory(cfg->state_dir));
  EXPECT_TRUE(fs::is_directory(cfg->run_dir));
  EXPECT_TRUE(fs::is_directory(cfg->plugin_socket.parent_path()));
  EXPECT_FALSE(cfg->host_id.empty());
}

TEST(Init, RefusesToOverwriteWithoutForceAndKeepsTheHostIdWithIt) {
  TempRoot root;
  ASSERT_EQ(run_maya({"init", "--root", root.path().string()}).status, 0);
  std::string id = config::load(root.config())->host_id;

  // Edit the file: a refused init must not touch it.
  { std::ofstream(root.config(), std::ios::app) << "# my edit\n"; }
  std::string before = *read_file(root.config());
  RunResult again = run_maya({"init", "--root", root.path().string()});
  EXPECT_NE(again.status, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(*read_file(root.config()), before);

  RunResult forced = run_maya({"init", "--root", root.path().string(), "--force"});
  ASSERT_EQ(forced.status, 0) << forced.err;
  EXPECT_EQ(read_file(root.config())->find("# my edit"), std::string::npos);
  EXPECT_EQ(config::load(root.config())->host_id, id) << "the host id is generated once";
}

TEST(Init, WritesApiCredentialsOnceWithMode0600) {
  TempRoot root;
  ASSERT_EQ(run_maya({"init", "--root", root.path().string()}).status, 0);
  auto cfg = config::load(root.config());
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_EQ(cfg->api_credentials, root.path() / "etc/maya/credentials");
  auto text = read_file(cfg->api_credentials);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(*text, m,
                               std::regex("\\[maya\\]\naws_access_key_id = (AKIA[A-Z2-7]{16})\n"
                                          "aws_secret_access_key = ([A-Za-z0-9+/]{40})\n")))
      << *text;
  auto perms = fs::status(cfg->api_credentials).permissions();
  EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  // init --force replaces the config, never the key pair clients hold.
  ASSERT_EQ(run_maya({"init", "--root", root.path().string(), "--force"}).status, 0);
  EXPECT_EQ(*read_file(cfg->api_credentials), *text);
  // Another root gets another key.
  TempRoot other;
  ASSERT_EQ(run_maya({"init", "--root", other.path().string()}).status, 0);
  EXPECT_NE(*read_file(other.path() / "etc/maya/credentials"), *text);
}

// An upgraded host: its config predates the API, so no credentials file exists. The quick start
// keeps the config and runs `maya load`, which writes one (once); an existing one is untouched.
TEST(Init, LoadWritesMissingApiCredentialsAndNeverReplacesThem) {
  TempRoot root;
  ASSERT_EQ(root.init().status, 0);
  auto cfg = config::load(root.config());
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  ASSERT_TRUE(fs::remove(cfg->api_credentials));

  RunResult loaded = root.maya({"load"});
  ASSERT_EQ(loaded.status, 0) << loaded.err;
  EXPECT_NE(loaded.out.find("Wrote a new EBS-compatible API key pair to " +
                            cfg->api_credentials.string()),
            std::string::npos)
      << loaded.out;
  auto text = read_file(cfg->api_credentials);
  ASSERT_TRUE(text.has_value()) << text.error().message;
  EXPECT_TRUE(
      std::regex_match(*text, std::regex("\\[maya\\]\naws_access_key_id = AKIA[A-Z2-7]{16}\n"
                                         "aws_secret_access_key = [A-Za-z0-9+/]{40}\n")))
      << *text;
  EXPECT_EQ(fs::status(cfg->api_credentials).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  // Loaded again (a reload, then a fresh start): the file clients hold stays as it is.
  { std::ofstream(cfg->api_credentials, std::ios::app) << "# the operator's own line\n"; }
  const std::string kept = *read_file(cfg->api_credentials);
  RunResult reloaded = root.maya({"load"});
  ASSERT_EQ(reloaded.status, 0) << reloaded.err;
  EXPECT_EQ(reloaded.out.find("key pair"), std::string::npos) << reloaded.out;
  ASSERT_EQ(root.maya({"unload"}).status, 0);
  RunResult started = root.maya({"load"});
  ASSERT_EQ(started.status, 0) << started.err;
  EXPECT_EQ(started.out.find("key pair"), std::string::npos) << started.out;
  EXPECT_EQ(*read_file(cfg->api_credentials), kept);
}

// `maya init --realm --etcd --zone --address`: the written file is still the commented template,
// and it loads with those values.
TEST(Init, RealmFlagsAreWrittenIntoTheConfig) {
  TempRoot root;
  RunResult r = run_maya({"init", "--root", root.path().string(), "--realm", "prod", "--etcd",
                          "http://10.0.0.5:2379", "--etcd", "http://[fd00::5]:2379", "--zone",
                          "maya-1b", "--address", "10.0.1.7"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("realm   prod (etcd http://10.0.0.5:2379 http://[fd00::5]:2379)"),
            std::string::npos)
      << r.out;
  auto cfg = config::load(root.config());
  ASSERT_TRUE(cfg.has_value()) << cfg.error().message;
  EXPECT_TRUE(cfg->in_realm());
  EXPECT_EQ(cfg->realm_name, "prod");
  EXPECT_EQ(cfg->realm_etcd,
            (std::vector<std::string>{"http://10.0.0.5:2379", "http://[fd00::5]:2379"}));
  EXPECT_EQ(cfg->host_zone, "maya-1b");
  EXPECT_EQ(cfg->host_address, "10.0.1.7");
  EXPECT_EQ(cfg->realm_lease_ttl, std::chrono::seconds(10));
  std::string text = *read_file(root.config());
  EXPECT_NE(text.find("# The realm's etcd endpoints"), std::string::npos) << text;

  // Without the flags: a host on its own, its zone the [api] zone.
  TempRoot single;
  ASSERT_EQ(run_maya({"init", "--root", single.path().string()}).status, 0);
  auto plain = config::load(single.config());
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_FALSE(plain->in_realm());
  EXPECT_EQ(plain->host_zone, plain->api_zone);
}

TEST(Init, RealmFlagMistakesWriteNothing) {
  TempRoot root;
  struct Case {
    std::vector<std::string> flags;
    std::string what;
  };
  const Case cases[] = {
      {{"--etcd", "http://10.0.0.5:2379"}, "--etcd needs --realm NAME"},
      {{"--realm", "prod"}, "--realm needs --etcd URL"},
      {{"--realm", "prod", "--etcd", "https://10.0.0.5:2379"}, "TLS to etcd is not supported yet"},
      {{"--realm", "prod", "--etcd", "http://10.0.0.5"}, "has no port"},
      {{"--zone", "eu-1a"}, "--zone: \"eu-1a\" is not the region \"maya-1\""},
      {{"--address", "host-b"}, "--address: \"host-b\" is not an IP address"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"init", "--root", root.path().string()};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    RunResult r = run_maya(args);
    EXPECT_EQ(r.status, 1) << c.what;
    EXPECT_NE(r.err.find(c.what), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(root.config())) << c.what;
    EXPECT_FALSE(fs::exists(root.path() / "var")) << c.what << ": directories were made";
  }
  RunResult help = run_maya({"init", "--help"});
  ASSERT_EQ(help.status, 0);
  for (const char* flag : {"--realm NAME", "--etcd URL", "--zone ZONE", "--address IP"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
}

TEST(Init, ExplicitConfigPathIsHonoured) {
  TempRoot root;
  fs::path custom = root.path() / "custom/dir/m.conf";
  RunResult r = run_maya({"--config", custom.string(), "init", "--root", root.path().string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(custom));
  EXPECT_FALSE(fs::exists(root.config()));
  EXPECT_TRUE(config::load(custom).has_value());
}

TEST(Cli, HelpOnEveryCommandAndVersion) {
  RunResult top = run_maya({"--help"});
  EXPECT_EQ(top.status, 0);
  for (const char* cmd : {"init", "load", "status", "unload"}) {
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
    RunResult help = run_maya({cmd, "--help"});
    EXPECT_EQ(help.status, 0) << cmd;
    EXPECT_NE(help.out.find(std::string("Usage: maya ") + cmd), std::string::npos) << help.out;
  }
  RunResult version = run_maya({"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out, "maya " MAYA_VERSION "\n");
}

TEST(Cli, MistakesGetAClearMessageAndNonZeroExit) {
  RunResult unknown = run_maya({"frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("unknown command \"frobnicate\""), std::string::npos);
  RunResult bad_flag = run_maya({"init", "--bogus"});
  EXPECT_EQ(bad_flag.status, 2);
  EXPECT_NE(bad_flag.err.find("bogus"), std::string::npos) << bad_flag.err;
  RunResult no_config = run_maya({"--config", "/nonexistent/m.conf", "status"});
  EXPECT_EQ(no_config.status, 1);
  EXPECT_NE(no_config.err.find("/nonexistent/m.conf"), std::string::npos);
  RunResult bad_output = run_maya({"--config", "/nonexistent/m.conf", "status", "-o", "yaml"});
  EXPECT_EQ(bad_output.status, 2);
  EXPECT_NE(bad_output.err.find("yaml"), std::string::npos);
}

}  // namespace
}  // namespace maya::testing
