#include "fcr/eviction.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fcr/store.hpp"
#include "zipf_trace.hpp"

namespace {

using fcr::EvictionPolicy;

// ---- The policy contract, typed on the policy (CacheLib's MMTypeTest) -------

struct TestNode {
  std::uint32_t id = 0;
  std::size_t size = 1;
  fcr::EvictionHook<TestNode> hook;

  std::uint64_t eviction_id() const noexcept { return fcr::trace::SplitMix64(id).next(); }
  std::size_t eviction_size() const noexcept { return size; }
};

template <class Policy>
class EvictionPolicyTest : public ::testing::Test {
 protected:
  Policy policy;
  std::deque<TestNode> nodes;  // stable addresses; node i has id i
  std::set<std::uint32_t> linked;

  TestNode& node(std::uint32_t id) {
    while (nodes.size() <= id) nodes.push_back(TestNode{.id = static_cast<std::uint32_t>(nodes.size())});
    return nodes[id];
  }
  void insert(std::uint32_t id, std::size_t size = 1) {
    TestNode& n = node(id);
    n.size = size;
    n.hook = {};
    policy.on_insert(&n);
    linked.insert(id);
  }
  void hit(std::uint32_t id, int times = 1) {
    for (int i = 0; i < times; ++i) policy.on_hit(&node(id));
  }
  void remove(std::uint32_t id) {
    policy.on_remove(&node(id));
    linked.erase(id);
  }
  // Evicts the victim and returns its id, or -1 when there is none.
  std::int64_t evict() {
    TestNode* v = policy.victim();
    if (v == nullptr) return -1;
    EXPECT_TRUE(linked.count(v->id)) << "victim " << v->id << " is not linked";
    policy.on_evict(v);
    linked.erase(v->id);
    return v->id;
  }
  std::vector<std::uint32_t> walk() const {
    std::vector<std::uint32_t> ids;
    for (const TestNode* n = policy.coldest(); n != nullptr; n = policy.warmer(n)) ids.push_back(n->id);
    return ids;
  }
  // The cold walk visits exactly the linked nodes, once each.
  void expect_consistent() {
    auto ids = walk();
    EXPECT_EQ(ids.size(), policy.size());
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::vector<std::uint32_t>(linked.begin(), linked.end()), ids);
  }
};

using Policies = ::testing::Types<fcr::LruPolicy<TestNode>, fcr::SievePolicy<TestNode>, fcr::S3FifoPolicy<TestNode>>;
TYPED_TEST_SUITE(EvictionPolicyTest, Policies);

TYPED_TEST(EvictionPolicyTest, EmptyHasNoVictim) {
  EXPECT_EQ(this->policy.victim(), nullptr);
  EXPECT_EQ(this->policy.coldest(), nullptr);
  EXPECT_EQ(this->policy.size(), 0u);
}

TYPED_TEST(EvictionPolicyTest, UnreadEntriesLeaveInInsertionOrder) {
  for (std::uint32_t i = 0; i < 20; ++i) this->insert(i);
  this->expect_consistent();
  for (std::int64_t i = 0; i < 20; ++i) EXPECT_EQ(this->evict(), i);
  EXPECT_EQ(this->evict(), -1);
  EXPECT_EQ(this->policy.size(), 0u);
  EXPECT_EQ(this->policy.coldest(), nullptr);
}

TYPED_TEST(EvictionPolicyTest, AReadEntryOutlivesUnreadOnes) {
  for (std::uint32_t i = 0; i < 10; ++i) this->insert(i);
  this->hit(0, 3);  // the oldest, read
  for (std::int64_t i = 1; i < 10; ++i) EXPECT_EQ(this->evict(), i);
  EXPECT_EQ(this->linked, std::set<std::uint32_t>{0});
  this->expect_consistent();
  EXPECT_EQ(this->evict(), 0);
}

TYPED_TEST(EvictionPolicyTest, EvictingEverythingEmptiesTheStructure) {
  fcr::trace::SplitMix64 rng(1);
  for (std::uint32_t i = 0; i < 200; ++i) {
    this->insert(i, 1 + rng.next() % 100);
    if (i > 0) this->hit(static_cast<std::uint32_t>(rng.next() % i), static_cast<int>(rng.next() % 4));
  }
  std::set<std::int64_t> evicted;
  for (std::int64_t id; (id = this->evict()) != -1;) EXPECT_TRUE(evicted.insert(id).second) << id;
  EXPECT_EQ(evicted.size(), 200u);
  EXPECT_EQ(this->policy.size(), 0u);
  EXPECT_EQ(this->policy.coldest(), nullptr);
}

