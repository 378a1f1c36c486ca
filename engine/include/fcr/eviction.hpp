// Eviction policies of the store: which entry leaves when a shard is over
// budget. Each policy orders intrusive nodes and never owns them; the store
// (or a test) allocates, frees and does all budget arithmetic.
//
// A node type `Node` provides
//   EvictionHook<Node> hook;                  // the policy's bookkeeping
//   std::uint64_t eviction_id() const;        // a well-mixed hash (ghost queue)
//   std::size_t eviction_size() const;        // bytes it holds (queue shares)
// and every policy has the same small interface, all O(1) except victim()
// (amortised O(1)):
//   on_insert(n)   n enters (not linked yet)
//   on_hit(n)      n was read; never allocates, S3-FIFO and SIEVE move nothing
//   on_remove(n)   n leaves for a reason of its own (delete, expiry, replace)
//   victim()       the node to evict next, or nullptr when empty; may reorder
//                  internally but leaves every node linked
//   on_evict(n)    n (the last victim()) leaves because of the budget
//   coldest(), warmer(n)  walk every linked node, roughly coldest first, for
//                  reclaiming dead entries; no reordering
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

namespace fcr {

enum class EvictionPolicy : std::uint8_t {
  s3fifo,  // the default: beats LRU on skewed and scan traffic (benchmarks/eviction)
  lru,
  sieve,
};

// The knobs of S3-FIFO (Yang et al., "FIFO queues are all you need for cache
// eviction", SOSP 2023). New entries enter a small probationary FIFO; those
// read while there move to the main FIFO when they reach its tail, the others
// leave and are remembered in a ghost queue of hashes, so that a quick return
// goes straight to the main FIFO. The main FIFO reinserts entries read since
// their last pass (CLOCK with a small counter).
struct S3FifoParams {
  // Share of the held bytes the small FIFO may use before eviction takes from
  // it. The paper's 10 %.
  double small_fraction = 0.10;
  // Ghost queue length as a multiple of the entries held (the paper keeps as
  // many ghosts as the main FIFO holds entries: 0.9 with a 10 % small FIFO).
  // Costs 16 to 32 bytes per ghost (8-byte slots, table 25-50 % full),
  // outside the store's byte budget.
  double ghost_ratio = 0.90;
  // Cap of the per-entry read counter: 3 is the paper's 2-bit counter; each
  // pass through the main FIFO's tail spends one read.
  std::uint8_t max_freq = 3;
  // Reads while in the small FIFO that earn a place in the main FIFO.
  std::uint8_t promote_reads = 1;
};

// Per-node state of every policy, embedded in the node.
template <class Node>
struct EvictionHook {
  Node* prev = nullptr;  // towards the newest end of the node's list
  Node* next = nullptr;  // towards the oldest end
  std::uint8_t freq = 0;   // S3-FIFO read counter; SIEVE visited bit
  std::uint8_t queue = 0;  // S3-FIFO: which FIFO holds the node
};

// An intrusive doubly linked list, newest at the head, with the count and the
// bytes of its nodes.
template <class Node>
class EvictionList {
 public:
  Node* head() const noexcept { return head_; }
  Node* tail() const noexcept { return tail_; }
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t count() const noexcept { return count_; }
  std::size_t bytes() const noexcept { return bytes_; }

  void push_front(Node* n) noexcept {
    n->hook.prev = nullptr;
    n->hook.next = head_;
    (head_ ? head_->hook.prev : tail_) = n;
    head_ = n;
    ++count_;
    bytes_ += n->eviction_size();
  }
  void unlink(Node* n) noexcept {
    (n->hook.prev ? n->hook.prev->hook.next : head_) = n->hook.next;
    (n->hook.next ? n->hook.next->hook.prev : tail_) = n->hook.prev;
    n->hook.prev = n->hook.next = nullptr;
    --count_;
    bytes_ -= n->eviction_size();
  }

