// The tag index of one shard (surrogate keys): for each (namespace, tag), the
// entries carrying it. Every entry owns one link per tag it carries; a tag's
// links form an intrusive circular list headed by its bucket, so linking and
// unlinking an entry costs O(its tags) and finding a tag's entries O(them),
// never a scan of the shard. A bucket leaves with its last link.
//
// Not synchronised: the shard's mutex guards it, like the rest of the shard.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fcr::detail {

// The bucket key of a tag in a namespace: the id's four bytes, then the tag.
inline std::string tag_key(std::uint32_t ns, std::string_view tag) {
  std::string key(sizeof ns + tag.size(), '\0');
  std::memcpy(key.data(), &ns, sizeof ns);
  std::memcpy(key.data() + sizeof ns, tag.data(), tag.size());
  return key;
}

template <class Entry>
class TagIndex {
 public:
  struct Bucket;
  struct Link {
    Link* prev = nullptr;
    Link* next = nullptr;
    Entry* entry = nullptr;
    Bucket* bucket = nullptr;
  };
  struct Bucket {
    explicit Bucket(std::string k) : key(std::move(k)) { head.prev = head.next = &head; }
    std::string key;  // tag_key(); the map's key views it
    Link head;        // sentinel
    std::size_t size = 0;
  };

  // The links an entry carries, allocated before the shard is locked.
  static std::unique_ptr<Link[]> make_links(std::size_t count) {
    return count == 0 ? nullptr : std::make_unique<Link[]>(count);
  }

  // Links `entry` (whose `links` has one slot per key) into the bucket of each
  // key. Buckets are created first; if that throws, the empty ones created are
  // removed and nothing is linked.
  void link(Entry* entry, Link* links, std::span<const std::string> keys) {
    std::vector<Bucket*> buckets;
    buckets.reserve(keys.size());
    try {
      for (const std::string& key : keys) buckets.push_back(&bucket(key));
    } catch (...) {
      for (Bucket* b : buckets) {
        if (b->size == 0) erase(b);
      }
      throw;
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      Link& l = links[i];
      Bucket* b = buckets[i];
      l.entry = entry;
      l.bucket = b;
      l.prev = b->head.prev;
      l.next = &b->head;
      b->head.prev->next = &l;
      b->head.prev = &l;
      ++b->size;
      ++links_;
    }
  }

  // Removes `count` links of an entry from their buckets.
  void unlink(Link* links, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      Link& l = links[i];
      if (l.bucket == nullptr) continue;  // never linked
      l.prev->next = l.next;
      l.next->prev = l.prev;
      Bucket* b = l.bucket;
      l = Link{};
      --links_;
      if (--b->size == 0) erase(b);
    }
  }

  // Appends the entries carrying the tag of `key` to `out`.
  void collect(std::string_view key, std::vector<Entry*>& out) const {
    auto it = buckets_.find(key);
    if (it == buckets_.end()) return;
    const Bucket& b = *it->second;
    for (const Link* l = b.head.next; l != &b.head; l = l->next) out.push_back(l->entry);
  }

  std::size_t links() const noexcept { return links_; }
  std::size_t buckets() const noexcept { return buckets_.size(); }

 private:
  Bucket& bucket(const std::string& key) {
    if (auto it = buckets_.find(key); it != buckets_.end()) return *it->second;
    auto owned = std::make_unique<Bucket>(key);
    Bucket& b = *owned;
    buckets_.emplace(std::string_view(b.key), std::move(owned));
    return b;
  }

  void erase(Bucket* b) noexcept {
    // By iterator: the key the map compares lives in the bucket being freed.
    auto it = buckets_.find(std::string_view(b->key));
    if (it != buckets_.end()) buckets_.erase(it);
  }

  std::unordered_map<std::string_view, std::unique_ptr<Bucket>> buckets_;
  std::size_t links_ = 0;
};

}  // namespace fcr::detail