TYPED_TEST(EvictionPolicyTest, ArbitraryEntriesCanBeRemoved) {
  for (std::uint32_t i = 0; i < 20; ++i) this->insert(i);
  for (std::uint32_t i = 0; i < 20; i += 3) this->hit(i);
  ASSERT_EQ(this->evict(), 1);  // positions SIEVE's hand, moves S3-FIFO's read ones
  TestNode* next = this->policy.victim();  // a victim may also leave for another reason
  ASSERT_NE(next, nullptr);
  this->remove(next->id);
  for (std::uint32_t id : {19u, 10u, 2u}) {  // newest, middle, oldest left
    if (this->linked.count(id)) this->remove(id);
  }
  this->expect_consistent();
  const auto left = this->linked;
  EXPECT_LE(left.size(), 20u - 1 - 1 - 2);
  std::set<std::uint32_t> rest;
  for (std::int64_t id; (id = this->evict()) != -1;) rest.insert(static_cast<std::uint32_t>(id));
  EXPECT_EQ(rest, left);
}

TYPED_TEST(EvictionPolicyTest, EvictedEntryCanComeBack) {
  for (std::uint32_t i = 0; i < 5; ++i) this->insert(i);
  const std::int64_t gone = this->evict();
  ASSERT_EQ(gone, 0);
  this->insert(0);  // same node, same id, fresh hook
  this->expect_consistent();
  std::set<std::int64_t> evicted;
  for (std::int64_t id; (id = this->evict()) != -1;) evicted.insert(id);
  EXPECT_EQ(evicted, (std::set<std::int64_t>{0, 1, 2, 3, 4}));
}

// Random inserts, reads, removals and evictions against a reference set.
TYPED_TEST(EvictionPolicyTest, RandomOperationsKeepTheContract) {
  fcr::trace::SplitMix64 rng(99);
  std::uint32_t next_id = 0;
  for (int step = 0; step < 20000; ++step) {
    const auto op = rng.next() % 10;
    const auto pick = [&] {
      auto it = this->linked.begin();
      std::advance(it, static_cast<long>(rng.next() % this->linked.size()));
      return *it;
    };
    if (op < 4 || this->linked.empty()) {
      this->insert(next_id++, 1 + rng.next() % 50);
    } else if (op < 7) {
      this->hit(pick());
    } else if (op < 8) {
      this->remove(pick());
    } else {
      ASSERT_NE(this->evict(), -1);
    }
    if (step % 500 == 0) this->expect_consistent();
  }
  this->expect_consistent();
}

// ---- S3-FIFO specifics ------------------------------------------------------

class S3FifoTest : public EvictionPolicyTest<fcr::S3FifoPolicy<TestNode>> {};

TEST_F(S3FifoTest, AQuickReturnGoesStraightToMain) {
  for (std::uint32_t i = 0; i < 10; ++i) insert(i);
  ASSERT_EQ(evict(), 0);  // unread on probation: remembered in the ghost queue
  insert(0);
  EXPECT_TRUE(policy.in_main(&node(0)));
  insert(10);
  EXPECT_FALSE(policy.in_main(&node(10)));
  expect_consistent();
}

TEST_F(S3FifoTest, ReadProbationersArePromotedAndMainReinsertsReadOnes) {
  for (std::uint32_t i = 0; i < 4; ++i) insert(i);
  hit(0);
  hit(1, 3);
  EXPECT_EQ(evict(), 2);  // 0 and 1 move to main, their reads spent
  EXPECT_TRUE(policy.in_main(&node(0)));
  EXPECT_TRUE(policy.in_main(&node(1)));
  EXPECT_EQ(evict(), 3);
  hit(0);  // main is now all there is: 1 (unread since promotion) goes first
  EXPECT_EQ(evict(), 1);
  EXPECT_EQ(evict(), 0);
}

// The small FIFO's share is in bytes: one small entry of two is half the
// count but, next to a large promoted one, under 10 % of the bytes.
TEST_F(S3FifoTest, SmallQueueShareCountsBytes) {
  insert(0, 1);
  hit(0);
  insert(1, 1);
  EXPECT_EQ(evict(), 1);  // 0 promoted; the small FIFO holds half the bytes

  insert(2, 100);
  hit(2);
  insert(3, 1);
  remove(0);
  EXPECT_EQ(evict(), 2);  // 2 promoted, then the small FIFO holds 1 of 101 bytes
  EXPECT_EQ(evict(), 3);
}

