// MurmurHash3 x64-128 (Austin Appleby's public-domain construction).
//
// Word order: the reference writes h1 then h2 as little-endian bytes, i.e. the
// 128-bit little-endian value (h2 << 64) | h1. Digest keeps that value, so
// hi = h2 and lo = h1, and to_hex() equals the 32-digit hex of that integer
// (Python: format(mmh3.hash128(data, seed, signed=False), "032x")).
// For seeds below 2^32 the output equals the reference's uint32_t-seeded one.
#include "fcr/hash.hpp"

#include <bit>
#include <cstring>

namespace fcr {
namespace {

constexpr std::uint64_t kC1 = 0x87c37b91114253d5ULL;
constexpr std::uint64_t kC2 = 0x4cf5ad432745937fULL;

// Little-endian load regardless of host byte order: digests are persisted.
std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    v = ((v & 0x00000000000000FFULL) << 56) | ((v & 0x000000000000FF00ULL) << 40) |
        ((v & 0x0000000000FF0000ULL) << 24) | ((v & 0x00000000FF000000ULL) << 8) |
        ((v & 0x000000FF00000000ULL) >> 8) | ((v & 0x0000FF0000000000ULL) >> 24) |
        ((v & 0x00FF000000000000ULL) >> 40) | ((v & 0xFF00000000000000ULL) >> 56);
  }
  return v;
}

std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

std::uint64_t mix_k1(std::uint64_t k1) noexcept { return std::rotl(k1 * kC1, 31) * kC2; }
std::uint64_t mix_k2(std::uint64_t k2) noexcept { return std::rotl(k2 * kC2, 33) * kC1; }

}  // namespace

Digest hash128(std::string_view data, std::uint64_t seed) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t len = data.size();
  const std::size_t nblocks = len / 16;

  std::uint64_t h1 = seed;
  std::uint64_t h2 = seed;

  for (std::size_t i = 0; i < nblocks; ++i) {
    const std::uint64_t k1 = load_le64(bytes + i * 16);
    const std::uint64_t k2 = load_le64(bytes + i * 16 + 8);

    h1 ^= mix_k1(k1);
    h1 = std::rotl(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;

    h2 ^= mix_k2(k2);
    h2 = std::rotl(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }

  // Tail: bytes 0..7 go into k1 and 8..14 into k2, little-endian.
  const unsigned char* tail = bytes + nblocks * 16;
  const std::size_t rest = len & 15;
  std::uint64_t k1 = 0;
  std::uint64_t k2 = 0;
  for (std::size_t i = rest; i > 8; --i) k2 |= static_cast<std::uint64_t>(tail[i - 1]) << ((i - 9) * 8);
  for (std::size_t i = rest < 8 ? rest : 8; i > 0; --i) k1 |= static_cast<std::uint64_t>(tail[i - 1]) << ((i - 1) * 8);
  if (rest > 8) h2 ^= mix_k2(k2);
  if (rest > 0) h1 ^= mix_k1(k1);

  h1 ^= static_cast<std::uint64_t>(len);
  h2 ^= static_cast<std::uint64_t>(len);
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;

  return Digest{.hi = h2, .lo = h1};
}

std::string to_hex(const Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(digest.hi >> (4 * i)) & 0xF];
    out[31 - i] = kDigits[(digest.lo >> (4 * i)) & 0xF];
  }
  return out;
}

}  // namespace fcr
