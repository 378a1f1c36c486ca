#include "fcr/store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using fcr::PayloadPtr;
using fcr::Released;
using fcr::Store;
using fcr::StoreConfig;
using fcr::StoreStats;

// A payload holding text; optionally counts its destructions.
struct TextPayload final : fcr::Payload {
  explicit TextPayload(std::string t, std::atomic<int>* destroyed = nullptr)
      : text(std::move(t)), destroyed_(destroyed) {}
  ~TextPayload() override {
    if (destroyed_ != nullptr) ++*destroyed_;
  }
  std::string text;

 private:
  std::atomic<int>* destroyed_;
};

PayloadPtr make(std::string text, std::atomic<int>* destroyed = nullptr) {
  return std::make_shared<const TextPayload>(std::move(text), destroyed);
}

std::string text_of(const PayloadPtr& p) { return p ? static_cast<const TextPayload&>(*p).text : "<null>"; }

// Built with append: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string numbered(std::string_view prefix, std::uint64_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::size_t charge_of(std::string_view key, std::size_t payload) { return payload + key.size() + fcr::kEntryOverhead; }

// Every entry that ever got in is either still held or was counted leaving.
void expect_balanced(const StoreStats& s) {
  EXPECT_EQ(s.inserts, s.entries + s.evictions + s.expirations + s.deletes);
}

class StoreTest : public ::testing::Test {
 protected:
  double now = 1000.0;  // the fake clock
  Released released;

  std::unique_ptr<Store> make_store(StoreConfig config = {}) {
    return std::make_unique<Store>(config, [this] { return now; });
  }
  bool put(Store& s, std::uint32_t ns, std::string_view key, const std::string& text, double ttl = 0) {
    return s.put(ns, key, make(text), text.size(), ttl, released);
  }
  std::string get(Store& s, std::uint32_t ns, std::string_view key) { return text_of(s.get(ns, key, released)); }
};

TEST_F(StoreTest, PutGetRoundtrip) {
  auto store = make_store({.shards = 4});
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "key", "value"));
  EXPECT_EQ(get(*store, ns, "key"), "value");
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, charge_of("key", 5));
  EXPECT_EQ(s.inserts, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 0u);
}

TEST_F(StoreTest, ReplaceUpdatesValueCountAndBytes) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "one"));
  ASSERT_TRUE(put(*store, ns, "k", "three!"));
  EXPECT_EQ(get(*store, ns, "k"), "three!");
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, charge_of("k", 6));
  EXPECT_EQ(s.inserts, 1u);
  EXPECT_EQ(s.updates, 1u);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(text_of(released[0]), "one");
  EXPECT_EQ(store->clear(ns), 1u);  // the live count was not doubled
}

TEST_F(StoreTest, MissesAreCounted) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  const auto b = store->namespace_id("b");
  EXPECT_EQ(store->get(a, "nope", released), nullptr);
  ASSERT_TRUE(put(*store, a, "k", "v"));
  EXPECT_EQ(store->get(b, "k", released), nullptr);
  const auto s = store->stats();
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.collisions, 0u);
}

TEST_F(StoreTest, TtlExpiresAtTheBoundary) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  now = 100.0;
  ASSERT_TRUE(put(*store, ns, "k", "v", 10.0));
  now = 109.999;
  EXPECT_EQ(get(*store, ns, "k"), "v");
  now = 110.0;
  EXPECT_EQ(get(*store, ns, "k"), "<null>");
  const auto s = store->stats();
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.misses, 1u);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(text_of(released[0]), "v");
  EXPECT_EQ(store->clear(ns), 0u);
}

TEST_F(StoreTest, NonPositiveTtlNeverExpires) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "zero", "z", 0.0));
  ASSERT_TRUE(put(*store, ns, "negative", "n", -5.0));
  now += 1e9;
  EXPECT_EQ(get(*store, ns, "zero"), "z");
  EXPECT_EQ(get(*store, ns, "negative"), "n");
  EXPECT_EQ(store->sweep(100, released), 0u);
}

