// 128-bit non-cryptographic hashing used for cache-key digests and ETags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fcr {

struct Digest {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;

  friend bool operator==(const Digest&, const Digest&) = default;
};

// Stable across processes, platforms and releases: digests are persisted in
// shared stores, so the algorithm (MurmurHash3 x64-128 construction) and its
// output for a given input must never change. The reference's 16 output bytes
// read as one little-endian 128-bit integer: hi = h2, lo = h1, so to_hex()
// equals Python's format(mmh3.hash128(data, seed, signed=False), "032x").
Digest hash128(std::string_view data, std::uint64_t seed = 0) noexcept;

// Lower-case hex, 32 characters, hi word first.
std::string to_hex(const Digest& digest);

struct DigestHasher {
  std::size_t operator()(const Digest& d) const noexcept { return static_cast<std::size_t>(d.lo); }
};

}  // namespace fcr
