// RealmStore against a real etcd (Debian's etcd-server, started per test on free loopback ports):
// reads, conditional writes, leases, the watch, failover between endpoints, an etcd that is
// gone, auth, and answers that are not etcd's.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <thread>

#include "lib/realm/realm_store.h"
#include "tests/realm/etcd_test_support.h"

namespace maya::realm {
namespace {

using namespace std::chrono_literals;
using testing::EtcdServer;
using testing::TcpListener;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::unique_ptr<RealmStore> open_store(EtcdOptions options) {
  auto store = open_etcd(options);
  EXPECT_TRUE(store.has_value()) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/etcd")) {
      if (std::getenv("CI")) FAIL() << "/usr/bin/etcd is missing: install etcd-server";
      GTEST_SKIP() << "/usr/bin/etcd is missing (Debian: etcd-server)";
    }
    char tmpl[] = "/tmp/maya-etcd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string why = etcd_.start(dir_ / "etcd");
    ASSERT_EQ(why, "");
    store_ = open_store({{etcd_.endpoint()}, 3000ms, "", ""});
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    etcd_.kill();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::int64_t revision_of(std::string_view key) {
    auto kv = store_->get(key);
    EXPECT_TRUE(kv.has_value() && kv->has_value()) << "no key " << key;
    return kv && *kv ? (*kv)->mod_revision : 0;
  }

  fs::path dir_;
  EtcdServer etcd_;
  std::unique_ptr<RealmStore> store_;
};

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    auto ok_ = (expr);                                   \
    ASSERT_TRUE(ok_.has_value()) << ok_.error().message; \
  } while (0)

TEST_F(EtcdStoreTest, PutGetAndListByPrefix) {
  for (const char* key : {"a/2", "a/1", "ab", "a", "b/1"}) ASSERT_OK(store_->put(key, key));
  auto missing = store_->get("a/3");
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
  auto one = store_->get("a/1");
  ASSERT_OK(one);
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->value, "a/1");
  EXPECT_GT((*one)->mod_revision, 0);
  EXPECT_EQ((*one)->lease, 0);

  auto listing = store_->list("a/");
  ASSERT_OK(listing);
  ASSERT_EQ(listing->items.size(), 2u);  // not "ab", not "a"
  EXPECT_EQ(listing->items[0].key, "a/1");
  EXPECT_EQ(listing->items[1].key, "a/2");
  EXPECT_GE(listing->revision, listing->items[1].mod_revision);
  auto everything = store_->list("");
  ASSERT_OK(everything);
  EXPECT_EQ(everything->items.size(), 5u);
  auto none = store_->list("zz/");
  ASSERT_OK(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_EQ(none->revision, listing->revision);
}

TEST_F(EtcdStoreTest, ListsMoreKeysThanOnePage) {
  for (int i = 0; i < 1203; ++i) ASSERT_OK(store_->put("many/" + std::to_string(10000 + i), "v"));
  ASSERT_OK(store_->put("manz", "not listed"));
  auto listing = store_->list("many/");
  ASSERT_OK(listing);
  ASSERT_EQ(listing->items.size(), 1203u);
  EXPECT_EQ(listing->items.front().key, "many/10000");
  EXPECT_EQ(listing->items.back().key, "many/11202");
}

TEST_F(EtcdStoreTest, CreateOnlyWhenAbsent) {
  auto first = store_->create("c", "one");
  ASSERT_OK(first);
  EXPECT_TRUE(*first);
  auto second = store_->create("c", "two");
  ASSERT_OK(second);
  EXPECT_FALSE(*second);
  auto kept = store_->get("c");
  ASSERT_OK(kept);
  EXPECT_EQ((*kept)->value, "one");
}

TEST_F(EtcdStoreTest, ReplaceRefusesAStaleRevision) {
  ASSERT_OK(store_->put("r", "v1"));
  std::int64_t v1 = revision_of("r");
  auto replaced = store_->replace("r", "v2", v1);
  ASSERT_OK(replaced);
  EXPECT_TRUE(*replaced);
  auto stale = store_->replace("r", "v3", v1);
  ASSERT_OK(stale);
  EXPECT_FALSE(*stale);
  EXPECT_EQ((*store_->get("r"))->value, "v2");
  auto gone = store_->replace("nothing-here", "v", v1);
  ASSERT_OK(gone);
  EXPECT_FALSE(*gone);
  EXPECT_FALSE(store_->get("nothing-here")->has_value());
  EXPECT_FALSE(store_->replace("r", "v", 0).has_value());  // would create: refused
}

