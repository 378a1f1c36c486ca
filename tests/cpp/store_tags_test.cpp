// The store's tag index (surrogate keys): entries carry tags, invalidate_tags
// removes or softens exactly the live entries carrying them, and the index
// follows entries out of the store however they leave.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fcr/store.hpp"

namespace {

using fcr::kEntryOverhead;
using fcr::kTagOverhead;
using fcr::PayloadPtr;
using fcr::Purge;
using fcr::Purger;
using fcr::Released;
using fcr::Store;
using fcr::StoreConfig;
using fcr::StoreStats;
using Tags = std::vector<std::string>;

struct Text final : fcr::Payload {
  explicit Text(std::string t, std::size_t n = 1) : text(std::move(t)), responses(n) {}
  std::string text;
  std::size_t responses;  // what the purger reports for it
};

PayloadPtr make(std::string text, std::size_t responses = 1) {
  return std::make_shared<const Text>(std::move(text), responses);
}

std::string text_of(const PayloadPtr& p) { return p ? static_cast<const Text&>(*p).text : "<null>"; }

std::size_t tag_charge(const Tags& tags) {
  std::size_t total = 0;
  for (const auto& tag : tags) total += tag.size() + kTagOverhead;
  return total;
}

// Counts what the payload says it holds; a soft invalidation replaces it with
// "<text> (stale)" kept at most `keep` seconds more.
Purger purger(double keep = 0) {
  return [keep](const PayloadPtr& value, bool soft) {
    const auto& text = static_cast<const Text&>(*value);
    Purge purge{.responses = text.responses};
    if (soft) {
      purge.replacement = make(text.text + " (stale)", text.responses);
      purge.ttl = keep;
    }
    return purge;
  };
}

void expect_balanced(const StoreStats& s) {
  EXPECT_EQ(s.inserts, s.entries + s.evictions + s.expirations + s.deletes);
}

class StoreTagsTest : public ::testing::Test {
 protected:
  double now = 1000.0;
  Released released;

  std::unique_ptr<Store> make_store(StoreConfig config = {.shards = 4}) {
    return std::make_unique<Store>(config, [this] { return now; });
  }
  bool put(Store& s, std::uint32_t ns, std::string_view key, const std::string& text, const Tags& tags,
           double ttl = 0, std::size_t responses = 1) {
    return s.put(ns, key, make(text, responses), text.size(), ttl, released, tags);
  }
  std::string get(Store& s, std::uint32_t ns, std::string_view key) { return text_of(s.get(ns, key, released)); }
  std::size_t invalidate(Store& s, std::uint32_t ns, const Tags& tags, bool soft = false, double keep = 0) {
    return s.invalidate_tags(ns, tags, soft, purger(keep), released);
  }
};

TEST_F(StoreTagsTest, HardInvalidationRemovesExactlyTheTaggedEntries) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k1", "one", {"items", "item:1"}));
  ASSERT_TRUE(put(*store, ns, "k2", "two", {"items", "item:2"}));
  ASSERT_TRUE(put(*store, ns, "k3", "three", {"other"}));
  ASSERT_TRUE(put(*store, ns, "k4", "four", {}));
  EXPECT_EQ(invalidate(*store, ns, {"item:1"}), 1u);
  EXPECT_EQ(get(*store, ns, "k1"), "<null>");
  EXPECT_EQ(get(*store, ns, "k2"), "two");
  EXPECT_EQ(invalidate(*store, ns, {"items"}), 1u);  // k1 is gone already
  EXPECT_EQ(get(*store, ns, "k2"), "<null>");
  EXPECT_EQ(get(*store, ns, "k3"), "three");
  EXPECT_EQ(get(*store, ns, "k4"), "four");
  EXPECT_EQ(invalidate(*store, ns, {"nothing"}), 0u);
  const auto s = store->stats();
  EXPECT_EQ(s.deletes, 2u);
  EXPECT_EQ(s.tag_links, 1u);  // k3's
  EXPECT_EQ(s.tag_buckets, 1u);
  expect_balanced(s);
}