TEST_F(StoreTest, NamespacesIsolateTheSameKey) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  const auto b = store->namespace_id("b");
  ASSERT_TRUE(put(*store, a, "k", "A"));
  ASSERT_TRUE(put(*store, b, "k", "B"));
  EXPECT_EQ(get(*store, a, "k"), "A");
  EXPECT_EQ(get(*store, b, "k"), "B");
  EXPECT_EQ(store->erase(a, "k", released), 1u);
  EXPECT_EQ(get(*store, a, "k"), "<null>");
  EXPECT_EQ(get(*store, b, "k"), "B");
}

TEST_F(StoreTest, ClearIsLazyReturnsLiveCountAndSparesOtherNamespaces) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  const auto b = store->namespace_id("b");
  for (const char* k : {"1", "2", "3"}) ASSERT_TRUE(put(*store, a, k, "x"));
  for (const char* k : {"1", "2"}) ASSERT_TRUE(put(*store, b, k, "y"));
  EXPECT_EQ(store->clear(a), 3u);
  EXPECT_EQ(store->clear(a), 0u);
  EXPECT_EQ(store->stats().entries, 5u);  // O(1): nothing reclaimed yet
  for (const char* k : {"1", "2", "3"}) EXPECT_EQ(get(*store, a, k), "<null>");
  for (const char* k : {"1", "2"}) EXPECT_EQ(get(*store, b, k), "y");
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 2u);  // the gets reclaimed the cleared entries
  EXPECT_EQ(released.size(), 3u);
  expect_balanced(s);
  EXPECT_EQ(store->clear(b), 2u);
}

TEST_F(StoreTest, PutAfterClearWorks) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "old"));
  EXPECT_EQ(store->clear(ns), 1u);
  ASSERT_TRUE(put(*store, ns, "k", "new"));
  EXPECT_EQ(get(*store, ns, "k"), "new");
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.inserts, 2u);  // replacing a dead entry is an insert, not an update
  EXPECT_EQ(s.updates, 0u);
  EXPECT_EQ(store->clear(ns), 1u);
}

TEST_F(StoreTest, EraseReturnsOneOnlyForLiveEntries) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "v"));
  EXPECT_EQ(store->erase(ns, "k", released), 1u);
  EXPECT_EQ(store->erase(ns, "k", released), 0u);
  EXPECT_EQ(store->erase(ns, "missing", released), 0u);

  ASSERT_TRUE(put(*store, ns, "expiring", "v", 1.0));
  now += 2.0;
  EXPECT_EQ(store->erase(ns, "expiring", released), 0u);

  ASSERT_TRUE(put(*store, ns, "cleared", "v"));
  store->clear(ns);
  EXPECT_EQ(store->erase(ns, "cleared", released), 0u);

  const auto s = store->stats();
  EXPECT_EQ(s.entries, 0u);  // dead ones were reclaimed anyway
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(released.size(), 3u);
  expect_balanced(s);
}

TEST_F(StoreTest, MaxEntriesEvictsLeastRecentlyUsed) {
  auto store = make_store({.max_entries = 3, .shards = 1, .policy = fcr::EvictionPolicy::lru});
  const auto ns = store->namespace_id("a");
  for (const char* k : {"k1", "k2", "k3"}) ASSERT_TRUE(put(*store, ns, k, k));
  EXPECT_EQ(get(*store, ns, "k1"), "k1");  // k2 is now the least recently used
  ASSERT_TRUE(put(*store, ns, "k4", "k4"));
  EXPECT_EQ(get(*store, ns, "k2"), "<null>");
  EXPECT_EQ(get(*store, ns, "k1"), "k1");
  EXPECT_EQ(get(*store, ns, "k3"), "k3");
  EXPECT_EQ(get(*store, ns, "k4"), "k4");
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.evictions, 1u);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(text_of(released[0]), "k2");
  EXPECT_EQ(store->clear(ns), 3u);
}