 private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
};

// Least recently used: a hit moves the node to the head.
template <class Node>
class LruPolicy {
 public:
  void on_insert(Node* n) noexcept { list_.push_front(n); }
  void on_hit(Node* n) noexcept {
    if (list_.head() == n) return;
    list_.unlink(n);
    list_.push_front(n);
  }
  void on_remove(Node* n) noexcept { list_.unlink(n); }
  Node* victim() noexcept { return list_.tail(); }
  void on_evict(Node* n) noexcept { list_.unlink(n); }
  Node* coldest() const noexcept { return list_.tail(); }
  Node* warmer(const Node* n) const noexcept { return n->hook.prev; }
  std::size_t size() const noexcept { return list_.count(); }

 private:
  EvictionList<Node> list_;
};

// SIEVE (Zhang et al., NSDI 2024): one FIFO and a hand that moves from the
// oldest end towards the newest, clearing visited bits, and evicts the first
// unvisited node. A hit only sets the bit.
template <class Node>
class SievePolicy {
 public:
  void on_insert(Node* n) noexcept {
    n->hook.freq = 0;
    list_.push_front(n);
  }
  void on_hit(Node* n) noexcept { n->hook.freq = 1; }
  void on_remove(Node* n) noexcept {
    if (hand_ == n) hand_ = n->hook.prev;
    list_.unlink(n);
  }
  Node* victim() noexcept {
    Node* n = hand_ ? hand_ : list_.tail();
    while (n != nullptr && n->hook.freq != 0) {
      n->hook.freq = 0;
      n = n->hook.prev ? n->hook.prev : list_.tail();
    }
    hand_ = n;
    return n;
  }
  void on_evict(Node* n) noexcept { on_remove(n); }
  Node* coldest() const noexcept { return list_.tail(); }
  Node* warmer(const Node* n) const noexcept { return n->hook.prev; }
  std::size_t size() const noexcept { return list_.count(); }

 private:
  EvictionList<Node> list_;
  Node* hand_ = nullptr;
};

// S3-FIFO's ghost queue: the ids of the last `length` entries evicted from the
// small FIFO, kept as 32-bit fingerprints stamped with an insertion counter in
// an 8-way bucketed table (the layout the S3-FIFO authors suggest). An id is
// still queued while fewer than `length` ids were added after it, so the queue
// is exactly FIFO-bounded without a list; the table stays at most half full,
// and allocates only when `length` outgrows it (which forgets the ghosts).
class GhostQueue {
 public:
  // Sets the queue length; grows the table if needed (if that allocation
  // fails the old table stays: the queue is only a hint).
  void set_length(std::size_t length) noexcept;
  void push(std::uint64_t id) noexcept;
  // Whether `id` is queued; if so it leaves the queue.
  bool take(std::uint64_t id) noexcept;
  std::size_t length() const noexcept { return length_; }
  std::size_t slots() const noexcept { return slots_.size(); }

 private:
  struct Slot {
    std::uint32_t fingerprint = 0;  // 0: empty
    std::uint32_t stamp = 0;        // value of clock_ when pushed
  };
  static constexpr std::size_t kWays = 8;

  Slot* bucket(std::uint64_t id) noexcept;
  bool live(const Slot& s) const noexcept;

  std::vector<Slot> slots_;
  std::size_t length_ = 0;
  std::uint32_t clock_ = 0;  // ids pushed so far (wraps)
};

template <class Node>
class S3FifoPolicy {
 public:
  explicit S3FifoPolicy(const S3FifoParams& params = {}) : params_(params) {}

  void on_insert(Node* n) noexcept {
    n->hook.freq = 0;
    if (ghost_.take(n->eviction_id())) {
      n->hook.queue = kMain;
      main_.push_front(n);
    } else {
      n->hook.queue = kSmall;
      small_.push_front(n);
    }
  }
  void on_hit(Node* n) noexcept {
    if (n->hook.freq < params_.max_freq) ++n->hook.freq;
  }
  void on_remove(Node* n) noexcept { queue_of(n).unlink(n); }