TEST_F(StoreTagsTest, AnEntryCarryingSeveralInvalidatedTagsCountsOnce) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "v", {"a", "b", "c"}));
  ASSERT_TRUE(put(*store, ns, "soft", "v", {"a", "b"}));
  EXPECT_EQ(invalidate(*store, ns, {"a", "b", "a"}, /*soft=*/true), 2u);
  EXPECT_EQ(get(*store, ns, "k"), "v (stale)");  // rewritten once, not twice
  EXPECT_EQ(invalidate(*store, ns, {"a", "c"}), 2u);
  EXPECT_EQ(store->stats().entries, 0u);
}

TEST_F(StoreTagsTest, RepeatedTagsOfOneEntryAreIndexedAndChargedOnce) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "value", {"t", "t", "u"}));
  const auto s = store->stats();
  EXPECT_EQ(s.tag_links, 2u);
  EXPECT_EQ(s.bytes, 5 + 1 + kEntryOverhead + tag_charge({"t", "u"}));
  EXPECT_EQ(invalidate(*store, ns, {"t"}), 1u);
}

TEST_F(StoreTagsTest, TagBytesAreChargedToTheEntryAndReturnedWhenItLeaves) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  const std::string long_tag(5000, 'x');
  const Tags tags{"path:/items/1", long_tag, "caf\xc3\xa9"};
  ASSERT_TRUE(put(*store, ns, "key", "value", tags));
  EXPECT_EQ(store->stats().bytes, 5 + 3 + kEntryOverhead + tag_charge(tags));
  ASSERT_TRUE(put(*store, ns, "key", "value", {}));  // replaced without tags
  EXPECT_EQ(store->stats().bytes, 5 + 3 + kEntryOverhead);
  EXPECT_EQ(store->stats().tag_links, 0u);
  EXPECT_EQ(store->stats().tag_buckets, 0u);
  EXPECT_EQ(invalidate(*store, ns, {long_tag}), 0u);
}

TEST_F(StoreTagsTest, TagsCountTowardMaxBytes) {
  // Room for one entry with its tag, not two: the tag's charge decides.
  const Tags tags{std::string(400, 't')};
  const std::size_t one = 1 + 2 + kEntryOverhead + tag_charge(tags);
  auto store = make_store({.max_bytes = one + one / 2, .shards = 1});
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k1", "v", tags));
  ASSERT_TRUE(put(*store, ns, "k2", "v", tags));
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_LE(s.bytes, one + one / 2);
  EXPECT_EQ(s.tag_links, 1u);
  // An entry whose tags alone exceed max_bytes is refused.
  EXPECT_FALSE(put(*store, ns, "k3", "v", {std::string(one * 2, 'x')}));
  EXPECT_EQ(store->stats().rejections, 1u);
}

TEST_F(StoreTagsTest, ReplacementCarriesOnlyItsOwnTags) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "old", {"old-tag", "both"}));
  ASSERT_TRUE(put(*store, ns, "k", "new", {"new-tag", "both"}));
  EXPECT_EQ(invalidate(*store, ns, {"old-tag"}), 0u);
  EXPECT_EQ(get(*store, ns, "k"), "new");
  EXPECT_EQ(store->stats().tag_links, 2u);
  EXPECT_EQ(invalidate(*store, ns, {"both"}), 1u);
  EXPECT_EQ(store->stats().tag_links, 0u);
}

TEST_F(StoreTagsTest, EvictedEntriesLeaveTheIndex) {
  auto store = make_store({.max_entries = 4, .shards = 1});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(*store, ns, "k" + std::to_string(i), "v", {"all"}));
  const auto s = store->stats();
  EXPECT_EQ(s.entries, 4u);
  EXPECT_EQ(s.evictions, 16u);
  EXPECT_EQ(s.tag_links, 4u);
  EXPECT_EQ(invalidate(*store, ns, {"all"}), 4u);
  EXPECT_EQ(store->stats().tag_links, 0u);
  EXPECT_EQ(store->stats().tag_buckets, 0u);
}