TEST_F(StoreTest, MaxBytesIsNeverExceeded) {
  constexpr std::size_t kMax = 4096;
  auto store = make_store({.max_bytes = kMax, .shards = 4});
  const auto ns = store->namespace_id("a");
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string key = numbered("key", rng() % 200);
    ASSERT_TRUE(put(*store, ns, key, std::string(rng() % 400, 'x')));
    ASSERT_LE(store->stats().bytes, kMax) << "after put #" << i;
  }
  const auto s = store->stats();
  EXPECT_GT(s.evictions, 0u);
  expect_balanced(s);
}

TEST_F(StoreTest, OversizedEntryIsRejected) {
  auto store = make_store({.max_bytes = 2000, .shards = 2});  // 1000 bytes per shard
  const auto ns = store->namespace_id("a");
  const std::size_t exact = 1000 - fcr::kEntryOverhead - 1;
  EXPECT_TRUE(store->put(ns, "k", make("fits"), exact, 0, released));
  EXPECT_EQ(get(*store, ns, "k"), "fits");
  EXPECT_FALSE(store->put(ns, "k", make("too big"), exact + 1, 0, released));
  EXPECT_FALSE(store->put(ns, "other", make("huge"), std::numeric_limits<std::size_t>::max(), 0, released));
  // The superseded value is gone; rejected payloads are handed back too.
  EXPECT_EQ(get(*store, ns, "k"), "<null>");
  EXPECT_EQ(released.size(), 3u);
  const auto s = store->stats();
  EXPECT_EQ(s.rejections, 2u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  expect_balanced(s);
}

TEST_F(StoreTest, PayloadsLeaveOnlyThroughReleased) {
  std::atomic<int> destroyed{0};
  auto store = make_store({.max_entries = 2, .shards = 1});
  const auto ns = store->namespace_id("a");
  auto put_counted = [&](std::string_view key, double ttl = 0) {
    return store->put(ns, key, make(std::string(key), &destroyed), 1, ttl, released);
  };
  ASSERT_TRUE(put_counted("a"));
  ASSERT_TRUE(put_counted("a"));  // replaced
  EXPECT_EQ(released.size(), 1u);
  ASSERT_TRUE(put_counted("b"));
  ASSERT_TRUE(put_counted("c"));  // evicts the older "a"
  EXPECT_EQ(released.size(), 2u);
  EXPECT_EQ(store->erase(ns, "b", released), 1u);  // deleted
  EXPECT_EQ(released.size(), 3u);
  ASSERT_TRUE(put_counted("d", 1.0));
  now += 5.0;
  EXPECT_EQ(store->get(ns, "d", released), nullptr);  // expired
  EXPECT_EQ(released.size(), 4u);
  EXPECT_EQ(destroyed.load(), 0);  // the store destroyed none itself
  released.clear();
  EXPECT_EQ(destroyed.load(), 4);
  EXPECT_EQ(store->clear_all(released), 1u);
  EXPECT_EQ(destroyed.load(), 4);
  released.clear();
  EXPECT_EQ(destroyed.load(), 5);
}

TEST_F(StoreTest, SweepReclaimsExpiredAndClearedEntries) {
  auto store = make_store({.shards = 1});
  const auto ns = store->namespace_id("a");
  const auto gone = store->namespace_id("gone");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(put(*store, ns, numbered("ttl", i), "v", 10.0));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(put(*store, ns, numbered("keep", i), "v"));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(put(*store, gone, numbered("c", i), "v"));
  EXPECT_EQ(store->sweep(100, released), 0u);
  store->clear(gone);
  now += 20.0;
  EXPECT_EQ(store->sweep(4, released), 4u);  // budget per shard
  EXPECT_EQ(store->sweep(100, released), 3u);
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes, 3 * charge_of("keep0", 1));
  EXPECT_EQ(s.expirations, 5u);
  EXPECT_EQ(s.deletes, 2u);
  EXPECT_EQ(released.size(), 7u);
  expect_balanced(s);
  EXPECT_EQ(store->clear(ns), 3u);
}