TEST_F(EtcdStoreTest, ConditionalRemove) {
  ASSERT_OK(store_->put("d", "v1"));
  std::int64_t v1 = revision_of("d");
  ASSERT_OK(store_->put("d", "v2"));
  auto stale = store_->remove("d", v1);
  ASSERT_OK(stale);
  EXPECT_FALSE(*stale);
  EXPECT_TRUE(store_->get("d")->has_value());
  auto removed = store_->remove("d", revision_of("d"));
  ASSERT_OK(removed);
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(store_->get("d")->has_value());
  auto again = store_->remove("d");
  ASSERT_OK(again);
  EXPECT_FALSE(*again);
  ASSERT_OK(store_->put("d", "v3"));
  auto plain = store_->remove("d");
  ASSERT_OK(plain);
  EXPECT_TRUE(*plain);
}

TEST_F(EtcdStoreTest, KeysOfALeaseNotRenewedVanish) {
  auto lease = store_->grant(2s);
  ASSERT_OK(lease);
  ASSERT_OK(store_->put("l/host", "alive", *lease));
  auto created = store_->create("l/attach", "mine", *lease);
  ASSERT_OK(created);
  EXPECT_TRUE(*created);
  EXPECT_EQ((*store_->get("l/host"))->lease, *lease);
  auto ttl = store_->keep_alive(*lease);
  ASSERT_OK(ttl);
  EXPECT_GT(ttl->count(), 0);

  auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline && store_->list("l/")->items.size() > 0)
    std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(store_->list("l/")->items.empty()) << "the lease's keys outlived it";

  auto late = store_->keep_alive(*lease);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().message.find("unreachable"), std::string::npos) << late.error().message;
  EXPECT_NE(late.error().message.find("expired"), std::string::npos) << late.error().message;
  auto orphan = store_->put("l/late", "v", *lease);  // etcd refuses a put with a dead lease
  ASSERT_FALSE(orphan.has_value());
  EXPECT_NE(orphan.error().message.find("lease not found"), std::string::npos)
      << orphan.error().message;
}

TEST_F(EtcdStoreTest, RevokeRemovesTheLeasesKeys) {
  auto lease = store_->grant(60s);
  ASSERT_OK(lease);
  ASSERT_OK(store_->put("v/1", "x", *lease));
  ASSERT_OK(store_->put("v/2", "y"));
  ASSERT_OK(store_->revoke(*lease));
  auto left = store_->list("v/");
  ASSERT_OK(left);
  ASSERT_EQ(left->items.size(), 1u);
  EXPECT_EQ(left->items[0].key, "v/2");
  ASSERT_OK(store_->revoke(*lease));  // already gone: nothing to do
  EXPECT_FALSE(store_->keep_alive(*lease).has_value());
  EXPECT_FALSE(store_->grant(0s).has_value());
}

TEST_F(EtcdStoreTest, WaitChangesSeesAnotherThreadsPut) {
  auto before = store_->list("w/");
  ASSERT_OK(before);
  std::thread writer([this] {
    EXPECT_TRUE(store_->put("wx", "a sibling: not watched").has_value());
    EXPECT_TRUE(store_->put("w/1", "watched").has_value());
  });
  auto changed = store_->wait_changes("w/", before->revision, 30s);
  writer.join();
  ASSERT_OK(changed);
  EXPECT_EQ(*changed, revision_of("w/1"));

  // From that revision on nothing changes under w/: the wait ends at its timeout with `after`.
  ASSERT_OK(store_->put("wy", "elsewhere"));
  auto started = Clock::now();
  auto quiet = store_->wait_changes("w/", *changed, 300ms);
  ASSERT_OK(quiet);
  EXPECT_EQ(*quiet, *changed);
  EXPECT_LT(Clock::now() - started, 20s);
}

TEST_F(EtcdStoreTest, WaitChangesAfterACompactionSaysChanged) {
  ASSERT_OK(store_->put("k/1", "a"));
  std::int64_t first = revision_of("k/1");
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->put("k/1", std::to_string(i)));
  std::int64_t last = revision_of("k/1");
  ASSERT_TRUE(etcd_.ctl({"compact", std::to_string(last)}));
  auto changed = store_->wait_changes("k/", first - 1, 10s);
  ASSERT_OK(changed);
  EXPECT_GE(*changed, last);  // the caller lists again
}

TEST_F(EtcdStoreTest, ArbitraryBytesRoundTrip) {
  std::string key("bin/\0/\xc3\xa9t\xc3\xa9/\xff", 13);
  std::string value;
  for (int b = 0; b < 256; ++b) value += static_cast<char>(b);
  ASSERT_OK(store_->put(key, value));
  ASSERT_OK(store_->put(std::string("bin/\xff\xff", 6), ""));
  auto got = store_->get(key);
  ASSERT_OK(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->key, key);
  EXPECT_EQ((*got)->value, value);
  auto listing = store_->list(std::string("bin/\0", 5));
  ASSERT_OK(listing);
  ASSERT_EQ(listing->items.size(), 1u);
  EXPECT_EQ(listing->items[0].value, value);
  auto all = store_->list("bin/");
  ASSERT_OK(all);
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[1].value, "");
}