TEST(GhostQueue, RemembersExactlyTheLastLengthIds) {
  fcr::GhostQueue ghost;
  ghost.set_length(10);
  std::vector<std::uint64_t> ids;
  fcr::trace::SplitMix64 rng(5);
  for (int i = 0; i < 100; ++i) {
    ids.push_back(rng.next());
    ghost.push(ids.back());
  }
  for (int i = 0; i < 90; ++i) EXPECT_FALSE(ghost.take(ids[i])) << i;
  for (int i = 90; i < 100; ++i) EXPECT_TRUE(ghost.take(ids[i])) << i;
  for (int i = 90; i < 100; ++i) EXPECT_FALSE(ghost.take(ids[i])) << "taken twice: " << i;
  EXPECT_LE(ghost.slots(), 32u);  // at most half full, power of two
}

TEST(GhostQueue, GrowsWithItsLengthAndNeverAllocatesOtherwise) {
  fcr::GhostQueue ghost;
  EXPECT_FALSE(ghost.take(1));
  ghost.push(1);  // no table yet: ignored
  EXPECT_FALSE(ghost.take(1));
  ghost.set_length(1000);
  const auto slots = ghost.slots();
  EXPECT_GE(slots, 2000u);
  ghost.set_length(600);
  EXPECT_EQ(ghost.slots(), slots);
  fcr::trace::SplitMix64 rng(8);
  std::size_t found = 0;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 600; ++i) ghost.push(ids.emplace_back(rng.next()));
  for (auto id : ids) found += ghost.take(id) ? 1 : 0;
  EXPECT_GE(found, 595u);  // a full 8-way bucket may drop its oldest early
}

// ---- Through the store, for every policy ------------------------------------

struct Blob final : fcr::Payload {};

class StorePolicyTest : public ::testing::TestWithParam<EvictionPolicy> {
 protected:
  double now = 1000.0;
  fcr::Released released;
  std::shared_ptr<const Blob> blob = std::make_shared<const Blob>();

  std::unique_ptr<fcr::Store> make_store(fcr::StoreConfig config) {
    config.policy = GetParam();
    return std::make_unique<fcr::Store>(config, [this] { return now; });
  }
  static std::string key(std::uint64_t i) { return "/k/" + std::to_string(i); }
};

INSTANTIATE_TEST_SUITE_P(Policies, StorePolicyTest,
                         ::testing::Values(EvictionPolicy::s3fifo, EvictionPolicy::lru, EvictionPolicy::sieve),
                         [](const auto& info) {
                           switch (info.param) {
                             case EvictionPolicy::lru:
                               return std::string("lru");
                             case EvictionPolicy::sieve:
                               return std::string("sieve");
                             case EvictionPolicy::s3fifo:
                               break;
                           }
                           return std::string("s3fifo");
                         });

void expect_balanced(const fcr::StoreStats& s) {
  EXPECT_EQ(s.inserts, s.entries + s.evictions + s.expirations + s.deletes);
}

TEST_P(StorePolicyTest, NothingIsEvictedWithinBudget) {
  auto store = make_store({.max_entries = 50, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(store->put(ns, key(i), blob, 10, 0, released));
      ASSERT_NE(store->get(ns, key(i / 2), released), nullptr);
    }
  }
  const auto s = store->stats();
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(s.entries, 50u);
}

TEST_P(StorePolicyTest, EntriesBudgetIsHonoured) {
  auto store = make_store({.max_entries = 32, .shards = 1});
  const auto ns = store->namespace_id("a");
  fcr::trace::SplitMix64 rng(3);
  const fcr::trace::Zipf zipf(500, 1.0);
  for (int i = 0; i < 5000; ++i) {
    const auto k = key(zipf.draw(rng));
    if (store->get(ns, k, released) == nullptr) ASSERT_TRUE(store->put(ns, k, blob, 10, 0, released));
    ASSERT_LE(store->stats().entries, 32u);
  }
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 32u);
  EXPECT_GT(s.evictions, 0u);
  expect_balanced(s);
}

TEST_P(StorePolicyTest, BytesBudgetIsHonouredWithMixedSizes) {
  for (const std::size_t shards : {1u, 4u}) {
    auto store = make_store({.max_bytes = 64 * 1024, .shards = shards});
    const auto ns = store->namespace_id("a");
    fcr::trace::SplitMix64 rng(shards);
    const fcr::trace::Zipf zipf(400, 0.9);
    for (int i = 0; i < 5000; ++i) {
      const auto id = zipf.draw(rng);
      const std::size_t size = std::size_t{16} << (id % 10);  // 16 B to 8 KiB
      if (store->get(ns, key(id), released) == nullptr) {
        ASSERT_TRUE(store->put(ns, key(id), blob, size, 0, released));
      }
      ASSERT_LE(store->stats().bytes, 64u * 1024u);
    }
    const auto s = store->stats();
    EXPECT_GT(s.evictions, 0u);
    EXPECT_GT(s.hits, 0u);
    expect_balanced(s);
  }
}