TEST_F(StoreTest, PutReclaimsDeadEntriesAtTheColdEnd) {
  auto store = make_store({.shards = 1});
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "old", "v", 1.0));
  now += 2.0;
  ASSERT_TRUE(put(*store, ns, "new", "v"));
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.expirations, 1u);
}

TEST_F(StoreTest, ClearAllRemovesEverythingAndCountsLiveOnes) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  const auto b = store->namespace_id("b");
  for (const char* k : {"1", "2", "3"}) ASSERT_TRUE(put(*store, a, k, "x"));
  ASSERT_TRUE(put(*store, a, "exp", "x", 1.0));
  ASSERT_TRUE(put(*store, b, "cleared", "x"));
  store->clear(b);
  now += 2.0;
  EXPECT_EQ(store->clear_all(released), 3u);
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(released.size(), 5u);
  expect_balanced(s);
  EXPECT_EQ(store->clear(a), 0u);
  ASSERT_TRUE(put(*store, a, "1", "again"));
  EXPECT_EQ(get(*store, a, "1"), "again");
}

TEST_F(StoreTest, StatsCountersAddUp) {
  auto store = make_store({.max_entries = 8, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(put(*store, ns, numbered("k", i), "v"));  // 2 evicted
  ASSERT_TRUE(put(*store, ns, "k9", "w"));                                                  // update
  EXPECT_EQ(get(*store, ns, "k9"), "w");
  EXPECT_EQ(get(*store, ns, "k0"), "<null>");
  EXPECT_EQ(store->erase(ns, "k5", released), 1u);
  const auto s = store->stats();
  EXPECT_EQ(s.inserts, 10u);
  EXPECT_EQ(s.updates, 1u);
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.deletes, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 7u);
  EXPECT_EQ(s.rejections, 0u);
  EXPECT_EQ(s.collisions, 0u);
  expect_balanced(s);
}

// Every key gets the same digest: the store must still never answer one key
// with another's payload (SPEC section 5).
TEST_F(StoreTest, DigestCollisionIsAMissNeverAnotherKeysPayload) {
  StoreConfig config;
  config.max_bytes = 1 << 20;
  config.shards = 1;
  config.digest = [](std::uint32_t, std::string_view) noexcept { return fcr::Digest{7, 7}; };
  auto store = make_store(config);
  const auto ns = store->namespace_id("");
  ASSERT_TRUE(put(*store, ns, "GET /a", "payload of a"));
  EXPECT_EQ(get(*store, ns, "GET /b"), "<null>");  // same digest, other key: a miss
  EXPECT_EQ(get(*store, ns, "GET /a"), "payload of a");
  ASSERT_TRUE(put(*store, ns, "GET /b", "payload of b"));  // one entry per digest
  EXPECT_EQ(get(*store, ns, "GET /b"), "payload of b");
  EXPECT_EQ(get(*store, ns, "GET /a"), "<null>");
  EXPECT_EQ(store->erase(ns, "GET /a", released), 0u);
  EXPECT_GE(store->stats().collisions, 2u);
}

// With the real digest, many keys (and the same keys across namespaces) never
// alias one another.
TEST_F(StoreTest, DistinctKeysAreIndependent) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  const auto b = store->namespace_id("b");
  for (int i = 0; i < 5000; ++i) {
    const std::string k = numbered("/items/", i);
    ASSERT_TRUE(put(*store, a, k, "a" + k));
    ASSERT_TRUE(put(*store, b, k, "b" + k));
  }
  for (int i = 0; i < 5000; ++i) {
    const std::string k = numbered("/items/", i);
    ASSERT_EQ(get(*store, a, k), "a" + k);
    ASSERT_EQ(get(*store, b, k), "b" + k);
  }
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 10000u);
  EXPECT_EQ(s.collisions, 0u);
  EXPECT_EQ(s.evictions, 0u);
}