TEST_F(EtcdStoreTest, ManyThreadsShareOneStore) {
  auto start = store_->list("t/");
  ASSERT_OK(start);
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto made = store_->create("t/" + std::to_string(i), std::to_string(t));
        if (made && *made) ++created;
        EXPECT_TRUE(made.has_value());
      }
    });
  }
  auto changed = store_->wait_changes("t/", start->revision, 30s);
  for (auto& thread : threads) thread.join();
  ASSERT_OK(changed);
  EXPECT_GT(*changed, start->revision);
  EXPECT_EQ(created.load(), 20);  // each key created once, whoever came first
}

TEST_F(EtcdStoreTest, AKilledEtcdIsUnreachableAtOnce) {
  auto lease = store_->grant(30s);
  ASSERT_OK(lease);
  etcd_.kill();
  auto started = Clock::now();
  auto got = store_->get("a");
  ASSERT_FALSE(got.has_value());
  EXPECT_TRUE(got.error().message.starts_with("realm store unreachable: " + etcd_.endpoint()))
      << got.error().message;
  EXPECT_EQ(got.error().code, errno_code(ECONNREFUSED));
  EXPECT_LT(Clock::now() - started, 20s);
  for (auto error : {store_->keep_alive(*lease).error(), store_->put("a", "b").error(),
                     store_->wait_changes("a/", 1, 1s).error()}) {
    EXPECT_TRUE(error.message.starts_with("realm store unreachable: ")) << error.message;
    EXPECT_EQ(error.code, errno_code(ECONNREFUSED)) << error.message;
  }
}

// etcd down for a while, then back on the same ports: the same store works again by itself,
// with a fresh token (a restarted etcd forgets the ones it gave out).
TEST_F(EtcdStoreTest, AStoreWorksAgainOnceEtcdIsBack) {
  ASSERT_TRUE(etcd_.ctl({"user", "add", "root:pw"}));
  ASSERT_TRUE(etcd_.ctl({"auth", "enable"}));
  auto store = open_store({{etcd_.endpoint()}, 3000ms, "root", "pw"});
  ASSERT_OK(store->put("back/1", "before"));
  etcd_.kill();
  auto down = store->get("back/1");
  ASSERT_FALSE(down.has_value());
  EXPECT_TRUE(down.error().message.starts_with("realm store unreachable: "))
      << down.error().message;
  ASSERT_EQ(etcd_.restart(), "");
  auto back = store->get("back/1");
  ASSERT_OK(back);
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->value, "before");
  ASSERT_OK(store->put("back/2", "after"));
  auto changed = store->wait_changes("back/", (*back)->mod_revision, 10s);
  ASSERT_OK(changed);
  EXPECT_GT(*changed, (*back)->mod_revision);
}

TEST_F(EtcdStoreTest, AHungServerTimesOut) {
  TcpListener hung;
  hung.listen();  // connects, never answers
  auto store = open_store({{hung.url()}, 500ms, "", ""});
  for (auto error : {store->get("a").error(), store->wait_changes("a/", 1, 200ms).error()}) {
    EXPECT_TRUE(error.message.starts_with("realm store unreachable: " + hung.url()))
        << error.message;
    EXPECT_EQ(error.code, errno_code(ETIMEDOUT)) << error.message;
  }
}

TEST_F(EtcdStoreTest, TheNextEndpointAnswersWhenTheFirstIsDead) {
  TcpListener dead;
  dead.close();
  auto store = open_store({{dead.url(), etcd_.endpoint()}, 3000ms, "", ""});
  ASSERT_OK(store->put("e/1", "one"));
  auto got = store->get("e/1");
  ASSERT_OK(got);
  EXPECT_EQ((*got)->value, "one");
  auto changed = store->wait_changes("e/", 0, 10s);
  ASSERT_OK(changed);
  EXPECT_GT(*changed, 0);

  etcd_.kill();
  auto none = store->get("e/1");
  ASSERT_FALSE(none.has_value());
  // Both endpoints named.
  EXPECT_NE(none.error().message.find(dead.url()), std::string::npos) << none.error().message;
  EXPECT_NE(none.error().message.find(etcd_.endpoint()), std::string::npos) << none.error().message;
}