  Node* victim() noexcept {
    for (;;) {
      if (small_.empty() && main_.empty()) return nullptr;
      if (take_from_small()) {
        Node* n = small_.tail();
        if (n->hook.freq < params_.promote_reads) return n;
        small_.unlink(n);  // read while on probation: promote, reads spent
        n->hook.freq = 0;
        n->hook.queue = kMain;
        main_.push_front(n);
      } else {
        Node* n = main_.tail();
        if (n->hook.freq == 0) return n;
        main_.unlink(n);  // read since its last pass: one more round
        --n->hook.freq;
        main_.push_front(n);
      }
    }
  }

  void on_evict(Node* n) noexcept {
    if (n->hook.queue == kSmall) {
      const double wanted = params_.ghost_ratio * static_cast<double>(size());
      ghost_.set_length(wanted >= 1 ? static_cast<std::size_t>(wanted) : 1);
      ghost_.push(n->eviction_id());
    }
    on_remove(n);
  }

  Node* coldest() const noexcept { return small_.empty() ? main_.tail() : small_.tail(); }
  Node* warmer(const Node* n) const noexcept {
    if (n->hook.prev != nullptr) return n->hook.prev;
    return n->hook.queue == kSmall ? main_.tail() : nullptr;
  }
  std::size_t size() const noexcept { return small_.count() + main_.count(); }
  bool in_main(const Node* n) const noexcept { return n->hook.queue == kMain; }
  const GhostQueue& ghost() const noexcept { return ghost_; }

 private:
  static constexpr std::uint8_t kSmall = 0;
  static constexpr std::uint8_t kMain = 1;

  EvictionList<Node>& queue_of(const Node* n) noexcept { return n->hook.queue == kMain ? main_ : small_; }
  bool take_from_small() const noexcept {
    if (small_.empty()) return false;
    if (main_.empty()) return true;
    const double held = static_cast<double>(small_.bytes() + main_.bytes());
    return static_cast<double>(small_.bytes()) >= params_.small_fraction * held;
  }

  S3FifoParams params_;
  EvictionList<Node> small_;
  EvictionList<Node> main_;
  GhostQueue ghost_;
};

// One of the policies, chosen at run time (the store's configuration).
template <class Node>
class AnyEvictionPolicy {
 public:
  AnyEvictionPolicy(EvictionPolicy kind, const S3FifoParams& params) : impl_(make(kind, params)) {}

  void on_insert(Node* n) noexcept {
    std::visit([n](auto& p) { p.on_insert(n); }, impl_);
  }
  void on_hit(Node* n) noexcept {
    std::visit([n](auto& p) { p.on_hit(n); }, impl_);
  }
  void on_remove(Node* n) noexcept {
    std::visit([n](auto& p) { p.on_remove(n); }, impl_);
  }
  Node* victim() noexcept {
    return std::visit([](auto& p) { return p.victim(); }, impl_);
  }
  void on_evict(Node* n) noexcept {
    std::visit([n](auto& p) { p.on_evict(n); }, impl_);
  }
  Node* coldest() const noexcept {
    return std::visit([](const auto& p) { return p.coldest(); }, impl_);
  }
  Node* warmer(const Node* n) const noexcept {
    return std::visit([n](const auto& p) { return p.warmer(n); }, impl_);
  }
  std::size_t size() const noexcept {
    return std::visit([](const auto& p) { return p.size(); }, impl_);
  }

 private:
  using Impl = std::variant<S3FifoPolicy<Node>, LruPolicy<Node>, SievePolicy<Node>>;
  static Impl make(EvictionPolicy kind, const S3FifoParams& params) {
    switch (kind) {
      case EvictionPolicy::lru:
        return LruPolicy<Node>{};
      case EvictionPolicy::sieve:
        return SievePolicy<Node>{};
      case EvictionPolicy::s3fifo:
        break;
    }
    return S3FifoPolicy<Node>{params};
  }
  Impl impl_;
};

}  // namespace fcr
