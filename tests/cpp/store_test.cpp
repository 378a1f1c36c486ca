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

TEST_F(StoreTest, OnlyAnEntryLargerThanMaxBytesIsRejected) {
  auto store = make_store({.max_bytes = 2000, .shards = 2});  // a share of 1000 bytes per shard
  const auto ns = store->namespace_id("a");
  const std::size_t exact = 2000 - fcr::kEntryOverhead - 1;  // with the key: max_bytes itself
  EXPECT_TRUE(store->put(ns, "k", make("fits"), exact, 0, released));
  EXPECT_EQ(get(*store, ns, "k"), "fits");
  EXPECT_EQ(store->stats().bytes, 2000u);
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

// Keys "<shard>/<name>": the test decides which shard holds each entry.
fcr::Digest digest_by_prefix(std::uint32_t ns, std::string_view key) noexcept {
  fcr::Digest d = fcr::hash128(key, ns);
  d.hi = static_cast<std::uint64_t>(key.front() - '0');
  return d;
}

// MemoryBackend(max_bytes=64 MiB) has a share of 4 MiB per shard, and
// max_body_bytes is 8 MiB: an entry larger than a share but within max_bytes
// is stored, read back, and the store stays within max_bytes.
TEST_F(StoreTest, EntryLargerThanAShardsShareIsStored) {
  constexpr std::size_t kMax = 64 * 1024;
  auto store = make_store({.max_bytes = kMax, .shards = 16});  // 4 KiB shares
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(put(*store, ns, numbered("small", i), std::string(100, 's')));
  ASSERT_GT(store->stats().bytes, kMax - kMax / 8);  // full, or nearly
  const std::string large(24 * 1024, 'L');
  ASSERT_TRUE(put(*store, ns, "large", large));
  EXPECT_EQ(get(*store, ns, "large"), large);
  const auto s = store->stats();
  EXPECT_LE(s.bytes, kMax);
  EXPECT_EQ(s.rejections, 0u);
  expect_balanced(s);
}

// Mixed sizes up to max_bytes / 2 (eight times a share), one put at a time:
// every put is stored and the total never exceeds max_bytes.
TEST_F(StoreTest, MixedSizesUpToMaxBytesKeepTheBudget) {
  constexpr std::size_t kMax = 64 * 1024;
  for (const auto policy : {fcr::EvictionPolicy::s3fifo, fcr::EvictionPolicy::lru, fcr::EvictionPolicy::sieve}) {
    auto store = make_store({.max_bytes = kMax, .shards = 16, .policy = policy});
    const auto ns = store->namespace_id("a");
    std::mt19937 rng(11);
    std::size_t large = 0;
    for (int i = 0; i < 5000; ++i) {
      const std::string key = numbered("key", rng() % 500);
      // Mostly small entries, one in eight up to half of the store.
      const std::size_t size = rng() % 8 == 0 ? rng() % (kMax / 2) : rng() % 400;
      large += size > kMax / 16 ? 1 : 0;
      ASSERT_TRUE(store->put(ns, key, make(key), size, 0, released)) << "put #" << i;
      ASSERT_NE(store->get(ns, key, released), nullptr) << "put #" << i;
      ASSERT_LE(store->stats().bytes, kMax) << "after put #" << i;
      released.clear();
    }
    const auto s = store->stats();
    EXPECT_GT(large, 100u);
    EXPECT_GT(s.evictions, 0u);
    EXPECT_GT(s.hits, 0u);
    EXPECT_EQ(s.rejections, 0u);
    expect_balanced(s);
  }
}

// A large entry makes room in every shard, each down to an equal share of
// what is left: its own shard is not flushed and no other shard is emptied.
TEST_F(StoreTest, LargeEntryEvictsAcrossShardsEvenly) {
  StoreConfig config;
  config.max_bytes = 16000;  // four shares of 4000 bytes
  config.shards = 4;
  config.digest = digest_by_prefix;
  auto store = make_store(config);
  const auto ns = store->namespace_id("a");
  const std::size_t payload = 400 - 4 - fcr::kEntryOverhead;  // entries of 400 bytes: "s/nn"
  for (int shard = 0; shard < 4; ++shard) {
    for (int i = 10; i < 20; ++i) {
      const std::string key = numbered(numbered("", shard) + "/", i);
      ASSERT_EQ(charge_of(key, payload), 400u);
      ASSERT_TRUE(store->put(ns, key, make(key), payload, 0, released));
    }
  }
  ASSERT_EQ(store->stats().bytes, 16000u);
  ASSERT_EQ(store->stats().evictions, 0u);

  // 8000 bytes, twice a share: 8000 remain for the others, 2000 a shard.
  ASSERT_TRUE(store->put(ns, "0/large", make("large"), 8000 - 7 - fcr::kEntryOverhead, 0, released));
  EXPECT_EQ(get(*store, ns, "0/large"), "large");
  auto s = store->stats();
  EXPECT_EQ(s.bytes, 16000u);
  EXPECT_EQ(s.evictions, 20u);
  for (int shard = 0; shard < 4; ++shard) {
    int kept = 0;
    for (int i = 10; i < 20; ++i) kept += get(*store, ns, numbered(numbered("", shard) + "/", i)) != "<null>";
    EXPECT_EQ(kept, 5) << "shard " << shard;
  }

  // Later puts respect the smaller shares; the large entry stays until its
  // shard's policy chooses it.
  for (int i = 20; i < 40; ++i) {
    const std::string key = numbered("1/", i);
    ASSERT_TRUE(store->put(ns, key, make(key), payload, 0, released));
    ASSERT_LE(store->stats().bytes, 16000u);
  }
  EXPECT_EQ(get(*store, ns, "0/large"), "large");
  s = store->stats();
  EXPECT_EQ(s.evictions, 40u);  // each put in shard 1 evicted one entry of shard 1
  expect_balanced(s);
}

// Large entries compete for the same room: when they alone overfill the
// store, a put evicts in its own shard first, then takes the other shards'
// victims in turn until the store fits.
TEST_F(StoreTest, LargeEntriesTogetherStayWithinMaxBytes) {
  StoreConfig config;
  config.max_bytes = 4000;
  config.shards = 4;
  config.digest = digest_by_prefix;
  config.policy = fcr::EvictionPolicy::lru;
  auto store = make_store(config);
  const auto ns = store->namespace_id("a");
  auto put_sized = [&](const std::string& key, std::size_t charge) {
    return store->put(ns, key, make(key), charge - key.size() - fcr::kEntryOverhead, 0, released);
  };
  ASSERT_TRUE(put_sized("0/a", 1500));
  ASSERT_TRUE(put_sized("1/b", 1500));
  ASSERT_TRUE(put_sized("2/small", 240));  // not large: at most a quarter of a share
  EXPECT_EQ(store->stats().bytes, 3240u);
  ASSERT_TRUE(put_sized("3/c", 1500));  // 4740: shard 3 is empty, shard 0's victim goes
  auto s = store->stats();
  EXPECT_LE(s.bytes, 4000u);
  EXPECT_EQ(get(*store, ns, "3/c"), "3/c");
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(get(*store, ns, "1/b") + get(*store, ns, "0/a") + get(*store, ns, "2/small"), "1/b<null>2/small");
  ASSERT_TRUE(put_sized("2/max", 4000));  // the whole store
  s = store->stats();
  EXPECT_EQ(s.bytes, 4000u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(get(*store, ns, "2/max"), "2/max");
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

// Large entries arriving on several shards at once evict across shards
// concurrently (one lock at a time). While they race the total may pass
// max_bytes by the entries being linked; once they stop it is within it.
TEST(StoreConcurrency, LargeEntriesRacingAcrossShardsEndWithinBudget) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 128;
  constexpr int kOps = 8000;
  constexpr std::size_t kMax = 256 * 1024;  // 8 shares of 32 KiB
  Store store({.max_bytes = kMax, .shards = 8});
  const auto ns = store.namespace_id("main");

  auto writer = [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(100 + t));
    std::vector<std::string> latest(kKeys);
    Released released;
    for (int i = 0; i < kOps; ++i) {
      const int k = static_cast<int>(rng() % kKeys);
      const std::string key = numbered("t", t) + numbered("/", k);
      if (rng() % 2 == 0) {
        // One put in eight up to 96 KiB (three shares), the others up to 2 KiB.
        const std::size_t size = rng() % 8 == 0 ? rng() % (96 * 1024) : rng() % 2048;
        latest[k] = key + numbered("#", i);
        ASSERT_TRUE(store.put(ns, key, make(latest[k]), size, 0, released));
      } else if (const PayloadPtr p = store.get(ns, key, released); p) {
        ASSERT_EQ(text_of(p), latest[k]);
      }
      if (released.size() > 64) released.clear();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(writer, t);
  for (auto& th : threads) th.join();

  const auto s = store.stats();
  EXPECT_LE(s.bytes, kMax);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(s.rejections, 0u);
  expect_balanced(s);
  Released released;
  EXPECT_EQ(store.clear_all(released), s.entries);
  EXPECT_EQ(store.stats().bytes, 0u);
  // The store-wide count agrees: an entry of max_bytes fits without evicting.
  ASSERT_TRUE(store.put(ns, "whole", make("whole"), kMax - 5 - fcr::kEntryOverhead, 0, released));
  EXPECT_EQ(text_of(store.get(ns, "whole", released)), "whole");
  EXPECT_EQ(store.stats().evictions, s.evictions);
}

}  // namespace
