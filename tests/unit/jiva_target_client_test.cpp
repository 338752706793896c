// The target's control API as the daemon reads it (lib/jiva/target_client.h): every answer
// survives encode → decode, the wire shape stays what the target has always sent, malformed
// answers fail with a sentence naming what is wrong, and the client over a real socket.
#include "lib/jiva/target_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <thread>

#include "lib/http/json.h"
#include "lib/http/router.h"
#include "lib/http/server.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TargetInfo full_status() {
  TargetInfo s;
  s.volume = "db";
  s.pid = 4242;
  s.iqn = "iqn.2026-11.io.maya:db";
  s.portal = "127.0.0.1:3261";
  s.started_at = "2026-11-02T10:00:00Z";
  s.size_bytes = 1ull << 34;
  s.connections = 2;
  s.sessions = 1;
  s.health = "degraded";
  s.generation = 7;
  s.replicas = {{"r1", "file:///s/db/r1", "RW", 7, 99, std::nullopt},
                {"r2", "file:///s/db/r2", "ERR", 6, 98, "EIO on write"}};
  s.rebuild = RebuildInfo{"r2", "regions", 1 << 20, 1 << 24, 1.5e8, 0.25};
  s.read_only = "the membership cannot be saved";
  s.space = SpaceInfo{1ull << 40, 1ull << 30, 99, 90, "store is 99% full"};
  s.fuse = FuseInfo{"/run/maya/targets/db.fuse", "/run/maya/targets/db.fuse/volume", 7, 12345};
  return s;
}

template <class T>
void expect_round_trip(const T& value) {
  auto back = decode<T>(encode(value));
  ASSERT_TRUE(back) << back.error().message << " in " << encode(value);
  EXPECT_EQ(*back, value) << encode(value);
}

TEST(JivaTargetClient, EveryAnswerSurvivesEncodeAndDecode) {
  expect_round_trip(full_status());
  expect_round_trip(TargetInfo{});  // every optional empty
  expect_round_trip(FuseInfo{"/m", "/m/volume", 3, 0});
  expect_round_trip(FuseInfo{"/m", "/m/volume", 3, 7, "dev_fuse"});
  expect_round_trip(FuseWithdrawn{});
  expect_round_trip(ReplicaChanges{{"r3", "r4"}, {"r1"}});
  expect_round_trip(ReplicaChanges{});
  expect_round_trip(ReplicaFaulted{"r2"});
  expect_round_trip(Rebuilding{{"r2"}});
  expect_round_trip(SnapshotTaken{"s1", "/s/db/snapshots/s1.img", std::nullopt});
  expect_round_trip(SnapshotTaken{"s1", "/s/db/snapshots/s1.img", true});
  expect_round_trip(SnapshotProgress{"s1", true, 10, 20, false, std::nullopt});
  expect_round_trip(SnapshotProgress{"s1", false, 20, 20, true, "ENOSPC"});
  expect_round_trip(Reverted{"s1"});
  expect_round_trip(Resized{64ull << 30, 1ull << 30});
  expect_round_trip(Resized{});
}

TEST(JivaTargetClient, TheWireShapeIsTheOneTheTargetAlwaysSent) {
  // Empty optionals are null, not absent; keys sorted (nlohmann's objects are ordered maps).
  EXPECT_EQ(encode(TargetInfo{}),
            R"({"connections":0,"fuse":null,"generation":0,"health":"unknown","iqn":"",)"
            R"("last_rebuild":null,"pid":0,)"
            R"("portal":"","read_only":null,"rebuild":null,"replicas":[],"sessions":0,)"
            R"("size_bytes":0,"space":null,"started_at":"","volume":""})");
  EXPECT_EQ(encode(FuseWithdrawn{}), R"({"fuse":null})");
  EXPECT_EQ(encode(SnapshotTaken{"s", "f", std::nullopt}), R"({"file":"f","snapshot":"s"})");
  EXPECT_EQ(encode(SnapshotTaken{"s", "f", false}),
            R"({"file":"f","reflinked":false,"snapshot":"s"})");
  EXPECT_EQ(encode(SnapshotProgress{"s", true, 1, 2, false, std::nullopt}),
            R"({"copying":true,"done_bytes":1,"error":null,"reflinked":false,"snapshot":"s",)"
            R"("total_bytes":2})");
  EXPECT_EQ(encode(ReplicaChanges{{"r2"}, {}}), R"({"added":["r2"],"removed":[]})");
  EXPECT_EQ(encode(Rebuilding{}), R"({"rebuilding":[]})");
  EXPECT_EQ(encode(ReplicaFaulted{"r1"}), R"({"failed":"r1"})");
  EXPECT_EQ(encode(Reverted{"s"}), R"({"reverted":"s"})");
  EXPECT_EQ(encode(Resized{2048, 1024}), R"({"previous_bytes":1024,"size_bytes":2048})");
  EXPECT_EQ(encode(FuseInfo{"/m", "/m/v", 5, 9, "io_uring"}),
            R"({"fd":5,"file":"/m/v","mountpoint":"/m","requests":9,"transport":"io_uring"})");
  // Bytes that are not UTF-8 (a name echoed back) become U+FFFD instead of an exception.
  EXPECT_EQ(encode(Reverted{"a\xff"}), "{\"reverted\":\"a\xef\xbf\xbd\"}");
}