TEST_P(StorePolicyTest, EvictedKeyComesBackAndErasedOnesLeave) {
  auto store = make_store({.max_entries = 8, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 0, released));
  EXPECT_EQ(store->get(ns, key(0), released), nullptr);  // nothing read: first in, first out
  ASSERT_TRUE(store->put(ns, key(0), blob, 1, 0, released));
  EXPECT_NE(store->get(ns, key(0), released), nullptr);
  for (int i : {15, 11, 0}) EXPECT_EQ(store->erase(ns, key(i), released), 1u);
  EXPECT_EQ(store->stats().entries, 5u);
  for (int i = 100; i < 120; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 0, released));
  EXPECT_EQ(store->stats().entries, 8u);
  EXPECT_EQ(store->clear_all(released), 8u);
  EXPECT_EQ(store->stats().entries, 0u);
  expect_balanced(store->stats());
}

TEST_P(StorePolicyTest, SweepFindsDeadEntriesWhereverThePolicyKeepsThem) {
  auto store = make_store({.max_entries = 10, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 10.0, released));
  for (int i = 0; i < 5; ++i) ASSERT_NE(store->get(ns, key(i), released), nullptr);
  for (int i = 10; i < 15; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 10.0, released));
  now += 20.0;
  EXPECT_EQ(store->sweep(1000, released), 10u);
  EXPECT_EQ(store->stats().entries, 0u);
}

// A hot set read often, then a one-pass scan of twice the capacity: S3-FIFO
// keeps every hot key (the scan only passes through the small FIFO); LRU
// keeps none.
TEST_P(StorePolicyTest, OnePassScan) {
  auto store = make_store({.max_entries = 40, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 0, released));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) ASSERT_NE(store->get(ns, key(i), released), nullptr);
  }
  for (int i = 1000; i < 1080; ++i) ASSERT_TRUE(store->put(ns, key(i), blob, 1, 0, released));
  int kept = 0;
  for (int i = 0; i < 10; ++i) kept += store->get(ns, key(i), released) != nullptr ? 1 : 0;
  if (GetParam() == EvictionPolicy::s3fifo) EXPECT_EQ(kept, 10);
  if (GetParam() == EvictionPolicy::lru) EXPECT_EQ(kept, 0);
}

// ---- Golden trace (libCacheSim-style regression) ----------------------------
// A seeded Zipf(0.9) trace over 2,000 keys, 20,000 requests, replayed through a
// single-shard store bounded by entry count; a miss puts the key. The counts
// were recorded from this implementation: a change means the policy changed.

std::uint64_t replay_misses(EvictionPolicy policy, std::size_t capacity) {
  static const auto trace = fcr::trace::make({.keys = 2000, .requests = 20000, .alpha = 0.9, .seed = 2024});
  fcr::Store store({.max_entries = capacity, .shards = 1, .policy = policy});
  const auto ns = store.namespace_id("golden");
  const auto blob = std::make_shared<const Blob>();
  fcr::Released released;
  for (const auto id : trace) {
    const std::string k = "/golden/" + std::to_string(id);
    if (store.get(ns, k, released) == nullptr) store.put(ns, k, blob, 100, 0, released);
    released.clear();
  }
  return store.stats().misses;
}

TEST(GoldenTrace, MissCountsPerPolicyAndCapacity) {
  struct Case {
    EvictionPolicy policy;
    std::size_t capacity;
    std::uint64_t misses;
  };
  const Case cases[] = {
      {EvictionPolicy::lru, 20, 16378},    {EvictionPolicy::lru, 100, 12184},    {EvictionPolicy::lru, 400, 7558},
      {EvictionPolicy::sieve, 20, 13767},  {EvictionPolicy::sieve, 100, 10074},  {EvictionPolicy::sieve, 400, 6588},
      {EvictionPolicy::s3fifo, 20, 13717}, {EvictionPolicy::s3fifo, 100, 10056}, {EvictionPolicy::s3fifo, 400, 6480},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(replay_misses(c.policy, c.capacity), c.misses)
        << "policy " << static_cast<int>(c.policy) << ", capacity " << c.capacity;
  }
  // The recorded counts themselves: the default policy beats LRU everywhere.
  for (int i = 0; i < 3; ++i) EXPECT_LT(cases[6 + i].misses, cases[i].misses);
}

}  // namespace
