#include "fcr/store.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <limits>
#include <stdexcept>

#include "tag_index.hpp"

namespace fcr {

double monotonic_seconds() noexcept {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

namespace {

constexpr std::size_t kMaxNamespaces = 65536;
constexpr std::size_t kMaxShards = 4096;
constexpr std::size_t kPutSweepExamine = 4;  // cold entries put() inspects
constexpr std::size_t kNoShare = std::numeric_limits<std::size_t>::max();
// An entry larger than this part of max_bytes / shards is "large" (see "The
// budget"). Measured by replaying Zipf traces with sizes up to 8 MiB through
// 16-shard stores of 64 and 256 MiB: with a quarter, S3-FIFO's miss ratio is
// at most 0.15 points above a single-shard store's; with a whole share it was
// up to 3.4 points above, as an entry close to a share empties its shard.
constexpr std::size_t kLargePartOfShare = 4;

std::uint32_t checked_ns(std::uint32_t ns, std::size_t capacity) {
  if (ns >= capacity) throw std::out_of_range("fcr::Store: invalid namespace id");
  return ns;
}

}  // namespace

// Generation (high 32 bits) and live count (low 32 bits) share one atomic word:
// put() reads the generation and counts the entry in a single fetch_add, and
// clear() retires a generation and zeroes its count in a single CAS. With two
// separate atomics a put racing a clear could count a dead entry forever.
// "Live" includes expired entries not yet reclaimed (expiry is lazy). 32 bits
// of live count is ample: 2^32 entries would need over 400 GB of overhead.
struct Store::NamespaceState {
  static constexpr std::uint64_t kLiveMask = 0xffffffffu;
  std::atomic<std::uint64_t> word{0};

  std::uint32_t generation() const noexcept { return static_cast<std::uint32_t>(word.load() >> 32); }
  std::uint32_t add_live() noexcept { return static_cast<std::uint32_t>(word.fetch_add(1) >> 32); }
  // Only entries of the current generation are still counted.
  void remove_live(std::uint32_t gen) noexcept {
    std::uint64_t w = word.load();
    while ((w >> 32) == gen && (w & kLiveMask) != 0 && !word.compare_exchange_weak(w, w - 1)) {
    }
  }
  std::size_t clear() noexcept {
    std::uint64_t w = word.load();
    while (!word.compare_exchange_weak(w, ((w >> 32) + 1) << 32)) {
    }
    return static_cast<std::size_t>(w & kLiveMask);
  }
};

struct Store::Entry {
  using Tags = detail::TagIndex<Entry>;
  Digest digest;
  std::string key;
  std::uint32_t ns = 0;
  std::uint32_t generation = 0;  // namespace generation at insert
  NamespaceState* space = nullptr;
  double expires_at = 0;  // 0: never
  std::size_t charge = 0;
  PayloadPtr value;
  EvictionHook<Entry> hook;
  std::unique_ptr<Tags::Link[]> tag_links;  // one per tag carried
  std::size_t tag_count = 0;

  std::uint64_t eviction_id() const noexcept { return digest.lo; }
  std::size_t eviction_size() const noexcept { return charge; }

  bool cleared() const noexcept { return generation != space->generation(); }
  bool expired(double now) const noexcept { return expires_at > 0 && now >= expires_at; }
  bool dead(double now) const noexcept { return cleared() || expired(now); }
};

struct alignas(64) Store::Shard {
  std::mutex mutex;
  std::unordered_map<Digest, Entry*, DigestHasher> map;
  AnyEvictionPolicy<Entry> policy;
  Entry::Tags tags;
  // Counters under `mutex`. bytes/entries count what is physically held,
  // including dead (expired or cleared) entries not yet reclaimed.
  StoreStats stats;
  std::size_t large_bytes = 0;  // of stats.bytes, in large entries
  std::size_t large_above = 0;  // charges above this are large
  std::size_t max_entries = 0;  // 0: unlimited
  Budget& budget;

  Shard(const StoreConfig& config, Budget& store_budget)
      : policy(config.policy, config.s3fifo), budget(store_budget) {}

  bool large(std::size_t charge) const noexcept { return charge > large_above; }
  std::size_t normal_bytes() const noexcept { return stats.bytes - large_bytes; }
  bool entries_full() const noexcept { return max_entries != 0 && stats.entries >= max_entries; }

  // Every change of the held bytes goes through here, under `mutex`.
  void account(std::size_t charge, bool add) noexcept {
    const bool is_large = large(charge);
    if (add) {
      stats.bytes += charge;
      budget.used += charge;
      if (is_large) {
        large_bytes += charge;
        budget.large += charge;
      }
    } else {
      stats.bytes -= charge;
      budget.used -= charge;
      if (is_large) {
        large_bytes -= charge;
        budget.large -= charge;
      }
    }
  }

  Entry* find(std::uint32_t ns, std::string_view key, const Digest& digest) {
    auto it = map.find(digest);
    if (it == map.end()) return nullptr;
    Entry* e = it->second;
    if (e->ns == ns && e->key == key) return e;
    ++stats.collisions;  // same digest, different key: not ours
    return nullptr;
  }

  // Links `e` with its tags' bucket keys; if anything throws, nothing is linked.
  void link(Entry* e, std::span<const std::string> tag_keys) {
    tags.link(e, e->tag_links.get(), tag_keys);
    try {
      map.emplace(e->digest, e);
    } catch (...) {
      tags.unlink(e->tag_links.get(), e->tag_count);
      throw;
    }
    policy.on_insert(e);
    account(e->charge, true);
    ++stats.entries;
  }

  // Unlinks and frees `e`, handing its payload to `released`. Counts cleared
  // entries as deletes, expired ones as expirations, and live ones under
  // `live_counter` (if any). `evicted`: e is the policy's victim. Returns
  // whether the entry was live.
  bool drop(Entry* e, double now, std::uint64_t StoreStats::*live_counter, Released& released,
            bool evicted = false) {
    const bool cleared = e->cleared();
    const bool expired = !cleared && e->expired(now);
    if (cleared) {
      ++stats.deletes;
    } else if (expired) {
      ++stats.expirations;
    } else if (live_counter != nullptr) {
      ++(stats.*live_counter);
    }
    e->space->remove_live(e->generation);
    if (evicted) {
      policy.on_evict(e);
    } else {
      policy.on_remove(e);
    }
    map.erase(e->digest);
    tags.unlink(e->tag_links.get(), e->tag_count);
    account(e->charge, false);
    --stats.entries;
    released.push_back(std::move(e->value));
    delete e;
    return !cleared && !expired;
  }

  // Reclaims up to `budget` dead entries among the `examine` coldest ones.
  std::size_t reclaim(double now, std::size_t examine, std::size_t budget, Released& released) {
    std::size_t reclaimed = 0;
    for (Entry* e = policy.coldest(); e != nullptr && examine > 0 && reclaimed < budget; --examine) {
      Entry* next = policy.warmer(e);
      if (e->dead(now)) {
        drop(e, now, nullptr, released);
        ++reclaimed;
      }
      e = next;
    }
    return reclaimed;
  }

  // Evicts the policy's victim unless it is `keep` (an entry just linked);
  // returns whether one left.
  bool evict_one(const Digest* keep, double now, Released& released) {
    Entry* victim = policy.victim();
    if (victim == nullptr || (keep != nullptr && victim->digest == *keep)) return false;
    drop(victim, now, &StoreStats::evictions, released, /*evicted=*/true);
    return true;
  }
};

Store::Store(StoreConfig config, Clock clock)
    : config_(config), clock_(clock ? std::move(clock) : Clock(monotonic_seconds)) {
  const std::size_t n = std::bit_ceil(std::clamp<std::size_t>(config_.shards, 1, kMaxShards));
  config_.shards = n;
  shard_mask_ = n - 1;
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>(config_, budget_);
    // Entries round up so a small max_entries does not become zero per shard.
    shard->large_above = config_.max_bytes / n / kLargePartOfShare;
    shard->max_entries = config_.max_entries / n + (config_.max_entries % n != 0 ? 1 : 0);
    shards_.push_back(std::move(shard));
  }
  namespace_capacity_ = kMaxNamespaces;
  namespaces_ = std::make_unique<NamespaceState[]>(namespace_capacity_);
}

Store::~Store() {
  for (auto& shard : shards_) {
    for (auto& [digest, entry] : shard->map) delete entry;
  }
}

Store::Shard& Store::shard_for(const Digest& digest) noexcept {
  // The map hashes on `lo`; use `hi` here so shard choice and bucket are independent.
  return *shards_[static_cast<std::size_t>(digest.hi) & shard_mask_];
}

Digest Store::digest_of(std::uint32_t ns, std::string_view key) const noexcept {
  return config_.digest ? config_.digest(ns, key) : hash128(key, ns);
}

std::uint32_t Store::namespace_id(std::string_view name) {
  std::lock_guard lock(namespaces_mutex_);
  std::string owned(name);
  if (auto it = namespace_ids_.find(owned); it != namespace_ids_.end()) return it->second;
  if (namespace_ids_.size() >= namespace_capacity_) throw std::length_error("fcr::Store: too many namespaces");
  const auto id = static_cast<std::uint32_t>(namespace_ids_.size());
  namespace_ids_.emplace(std::move(owned), id);
  return id;
}

// The budget. max_bytes is the store's: an entry is refused only when its
// charge alone exceeds it. Shards still keep their own lists and locks, so
// each holds a fair share of the bytes:
//
// - An entry no larger than a quarter of max_bytes / shards is "normal". A
//   put makes room for it in its own shard, by that shard's policy, until the
//   shard's normal entries fit its fair share: max_bytes minus the bytes of
//   the large entries held, split evenly. With no large entry held that is
//   max_bytes / shards, the per-shard budget this store always had, so
//   eviction is unchanged for stores that never see a large entry (and for
//   single-shard stores, where the two rules agree).
// - A larger entry shrinks every fair share. Its put evicts in its own shard
//   down to the new share, links the entry, then visits the other shards one
//   at a time (never two locks at once) and evicts each down to the share.
//   It leaves when its own shard's policy picks it, like any other entry.
// - When large entries alone would overfill the store (there is no share
//   left), a put first evicts in its own shard until it fits, then takes each
//   other shard's victim in turn until the store is within max_bytes.
//
// The budget's two counters are atomics updated under the lock of the shard
// whose entry arrives or leaves. Puts racing on different shards each link
// before shedding elsewhere, so the total can pass max_bytes by the entries
// being linked at that moment; every put that leaves the store over budget
// sheds until it is within it, so it is within max_bytes once puts stop.

std::size_t Store::fair_share(std::size_t arriving_large) const noexcept {
  const std::size_t max = config_.max_bytes;
  const std::size_t large = budget_.large.load();
  if (large > max || arriving_large > max - large) return kNoShare;
  return (max - large - arriving_large) / shards_.size();
}

bool Store::over_budget() const noexcept { return budget_.used.load() > config_.max_bytes; }

// First every shard down to its fair share, then, while large entries alone
// overfill the store, each shard's victim in turn. Starts after the put's own
// shard and spares the entry that put linked unless nothing else can go.
void Store::shed(std::size_t own, const Digest& arrived, double now, Released& released) {
  const std::size_t n = shards_.size();
  for (std::size_t i = 1; i <= n && over_budget(); ++i) {
    Shard& shard = *shards_[(own + i) & shard_mask_];
    std::lock_guard lock(shard.mutex);
    for (std::size_t share = fair_share(0); share != kNoShare && shard.normal_bytes() > share && over_budget();
         share = fair_share(0)) {
      if (!shard.evict_one(&arrived, now, released)) break;
    }
  }
  const Digest* keep = &arrived;
  for (std::size_t i = 1, idle = 0; over_budget(); ++i) {
    if (idle == n) {
      if (keep == nullptr) return;  // nothing left to evict
      keep = nullptr;
      idle = 0;
    }
    Shard& shard = *shards_[(own + i) & shard_mask_];
    std::lock_guard lock(shard.mutex);
    idle = shard.evict_one(keep, now, released) ? 0 : idle + 1;
  }
}

bool Store::put(std::uint32_t ns, std::string_view key, PayloadPtr value, std::size_t charge, double ttl,
                Released& released, std::span<const std::string> tags) {
  NamespaceState& space = namespaces_[checked_ns(ns, namespace_capacity_)];
  const Digest digest = digest_of(ns, key);
  const std::size_t own = static_cast<std::size_t>(digest.hi) & shard_mask_;
  Shard& shard = *shards_[own];
  const double now = clock_();
  const std::size_t max = config_.max_bytes;
  // Each distinct tag once, as its bucket key; charged to the entry.
  std::vector<std::string> tag_keys;
  tag_keys.reserve(tags.size());
  for (const std::string& tag : tags) tag_keys.push_back(detail::tag_key(ns, tag));
  std::sort(tag_keys.begin(), tag_keys.end());
  tag_keys.erase(std::unique(tag_keys.begin(), tag_keys.end()), tag_keys.end());
  std::size_t fixed = key.size() + kEntryOverhead;
  for (const std::string& tag_key : tag_keys) fixed += tag_key.size() - sizeof ns + kTagOverhead;
  const bool fits = charge <= max && fixed <= max - charge;

  // Built before locking; if anything throws, the lock is released before the entry dies.
  std::unique_ptr<Entry> entry;
  if (fits) {
    entry = std::make_unique<Entry>();
    entry->digest = digest;
    entry->key.assign(key);
    entry->ns = ns;
    entry->space = &space;
    entry->expires_at = ttl > 0 ? now + ttl : 0;
    entry->charge = charge + fixed;
    entry->value = std::move(value);
    entry->tag_links = Entry::Tags::make_links(tag_keys.size());
    entry->tag_count = tag_keys.size();
  }

  std::unique_lock lock(shard.mutex);
  shard.reclaim(now, kPutSweepExamine, kPutSweepExamine, released);
  Entry* old = nullptr;
  if (auto it = shard.map.find(digest); it != shard.map.end()) old = it->second;
  const bool same_key = old != nullptr && old->ns == ns && old->key == key;

  if (!fits) {
    // The old value is superseded even though the new one cannot be kept.
    ++shard.stats.rejections;
    if (same_key) shard.drop(old, now, &StoreStats::deletes, released);
    released.push_back(std::move(value));  // the caller may need to drop it unlocked too
    return false;
  }

  bool replaced_live = false;
  if (same_key) {
    replaced_live = shard.drop(old, now, nullptr, released);
  } else if (old != nullptr) {
    ++shard.stats.collisions;  // one entry per digest: the other key gives way
    shard.drop(old, now, &StoreStats::evictions, released);
  }
  ++(replaced_live ? shard.stats.updates : shard.stats.inserts);

  // Room first, then the new entry: it is no candidate for its own eviction.
  const std::size_t total = entry->charge;
  const bool large = shard.large(total);
  const auto full = [&] {
    if (shard.entries_full()) return true;
    const std::size_t share = fair_share(large ? total : 0);
    if (share == kNoShare) {  // large entries alone overfill the store
      const std::size_t used = budget_.used.load();
      return used > max || total > max - used;
    }
    const std::size_t normal = shard.normal_bytes();
    return normal > share || (!large && total > share - normal);
  };
  while (full() && shard.evict_one(nullptr, now, released)) {
  }
  shard.link(entry.get(), tag_keys);
  entry->generation = space.add_live();
  entry.release();
  lock.unlock();

  // Over max_bytes only when this entry is large, large entries overfill the
  // store, or another shard holds more than a share that just shrank.
  if (over_budget()) shed(own, digest, now, released);
  return true;
}

PayloadPtr Store::get(std::uint32_t ns, std::string_view key, Released& released) {
  checked_ns(ns, namespace_capacity_);
  const Digest digest = digest_of(ns, key);
  Shard& shard = shard_for(digest);
  const double now = clock_();

  std::lock_guard lock(shard.mutex);
  Entry* e = shard.find(ns, key, digest);
  if (e != nullptr && e->dead(now)) {
    shard.drop(e, now, nullptr, released);
    e = nullptr;
  }
  if (e == nullptr) {
    ++shard.stats.misses;
    return nullptr;
  }
  shard.policy.on_hit(e);
  ++shard.stats.hits;
  return e->value;
}

PayloadPtr Store::peek(std::uint32_t ns, std::string_view key) {
  checked_ns(ns, namespace_capacity_);
  const Digest digest = digest_of(ns, key);
  Shard& shard = shard_for(digest);
  const double now = clock_();

  std::lock_guard lock(shard.mutex);
  Entry* e = shard.find(ns, key, digest);
  return e == nullptr || e->dead(now) ? nullptr : e->value;
}

std::size_t Store::erase(std::uint32_t ns, std::string_view key, Released& released) {
  checked_ns(ns, namespace_capacity_);
  const Digest digest = digest_of(ns, key);
  Shard& shard = shard_for(digest);
  const double now = clock_();

  std::lock_guard lock(shard.mutex);
  Entry* e = shard.find(ns, key, digest);
  if (e == nullptr) return 0;
  return shard.drop(e, now, &StoreStats::deletes, released) ? 1 : 0;
}

std::size_t Store::invalidate_tags(std::uint32_t ns, std::span<const std::string> tags, bool soft,
                                  const Purger& purger, Released& released) {
  checked_ns(ns, namespace_capacity_);
  std::vector<std::string> keys;
  keys.reserve(tags.size());
  for (const std::string& tag : tags) keys.push_back(detail::tag_key(ns, tag));
  std::size_t responses = 0;
  std::vector<Entry*> found;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    const double now = clock_();
    found.clear();
    for (const std::string& key : keys) shard->tags.collect(key, found);
    // An entry carrying several of the tags is invalidated once.
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    for (Entry* e : found) {
      if (e->dead(now)) {  // expired, or of a cleared generation: reclaimed, not counted
        shard->drop(e, now, nullptr, released);
        continue;
      }
      Purge purge = purger ? purger(e->value, soft) : Purge{};
      responses += purge.responses;
      if (!soft) {
        shard->drop(e, now, &StoreStats::deletes, released);
        continue;
      }
      ++shard->stats.softened;
      if (purge.replacement) {
        released.push_back(std::move(e->value));
        e->value = std::move(purge.replacement);
      }
      if (purge.ttl > 0) {
        const double until = now + purge.ttl;
        if (e->expires_at <= 0 || until < e->expires_at) e->expires_at = until;
      }
    }
  }
  return responses;
}