TEST_F(StoreTagsTest, ErasedEntriesLeaveTheIndex) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "k", "v", {"t"}));
  EXPECT_EQ(store->erase(ns, "k", released), 1u);
  EXPECT_EQ(store->stats().tag_links, 0u);
  EXPECT_EQ(store->stats().tag_buckets, 0u);
  EXPECT_EQ(invalidate(*store, ns, {"t"}), 0u);
}

TEST_F(StoreTagsTest, ExpiredEntriesAreReclaimedNotCounted) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "short", "v", {"t"}, 10));
  ASSERT_TRUE(put(*store, ns, "long", "v", {"t"}, 100));
  now += 50;
  EXPECT_EQ(invalidate(*store, ns, {"t"}, /*soft=*/true), 1u);
  const auto s = store->stats();
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(s.softened, 1u);
  EXPECT_EQ(s.tag_links, 1u);
  now += 60;
  EXPECT_EQ(store->sweep(100, released), 1u);
  EXPECT_EQ(store->stats().tag_links, 0u);
}

TEST_F(StoreTagsTest, AClearedNamespaceIsNeverInvalidatedAgainAndItsNewEntriesAre) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  const auto other = store->namespace_id("b");
  ASSERT_TRUE(put(*store, ns, "k", "old", {"t"}));
  ASSERT_TRUE(put(*store, other, "k", "other", {"t"}));
  EXPECT_EQ(store->clear(ns), 1u);
  EXPECT_EQ(store->stats().tag_links, 2u);  // lazily reclaimed
  EXPECT_EQ(invalidate(*store, ns, {"t"}), 0u);
  EXPECT_EQ(store->stats().tag_links, 1u);  // ... here, by the invalidation
  ASSERT_TRUE(put(*store, ns, "k", "new", {"t"}));
  ASSERT_TRUE(put(*store, ns, "k2", "new", {"t"}));
  EXPECT_EQ(store->clear(ns), 2u);
  ASSERT_TRUE(put(*store, ns, "k", "newest", {"t"}));  // replaces the dead entry of its key
  EXPECT_EQ(invalidate(*store, ns, {"t"}, /*soft=*/true), 1u);
  EXPECT_EQ(get(*store, ns, "k"), "newest (stale)");
  EXPECT_EQ(get(*store, other, "k"), "other");  // namespaces apart
  expect_balanced(store->stats());
}

TEST_F(StoreTagsTest, SoftInvalidationKeepsEntriesAndShortensTheirExpiryOnly) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "forever", "f", {"t"}));
  ASSERT_TRUE(put(*store, ns, "long", "l", {"t"}, 1000));
  ASSERT_TRUE(put(*store, ns, "short", "s", {"t"}, 5));
  const auto before = store->stats().bytes;
  EXPECT_EQ(invalidate(*store, ns, {"t"}, /*soft=*/true, /*keep=*/30), 3u);
  EXPECT_EQ(get(*store, ns, "forever"), "f (stale)");
  EXPECT_EQ(get(*store, ns, "long"), "l (stale)");
  EXPECT_EQ(get(*store, ns, "short"), "s (stale)");
  auto s = store->stats();
  EXPECT_EQ(s.softened, 3u);
  EXPECT_EQ(s.deletes, 0u);
  EXPECT_EQ(s.bytes, before);
  EXPECT_EQ(s.tag_links, 3u);  // still tagged: a hard invalidation may follow
  ASSERT_EQ(released.size(), 3u);  // the old payloads, handed back
  now += 10;
  EXPECT_EQ(get(*store, ns, "short"), "<null>");  // its own expiry, not extended
  EXPECT_EQ(get(*store, ns, "long"), "l (stale)");
  now += 25;
  EXPECT_EQ(get(*store, ns, "forever"), "<null>");  // at most `keep` more
  EXPECT_EQ(get(*store, ns, "long"), "<null>");
  s = store->stats();
  EXPECT_EQ(s.expirations, 3u);
  EXPECT_EQ(s.tag_links, 0u);
  expect_balanced(s);
}

