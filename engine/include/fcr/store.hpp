// The in-process response store: sharded, bounded by bytes and entries,
// with absolute expiry, namespaces with O(1) clear, tags (surrogate keys)
// and counters.
//
// The byte budget is the store's, not a shard's: any entry whose charge fits
// max_bytes is kept. Each shard holds an equal share of what large entries
// leave; a large entry makes room in every shard (store.cpp, "The budget").
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fcr/eviction.hpp"
#include "fcr/hash.hpp"

namespace fcr {

// What the store keeps for a key. The engine never looks inside: the binding
// derives from it to hold Python objects, tests to hold strings.
class Payload {
 public:
  virtual ~Payload() = default;
};
using PayloadPtr = std::shared_ptr<const Payload>;

// Seconds on a monotonic clock; injectable so tests control time.
using Clock = std::function<double()>;
double monotonic_seconds() noexcept;

struct StoreConfig {
  std::size_t max_bytes = 256u << 20;  // sum of entry charges; also the largest entry
  std::size_t max_entries = 0;         // 0: no limit on the count (split evenly over shards)
  std::size_t shards = 16;             // rounded up to a power of two
  // Which entry leaves when a shard is over budget (fcr/eviction.hpp). Each
  // shard runs the policy over its own entries.
  EvictionPolicy policy = EvictionPolicy::s3fifo;
  S3FifoParams s3fifo;  // used when policy is s3fifo
  // The digest of (namespace id, canonical key); nullptr: hash128 seeded with
  // the namespace id. Tests set one that collides to pin that a digest
  // collision is a miss, never another key's response.
  Digest (*digest)(std::uint32_t ns, std::string_view key) noexcept = nullptr;
};

struct StoreStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;
  std::uint64_t updates = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expirations = 0;
  std::uint64_t deletes = 0;
  std::uint64_t collisions = 0;  // same digest, different canonical key
  std::uint64_t rejections = 0;  // single entry larger than max_bytes
  std::uint64_t softened = 0;    // entries a soft tag invalidation kept, stale
  std::size_t bytes = 0;
  std::size_t entries = 0;
  std::size_t tag_links = 0;    // (entry, tag) pairs in the tag index
  std::size_t tag_buckets = 0;  // (namespace, tag) pairs indexed, summed over shards
};

// Fixed per-entry bookkeeping added to every charge, so that many tiny
// entries still count against max_bytes: the entry (about 128 bytes with its
// allocation header), its hash-map node and the payload's control block.
inline constexpr std::size_t kEntryOverhead = 224;

// Added to an entry's charge for each tag it carries, besides the tag's bytes:
// its link in the tag index (32 bytes) and the tag's bucket (about 120 bytes
// with its hash-map node and key), as if the entry were the tag's only one.
// Tags shared by many entries are thus overcounted, never undercounted.
inline constexpr std::size_t kTagOverhead = 160;

// Payloads that leave the store (evicted, replaced, deleted, expired) are
// moved here rather than destroyed under a shard lock, so the caller can drop
// them after every lock is released (the binding needs that for Python
// references).
using Released = std::vector<PayloadPtr>;

// What a tag invalidation does with one entry's payload, as the caller says
// (the store never looks inside payloads).
struct Purge {
  std::size_t responses = 1;  // how many responses it holds (a Vary'd key's variants)
  // Soft only: the payload to hold instead (a stale copy); nullptr keeps it.
  PayloadPtr replacement;
  // Soft only: the most seconds from now the store may still keep the entry;
  // <= 0 leaves its expiry as it is. Never extends it.
  double ttl = 0;
};
// Called for each live entry carrying an invalidated tag, under its shard's
// lock: it must not call the store. `soft` says which invalidation runs.
using Purger = std::function<Purge(const PayloadPtr& value, bool soft)>;

class Store {
 public:
  explicit Store(StoreConfig config = {}, Clock clock = monotonic_seconds);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Returns the id of a namespace, creating it on first use. Ids are stable for
  // the life of the store.
  std::uint32_t namespace_id(std::string_view name);