std::size_t Store::clear(std::uint32_t ns) { return namespaces_[checked_ns(ns, namespace_capacity_)].clear(); }

std::size_t Store::clear_all(Released& released) {
  const double now = clock_();
  std::size_t removed = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    while (Entry* e = shard->policy.coldest()) {
      if (shard->drop(e, now, &StoreStats::deletes, released)) ++removed;
    }
  }
  return removed;
}

std::size_t Store::sweep(std::size_t budget, Released& released) {
  const double now = clock_();
  std::size_t reclaimed = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    reclaimed += shard->reclaim(now, std::numeric_limits<std::size_t>::max(), budget, released);
  }
  return reclaimed;
}

StoreStats Store::stats() const {
  StoreStats total;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    const StoreStats& s = shard->stats;
    total.hits += s.hits;
    total.misses += s.misses;
    total.inserts += s.inserts;
    total.updates += s.updates;
    total.evictions += s.evictions;
    total.expirations += s.expirations;
    total.deletes += s.deletes;
    total.collisions += s.collisions;
    total.rejections += s.rejections;
    total.softened += s.softened;
    total.bytes += s.bytes;
    total.entries += s.entries;
    total.tag_links += shard->tags.links();
    total.tag_buckets += shard->tags.buckets();
  }
  return total;
}

}  // namespace fcr