// A member that has lost its leader answers UNAVAILABLE (gRPC code 14): the next one is asked.
TEST_F(EtcdStoreTest, AMemberWithoutALeaderIsPassedOver) {
  TcpListener leaderless;
  std::string body = R"({"error":"etcdserver: no leader","message":"etcdserver: no leader",)"
                     R"("code":14})";
  leaderless.answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  auto store = open_store({{leaderless.url(), etcd_.endpoint()}, 3000ms, "", ""});
  ASSERT_OK(store->put("n/1", "v"));
  auto alone = open_store({{leaderless.url()}, 3000ms, "", ""});
  auto error = alone->get("n/1").error();
  EXPECT_TRUE(error.message.starts_with("realm store unreachable: ")) << error.message;
  EXPECT_NE(error.message.find("no leader"), std::string::npos) << error.message;
  EXPECT_EQ(error.code, errno_code(ETIMEDOUT));
}

TEST_F(EtcdStoreTest, AnswersThatAreNotEtcdsAreClearErrors) {
  TcpListener garbage;
  garbage.answer("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");
  auto store = open_store({{garbage.url()}, 3000ms, "", ""});
  auto got = store->get("a");
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("not a JSON object"), std::string::npos)
      << got.error().message;
  auto watched = store->wait_changes("a/", 1, 1s);
  ASSERT_FALSE(watched.has_value());
  EXPECT_NE(watched.error().message.find("not a JSON object"), std::string::npos)
      << watched.error().message;

  TcpListener odd;
  std::string body = R"({"kvs":[{"key":5}],"header":{"revision":"x"}})";
  odd.answer("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\nConnection: close\r\n\r\n" + body);
  auto odd_store = open_store({{odd.url()}, 3000ms, "", ""});
  for (auto error : {odd_store->get("a").error(), odd_store->list("a").error(),
                     odd_store->keep_alive(1).error()}) {
    EXPECT_NE(error.message.find("unexpected answer from " + odd.url()), std::string::npos)
        << error.message;
  }
}

TEST_F(EtcdStoreTest, EtcdsRefusalNamesTheOperation) {
  auto put = store_->put("x", "y", 12345);  // no such lease
  ASSERT_FALSE(put.has_value());
  EXPECT_TRUE(put.error().message.starts_with("realm store: put x: etcd at "))
      << put.error().message;
  EXPECT_EQ(put.error().message.find("unreachable"), std::string::npos);
}

TEST_F(EtcdStoreTest, AuthWithTheRightPasswordOnly) {
  ASSERT_TRUE(etcd_.ctl({"user", "add", "root:pw"}));
  ASSERT_TRUE(etcd_.ctl({"auth", "enable"}));
  auto store = open_store({{etcd_.endpoint()}, 3000ms, "root", "pw"});
  ASSERT_OK(store->put("s/1", "secret"));
  EXPECT_EQ((*store->get("s/1"))->value, "secret");
  auto lease = store->grant(30s);
  ASSERT_OK(lease);
  ASSERT_OK(store->keep_alive(*lease));
  auto changed = store->wait_changes("s/", 0, 10s);
  ASSERT_OK(changed);
  EXPECT_GT(*changed, 0);

  // Turning auth off and on drops every token etcd gave out (as a 5-minute idle expiry does):
  // the store's is now "invalid", and it authenticates again, for a call and for a watch.
  auto forget_tokens = [&] {
    return etcd_.ctl({"--user", "root:pw", "auth", "disable"}) && etcd_.ctl({"auth", "enable"});
  };
  ASSERT_TRUE(forget_tokens());
  ASSERT_OK(store->put("s/2", "after the change"));
  ASSERT_TRUE(forget_tokens());
  ASSERT_OK(store->wait_changes("s/", 0, 10s));

  auto wrong = open_store({{etcd_.endpoint()}, 3000ms, "root", "nope"});
  auto refused = wrong->get("s/1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("authentication failed"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("unreachable"), std::string::npos);
  auto anonymous = store_->get("s/1");  // the fixture's store has no user
  ASSERT_FALSE(anonymous.has_value());
  EXPECT_EQ(anonymous.error().message.find("unreachable"), std::string::npos);
}

TEST(EtcdOptions, BadEndpointsAreRefusedUpFront) {
  for (const char* bad : {"localhost:2379", "https://h:2379", "http://h", "http://h:0",
                          "http://h:99999", "http://:2379", "http://[::1]2379"}) {
    EXPECT_FALSE(open_etcd({{bad}, 1000ms, "", ""}).has_value()) << bad;
  }
  EXPECT_FALSE(open_etcd({{}, 1000ms, "", ""}).has_value());
  EXPECT_TRUE(
      open_etcd({{"http://[::1]:2379", "http://etcd.example:2379/"}, 1000ms, "", ""}).has_value());
}

}  // namespace
}  // namespace maya::realm