TEST(JivaTargetClient, AbsentKeysTakeTheirDefaults) {
  // A target that says little (an older one, or a test's fake) still decodes.
  auto s = decode<TargetInfo>(R"({"portal":"127.0.0.1:3299","extra":{"ignored":true}})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->portal, "127.0.0.1:3299");
  EXPECT_EQ(s->health, "unknown");
  EXPECT_TRUE(s->replicas.empty());
  EXPECT_FALSE(s->fuse);
  auto f = decode<FuseInfo>(R"({"file":"/m/volume"})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fd, -1);  // the target did not say which descriptor holds FUSE
  auto p = decode<SnapshotProgress>("{}");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->copying);
  EXPECT_FALSE(p->error);
}

// The error of decoding `body` as T.
template <class T>
std::string decode_error(std::string_view body) {
  auto decoded = decode<T>(body);
  EXPECT_FALSE(decoded) << body;
  return decoded ? "" : decoded.error().message;
}

TEST(JivaTargetClient, MalformedAnswersSayWhatIsWrong) {
  EXPECT_EQ(decode_error<TargetInfo>("<html>502</html>"), "the answer is not JSON");
  EXPECT_EQ(decode_error<TargetInfo>(""), "the answer is not JSON");
  EXPECT_EQ(decode_error<TargetInfo>("[1,2]"), "the answer is an array, not an object");
  EXPECT_EQ(decode_error<Reverted>("\"s1\""), "the answer is a string, not an object");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"replicas":{"r1":{}}})"),
            "replicas is an object, not an array");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"replicas":[{"id":"r1"},{"generation":"7"}]})"),
            "replicas[1].generation is a string, not an unsigned integer up to "
            "18446744073709551615");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"replicas":[7]})"),
            "replicas[0] is the number 7, not an object");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"sessions":-1})"),
            "sessions is the number -1, not an unsigned integer up to 18446744073709551615");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"space":{"used_percent":4294967296}})"),
            "space.used_percent is the number 4294967296, not an unsigned integer up to "
            "4294967295");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"size_bytes":1.5})"),
            "size_bytes is the number 1.5, not an unsigned integer up to 18446744073709551615");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"health":null})"), "health is null, not a string");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"rebuild":{"rate_bytes_per_s":"fast"}})"),
            "rebuild.rate_bytes_per_s is a string, not a number");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"fuse":{"fd":2147483648}})"),
            "fuse.fd is the number 2147483648, not an integer up to 2147483647");
  EXPECT_EQ(decode_error<TargetInfo>(R"({"read_only":false})"),
            "read_only is a boolean, not a string");
  EXPECT_EQ(decode_error<Rebuilding>(R"({"rebuilding":["r1",2]})"),
            "rebuilding[1] is the number 2, not a string");
  EXPECT_EQ(decode_error<SnapshotProgress>(R"({"copying":"yes"})"),
            "copying is a string, not a boolean");
  EXPECT_EQ(decode_error<SnapshotTaken>(R"({"reflinked":1})"),
            "reflinked is the number 1, not a boolean");
  EXPECT_EQ(decode_error<Resized>(R"({"size_bytes":"1G"})"),
            "size_bytes is a string, not an unsigned integer up to 18446744073709551615");
}