TEST_F(StoreTagsTest, CountsAreThePurgersResponses) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  ASSERT_TRUE(put(*store, ns, "vary", "v", {"t"}, 0, /*responses=*/3));
  ASSERT_TRUE(put(*store, ns, "plain", "p", {"t"}));
  EXPECT_EQ(invalidate(*store, ns, {"t"}, /*soft=*/true), 4u);
  EXPECT_EQ(invalidate(*store, ns, {"t"}), 4u);
  // Without a purger: one response an entry, and a soft invalidation changes nothing.
  ASSERT_TRUE(put(*store, ns, "vary", "v", {"t"}, 0, 3));
  const Tags t{"t"};
  EXPECT_EQ(store->invalidate_tags(ns, t, true, nullptr, released), 1u);
  EXPECT_EQ(get(*store, ns, "vary"), "v");
  EXPECT_EQ(store->invalidate_tags(ns, t, false, nullptr, released), 1u);
  EXPECT_EQ(get(*store, ns, "vary"), "<null>");
}

TEST_F(StoreTagsTest, ClearAllEmptiesTheIndex) {
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(put(*store, ns, "k" + std::to_string(i), "v", {"a", "b" + std::to_string(i)}));
  EXPECT_EQ(store->stats().tag_links, 100u);
  EXPECT_EQ(store->clear_all(released), 50u);
  EXPECT_EQ(store->stats().tag_links, 0u);
  EXPECT_EQ(store->stats().tag_buckets, 0u);
}

TEST_F(StoreTagsTest, TagsSpreadOverShardsAreAllFound) {
  auto store = make_store({.shards = 16});
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(put(*store, ns, "k" + std::to_string(i), "v", {i % 2 ? "odd" : "even"}));
  EXPECT_GT(store->stats().tag_buckets, 2u);  // one bucket per tag per shard
  EXPECT_EQ(invalidate(*store, ns, {"odd"}), 100u);
  EXPECT_EQ(store->stats().entries, 100u);
  EXPECT_EQ(get(*store, ns, "k0"), "v");
  EXPECT_EQ(get(*store, ns, "k1"), "<null>");
}

TEST_F(StoreTagsTest, TheStoreDestroysTaggedEntriesCleanly) {
  // Under ASan: nothing leaks and no link outlives its entry.
  auto store = make_store();
  const auto ns = store->namespace_id("a");
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(put(*store, ns, "k" + std::to_string(i % 30), "v", {"t", "u"}));
  EXPECT_EQ(store->stats().tag_links, 60u);
  EXPECT_EQ(store->stats().entries, 30u);
  store.reset();
}

// Writers and invalidators on disjoint keys and tags, checked afterwards: every
// writer's last entry is either invalidated or still carries its tags.
TEST(StoreTagsConcurrency, WritersAndInvalidatorsKeepTheIndexConsistent) {
  Store store({.max_bytes = 1u << 20, .shards = 8});
  const auto ns = store.namespace_id("a");
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Released released;
      const std::string own = "thread:" + std::to_string(t);
      for (int i = 0; i < kRounds; ++i) {
        const std::string key = own + "/" + std::to_string(i % 64);
        store.put(ns, key, make("v"), 1, 0, released, std::vector<std::string>{own, "shared"});
        if (i % 50 == 0) store.invalidate_tags(ns, std::vector<std::string>{own}, i % 100 == 0, purger(), released);
        if (i % 7 == 0) store.erase(ns, key, released);
        released.clear();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto s = store.stats();
  EXPECT_EQ(s.tag_links, 2 * s.entries);
  expect_balanced(s);
  Released released;
  EXPECT_EQ(store.invalidate_tags(ns, std::vector<std::string>{"shared"}, false, purger(), released), s.entries);
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().tag_links, 0u);
  EXPECT_EQ(store.stats().tag_buckets, 0u);
}

}  // namespace