  // Inserts or replaces. `charge` is the payload's size in bytes (the store adds
  // the key length, kEntryOverhead, and each distinct tag's bytes plus
  // kTagOverhead). `ttl` <= 0 means no expiry. `tags` index the entry for
  // invalidate_tags() (repeated ones count once); the entry replacing it
  // carries only its own. Returns false, counted as a rejection, when the
  // entry's whole charge exceeds max_bytes; the key's old value is removed
  // all the same.
  bool put(std::uint32_t ns, std::string_view key, PayloadPtr value, std::size_t charge, double ttl,
           Released& released, std::span<const std::string> tags = {});

  // The live payload for a key, or nullptr (expired and cleared entries are
  // misses). Verifies the full canonical key, so a digest collision is a miss.
  PayloadPtr get(std::uint32_t ns, std::string_view key, Released& released);

  // The live payload for a key like get(), but without counting a hit or a
  // miss or telling the eviction policy: for callers that read, then put a
  // payload derived from it (adding a Vary variant).
  PayloadPtr peek(std::uint32_t ns, std::string_view key);

  // Removes one key; returns 1 if a live entry was removed, else 0.
  std::size_t erase(std::uint32_t ns, std::string_view key, Released& released);

  // Invalidates the live entries of namespace `ns` carrying any of `tags`,
  // each once, in O(shards + entries carrying them): hard (`soft` false)
  // removes them (counted as deletes); soft keeps them with the purger's
  // replacement and at most its ttl (counted as softened). Returns the sum
  // of the purger's `responses` over those entries (1 each without a
  // purger; a soft invalidation without one changes nothing). Shards are
  // visited one at a time: a reader may see one shard's entries invalidated
  // and another's not yet, and an entry stored meanwhile with the tag is
  // either invalidated or stored after the shard was visited.
  std::size_t invalidate_tags(std::uint32_t ns, std::span<const std::string> tags, bool soft,
                              const Purger& purger, Released& released);

  // Drops every entry of a namespace in O(1) (entries are reclaimed lazily);
  // returns how many live entries the namespace had.
  std::size_t clear(std::uint32_t ns);

  // Drops everything, returns the number of live entries removed.
  std::size_t clear_all(Released& released);

  // Reclaims up to `budget` expired or cleared entries per shard; returns the
  // number reclaimed. Also done incrementally by put().
  std::size_t sweep(std::size_t budget, Released& released);

  // Counters summed over the shards, each read under its lock. `bytes` is at
  // most max_bytes once no put is running; while puts run on several shards
  // it can exceed it by the entries they are linking.
  StoreStats stats() const;
  const StoreConfig& config() const noexcept { return config_; }

 private:
  struct Entry;
  struct Shard;
  struct NamespaceState;

  // Bytes held by the whole store, updated under the lock of the shard whose
  // entry arrives or leaves; read without any lock.
  struct alignas(64) Budget {
    std::atomic<std::size_t> used{0};   // every charge held
    std::atomic<std::size_t> large{0};  // of which in large entries
  };

  Shard& shard_for(const Digest& digest) noexcept;
  Digest digest_of(std::uint32_t ns, std::string_view key) const noexcept;
  std::size_t fair_share(std::size_t arriving_large) const noexcept;
  bool over_budget() const noexcept;
  void shed(std::size_t own, const Digest& arrived, double now, Released& released);

  StoreConfig config_;
  Clock clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t shard_mask_ = 0;
  Budget budget_;

  mutable std::mutex namespaces_mutex_;
  std::unordered_map<std::string, std::uint32_t> namespace_ids_;
  // Fixed capacity so readers never see a reallocation: generation and live
  // counter per namespace id.
  std::unique_ptr<NamespaceState[]> namespaces_;
  std::size_t namespace_capacity_ = 0;
};

}  // namespace fcr