TEST(JivaTargetClient, RoutesAndPortals) {
  EXPECT_EQ(target_routes::path(target_routes::kSnapshot, "s1"), "/v1/snapshots/s1");
  EXPECT_EQ(target_routes::path(target_routes::kSnapshotRevert, "s1"), "/v1/snapshots/s1/revert");
  EXPECT_EQ(target_routes::path(target_routes::kReplicaFault, "r2"), "/v1/replicas/r2/fault");
  EXPECT_EQ(target_routes::path(target_routes::kStatus, "x"), "/v1/status");
  EXPECT_EQ(portal_port("127.0.0.1:3261"), std::uint16_t{3261});
  EXPECT_EQ(portal_port("[::1]:65535"), std::uint16_t{65535});
  EXPECT_EQ(portal_port("127.0.0.1"), std::nullopt);
  EXPECT_EQ(portal_port("127.0.0.1:"), std::nullopt);
  EXPECT_EQ(portal_port("127.0.0.1:0"), std::nullopt);
  EXPECT_EQ(portal_port("127.0.0.1:65536"), std::nullopt);
  EXPECT_EQ(portal_port("127.0.0.1:32x"), std::nullopt);
}

// A target stand-in on a temp socket: a router with canned answers.
class JivaTargetClientSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-tc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (server_) {
      boost::asio::post(io_, [this] { server_->close(); });
      loop_.join();
      server_.reset();
    }
    fs::remove_all(dir_);
  }
  void start(http::Router router) {
    auto server = http::UnixServer::listen(io_, socket(), {}, std::move(router));
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    loop_ = std::thread([this] { io_.run(); });
  }
  fs::path socket() const { return dir_ / "v.sock"; }
  TargetClient client() const { return TargetClient(socket(), "v"); }

  fs::path dir_;
  boost::asio::io_context io_;
  std::unique_ptr<http::UnixServer> server_;
  std::thread loop_;
};

http::Response body(int status, std::string text) {
  return http::Response{status, std::move(text), "application/json"};
}

TEST_F(JivaTargetClientSocket, TheClientAsksTheSharedRoutesAndReadsTheAnswers) {
  http::Router router(http::json_error);
  std::string seen;
  auto record = [&seen](const http::Request& r) { seen += r.method + " " + r.target + ";"; };
  router.add("GET", std::string(target_routes::kStatus), [&](const http::Request& r, auto&) {
    record(r);
    return body(200, encode(full_status()));
  });
  router.add("POST", std::string(target_routes::kFuse), [&](const http::Request& r, auto&) {
    record(r);
    return body(200, encode(*full_status().fuse));
  });
  router.add("DELETE", std::string(target_routes::kFuse), [&](const http::Request& r, auto&) {
    record(r);
    return body(200, encode(FuseWithdrawn{}));
  });
  router.add("POST", std::string(target_routes::kReplicasReload),
             [&](const http::Request& r, auto&) {
               record(r);
               return body(200, encode(ReplicaChanges{{"r3"}, {}}));
             });
  router.add("POST", std::string(target_routes::kReplicaFault),
             [&](const http::Request& r, const std::string& id) {
               record(r);
               return body(200, encode(ReplicaFaulted{id}));
             });
  router.add("POST", std::string(target_routes::kRebuild), [&](const http::Request& r, auto&) {
    record(r);
    return body(200, encode(Rebuilding{{"r2"}}));
  });
  router.add("POST", std::string(target_routes::kResize), [&](const http::Request& r, auto&) {
    record(r);
    return body(200, encode(Resized{2 << 20, 1 << 20}));
  });
  router.add("POST", std::string(target_routes::kSnapshot),
             [&](const http::Request& r, const std::string& name) {
               record(r);
               return body(200, encode(SnapshotTaken{name, "/f", std::nullopt}));
             });
  router.add("GET", std::string(target_routes::kSnapshot),
             [&](const http::Request& r, const std::string& name) {
               record(r);
               return body(200, encode(SnapshotProgress{name, false, 4, 4, true, std::nullopt}));
             });
  router.add("POST", std::string(target_routes::kSnapshotRevert),
             [&](const http::Request& r, const std::string& name) {
               record(r);
               return body(200, encode(Reverted{name}));
             });
  start(std::move(router));
  const TargetClient c = client();

  auto status = c.status(5s);
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(*status, full_status());
  auto fuse = c.expose_fuse();
  ASSERT_TRUE(fuse) << fuse.error().message;
  EXPECT_EQ(fuse->fd, 7);
  EXPECT_TRUE(c.withdraw_fuse());
  auto changes = c.reload_replicas();
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->added, std::vector<std::string>{"r3"});
  EXPECT_TRUE(c.fault_replica("r2"));
  auto rebuilding = c.rebuild();
  ASSERT_TRUE(rebuilding);
  EXPECT_EQ(*rebuilding, std::vector<std::string>{"r2"});
  auto resized = c.resize();
  ASSERT_TRUE(resized) << resized.error().message;
  EXPECT_EQ(*resized, (Resized{2 << 20, 1 << 20}));
  auto taken = c.take_snapshot("s1", false);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->snapshot, "s1");
  EXPECT_FALSE(taken->reflinked);
  auto progress = c.snapshot_progress("s1");
  ASSERT_TRUE(progress);
  EXPECT_TRUE(progress->reflinked);
  EXPECT_TRUE(c.take_snapshot("s2", true));
  EXPECT_TRUE(c.revert_snapshot("s1"));
  EXPECT_EQ(c.probe(5s), std::optional<std::uint16_t>(3261));
  EXPECT_EQ(
      seen,
      "GET /v1/status;POST /v1/frontend/fuse;DELETE /v1/frontend/fuse;"
      "POST /v1/replicas/reload;POST /v1/replicas/r2/fault;POST /v1/rebuild;"
      "POST /v1/resize;POST /v1/snapshots/s1?wait=false;GET /v1/snapshots/s1;POST /v1/snapshots/s2;"
      "POST /v1/snapshots/s1/revert;GET /v1/status;");
}