TEST_F(StoreTest, NamespaceIdsAreStableAndBounded) {
  auto store = make_store();
  const auto a = store->namespace_id("a");
  EXPECT_EQ(store->namespace_id("b"), a + 1);
  EXPECT_EQ(store->namespace_id("a"), a);
  for (int i = 2; i < 65536; ++i) store->namespace_id(numbered("ns", i));
  EXPECT_THROW(store->namespace_id("one too many"), std::length_error);
  EXPECT_EQ(store->namespace_id("a"), a);
  EXPECT_THROW(store->get(70000, "k", released), std::out_of_range);
}

TEST_F(StoreTest, ShardCountIsRoundedToAPowerOfTwo) {
  EXPECT_EQ(make_store({.shards = 5})->config().shards, 8u);
  EXPECT_EQ(make_store({.shards = 0})->config().shards, 1u);
  EXPECT_EQ(make_store({.shards = 16})->config().shards, 16u);
}

// Four writers on disjoint keys (tight budget, so eviction runs too) plus a
// thread that clears another namespace and sweeps; each writer checks that it
// only ever reads back its own latest value.
TEST(StoreConcurrency, DisjointWritersStayConsistent) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 256;
  constexpr int kOps = 20000;
  Store store({.max_bytes = 64 * 1024, .shards = 8});
  const auto ns = store.namespace_id("main");
  const auto churn = store.namespace_id("churn");
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> gets{0};

  auto writer = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t));
    std::vector<std::string> latest(kKeys);  // "" = erased / never put
    Released released;
    std::uint64_t my_gets = 0;
    for (int i = 0; i < kOps; ++i) {
      const int k = static_cast<int>(rng() % kKeys);
      const std::string key = numbered("t", t) + numbered("/", k);
      const unsigned op = rng() % 10;
      if (op < 4) {
        latest[k] = key + numbered("#", i);
        ASSERT_TRUE(store.put(ns, key, make(latest[k]), latest[k].size(), 0, released));
      } else if (op < 9) {
        ++my_gets;
        const PayloadPtr p = store.get(ns, key, released);
        if (latest[k].empty()) {
          ASSERT_EQ(p, nullptr);
        } else if (p) {  // absent is fine: it may have been evicted
          ASSERT_EQ(text_of(p), latest[k]);
        }
      } else {
        store.erase(ns, key, released);
        latest[k].clear();
      }
      if (released.size() > 64) released.clear();
    }
    gets += my_gets;
  };
  auto janitor = [&] {
    Released released;
    for (int i = 0; !stop; ++i) {
      store.put(churn, numbered("c", i % 64), make("c"), 1, 0, released);
      if (i % 16 == 0) store.clear(churn);
      if (i % 32 == 0) store.sweep(8, released);
      (void)store.stats();
      released.clear();
    }
  };

  std::thread side(janitor);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(writer, t);
  for (auto& th : threads) th.join();
  stop = true;
  side.join();

  Released released;
  store.clear(churn);
  store.sweep(std::numeric_limits<std::size_t>::max(), released);
  const auto s = store.stats();
  EXPECT_EQ(s.hits + s.misses, gets.load());
  EXPECT_LE(s.bytes, 64u * 1024u);
  EXPECT_GT(s.evictions, 0u);  // the budget was tight enough to matter
  expect_balanced(s);
  EXPECT_EQ(s.collisions, 0u);
  // Everything left is live in "main", so both views of the count agree.
  EXPECT_EQ(store.clear(ns), s.entries);
  EXPECT_EQ(store.clear_all(released), 0u);
  EXPECT_EQ(store.stats().entries, 0u);
}

}  // namespace
