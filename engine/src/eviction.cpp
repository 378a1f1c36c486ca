#include "fcr/eviction.hpp"

#include <algorithm>
#include <bit>
#include <new>

namespace fcr {

void GhostQueue::set_length(std::size_t length) noexcept {
  length_ = length;
  if (length <= slots_.size() / 2) return;
  // At most half full; the old ghosts cannot be rehashed (a slot keeps only
  // part of the id), so they are forgotten. Happens log2(peak) times.
  const std::size_t wanted = std::max(kWays, std::bit_ceil(length * 2));
  try {
    std::vector<Slot> grown(wanted);
    slots_.swap(grown);
  } catch (const std::bad_alloc&) {
  }
}

GhostQueue::Slot* GhostQueue::bucket(std::uint64_t id) noexcept {
  const std::size_t buckets = slots_.size() / kWays;
  return slots_.data() + (static_cast<std::size_t>(id) & (buckets - 1)) * kWays;
}

bool GhostQueue::live(const Slot& s) const noexcept {
  // Pushed `age` ids ago (1: the last one); unsigned arithmetic handles wrap.
  const std::uint32_t age = clock_ - s.stamp;
  return s.fingerprint != 0 && age <= length_;
}

namespace {
// The bucket comes from the low bits of the id, the fingerprint from the high.
std::uint32_t fingerprint_of(std::uint64_t id) noexcept {
  const auto f = static_cast<std::uint32_t>(id >> 32);
  return f != 0 ? f : 1;
}
}  // namespace

void GhostQueue::push(std::uint64_t id) noexcept {
  if (slots_.empty()) return;
  const std::uint32_t fingerprint = fingerprint_of(id);
  Slot* b = bucket(id);
  // The id's own slot if queued, else a free one, else the oldest.
  Slot* target = nullptr;
  for (std::size_t i = 0; i < kWays; ++i) {
    Slot& s = b[i];
    if (s.fingerprint == fingerprint && live(s)) {
      target = &s;
      break;
    }
    if (!live(s)) {
      if (target == nullptr || live(*target)) target = &s;
    } else if (target == nullptr || (live(*target) && clock_ - s.stamp > clock_ - target->stamp)) {
      target = &s;
    }
  }
  target->fingerprint = fingerprint;
  target->stamp = clock_++;
}

bool GhostQueue::take(std::uint64_t id) noexcept {
  if (slots_.empty()) return false;
  const std::uint32_t fingerprint = fingerprint_of(id);
  Slot* b = bucket(id);
  for (std::size_t i = 0; i < kWays; ++i) {
    if (b[i].fingerprint == fingerprint && live(b[i])) {
      b[i].fingerprint = 0;
      return true;
    }
  }
  return false;
}

}  // namespace fcr