TEST_F(JivaTargetClientSocket, RefusalsAndGarbageBecomeClearErrors) {
  http::Router router(http::json_error);
  router.add("GET", std::string(target_routes::kStatus),
             [](const http::Request&, auto&) { return body(200, R"({"replicas":[{"mode":1}]})"); });
  router.add("POST", std::string(target_routes::kFuse), [](const http::Request&, auto&) {
    return http::json_error(409, "volume v has 1 iSCSI session(s)");
  });
  router.add("DELETE", std::string(target_routes::kFuse),
             [](const http::Request&, auto&) { return body(500, "not json at all"); });
  router.add("POST", std::string(target_routes::kRebuild),
             [](const http::Request&, auto&) { return body(200, "[]"); });
  start(std::move(router));
  const TargetClient c = client();

  auto status = c.status();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message,
            "the target of volume v answered GET /v1/status with garbage: replicas[0].mode is "
            "the number 1, not a string");
  // A status that does not decode still proves the target answers; it names no port.
  EXPECT_EQ(c.probe(5s), std::optional<std::uint16_t>(0));
  auto fuse = c.expose_fuse();
  ASSERT_FALSE(fuse);
  EXPECT_EQ(fuse.error().message, "volume v has 1 iSCSI session(s)");  // the target's sentence
  auto withdrawn = c.withdraw_fuse();
  ASSERT_FALSE(withdrawn);
  EXPECT_EQ(withdrawn.error().message, "not json at all");  // no {"error"}: the body itself
  auto rebuilt = c.rebuild();
  ASSERT_FALSE(rebuilt);
  EXPECT_EQ(rebuilt.error().message, "the target of volume v answered garbage");
  auto unknown = c.snapshot_progress("s1");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "no such endpoint: GET /v1/snapshots/s1");
}

TEST_F(JivaTargetClientSocket, ATargetThatIsNotThereDoesNotAnswer) {
  const TargetClient c = client();  // nothing listens on the socket
  auto status = c.status(1s);
  ASSERT_FALSE(status);
  EXPECT_TRUE(status.error().message.starts_with("the target of volume v does not answer: "))
      << status.error().message;
  EXPECT_EQ(c.probe(1s), std::nullopt);
  auto of = TargetClient::of(dir_, "db").status(1s);
  ASSERT_FALSE(of);
  EXPECT_TRUE(of.error().message.starts_with("the target of volume db does not answer"));
}

}  // namespace
}  // namespace maya::jiva
