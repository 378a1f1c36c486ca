#include "fcr/hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <set>
#include <string>
#include <string_view>

using namespace std::literals;

namespace {

// Bytes (i * 7 + 1) mod 256, i = 0, 1, ...
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 1) & 0xFF);
  return s;
}

// Expected to_hex(hash128(pattern(n))) for n = 0..32, computed with the mmh3
// Python package (a binding of the reference MurmurHash3_x64_128) as
// format(mmh3.hash128(data, 0, signed=False), "032x"). Covers every tail
// length with zero, one and two full blocks.
constexpr std::array<std::string_view, 33> kPatternDigests = {
    "00000000000000000000000000000000",
    "778867e4430e67857ace5c908374fe16",
    "3aaf278f1c2e098f5d31399d73b20e17",
    "e52349bba7277b32c897be15b329c16e",
    "d7b57ede685dbcb7df9ff638375b8edd",
    "d718bacc8b8d22eea189a225b3ca4310",
    "2dbd8c0eace52780551782c9a299dace",
    "7431eb9928b75c6df1903a954f45f844",
    "db552f05ccdcc293c3993d2f1366930c",
    "7422944ac7a1d27ad9b7b4b05200a47a",
    "debd55ac26e15f624ffaca99927ade88",
    "912f94fead6ca5e30c0580278a42e79e",
    "a3152a9ba4aaab28229b6beecc454045",
    "f5c2c6051dfdf1dcf16a6ee8394f9e42",
    "19cd0846fb7378f15f93238d92c418c7",
    "8ac2e76da12371b54c26a3980bb4acb7",
    "a6a71737e43793e052eb3281de4bcda9",
    "682f4c63b56037854017ff9f41bb9db0",
    "bd44c78e0fdc67ea07b501afda145a1d",
    "5371271188ae89432b82973d0c9d55c9",
    "36e54877e27d338c01cf0df18d249722",
    "1c4865ee8df524f44def02832237ef2c",
    "4c1dc20b60e87e10ff99e22cf8fcdfdb",
    "0390fcc1a3e2f986bee353cd3748a2cd",
    "642722b41547a95cf627821420df2695",
    "e2eab43d389e76421f18ec4f76cc60b6",
    "ee515d08b151f3ac5b590de4a07be3c3",
    "439f287588c43a32fe4437fd7a81e018",
    "5a780e11ab9d4c25c62f51e4366eaf45",
    "dd292870021db3f1f8e65ca11532189b",
    "63dc21535b086feacaf9c9224dfc27f0",
    "aacc394db707ac9475e76d36669e9e8a",
    "cc82b898cd41bb0dfc8c8a037aa25180",
};

TEST(Hash128, EmptyWithSeedZeroIsZero) {
  const fcr::Digest d = fcr::hash128("");
  EXPECT_EQ(d.hi, 0u);
  EXPECT_EQ(d.lo, 0u);
  EXPECT_EQ(fcr::to_hex(d), "00000000000000000000000000000000");
}

TEST(Hash128, ReferenceVectors) {
  // Same source as kPatternDigests.
  EXPECT_EQ(fcr::to_hex(fcr::hash128("", 1)), "51622daa78f835834610abe56eff5cb5");
  EXPECT_EQ(fcr::to_hex(fcr::hash128("hello")), "5b1e906a48ae1d19cbd8a7b341bd9b02");
  EXPECT_EQ(fcr::to_hex(fcr::hash128("The quick brown fox jumps over the lazy dog")),
            "7a433ca9c49a9347e34bbc7bbc071b6c");
  EXPECT_EQ(fcr::to_hex(fcr::hash128("Hello, world!", 123)), "f19732fdd373c3f5421c8c738743acad");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(std::string(31, 'a'))), "dfe41bf976e7ad296c7ea977c252d3f1");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(std::string(40, '\xff'))), "9e3007b76c68349657ce227c3eee53e8");
}

TEST(Hash128, ReferenceVectorsWithSeed) {
  const std::uint64_t seed = 0x9747b28c;
  EXPECT_EQ(fcr::to_hex(fcr::hash128(pattern(0), seed)), "93b0608fe302957a392b208a1daabbb3");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(pattern(15), seed)), "12d8545230e031d0d150a8e03ed5f17e");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(pattern(16), seed)), "f549c245d7e092f9ea76d27bf2a48d5f");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(pattern(17), seed)), "c2e3aa264d9c9476f4772f016b902b69");
  EXPECT_EQ(fcr::to_hex(fcr::hash128(pattern(32), seed)), "ed7c5aa6b3fa683b04a132f9efcafde3");
}

TEST(Hash128, EveryTailLength) {
  for (std::size_t n = 0; n < kPatternDigests.size(); ++n) {
    // An exact-size heap copy, so ASan flags any read past the end.
    const std::string src = pattern(n);
    const auto buf = std::make_unique<char[]>(n == 0 ? 1 : n);
    std::copy(src.begin(), src.end(), buf.get());
    EXPECT_EQ(fcr::to_hex(fcr::hash128(std::string_view(buf.get(), n))), kPatternDigests[n]) << "n=" << n;
  }
}

TEST(Hash128, IndependentOfAlignment) {
  const std::string src = pattern(64);
  for (std::size_t offset = 0; offset < 16; ++offset) {
    std::string shifted(offset, 'x');
    shifted += src.substr(0, 33);
    EXPECT_EQ(fcr::hash128(std::string_view(shifted).substr(offset)), fcr::hash128(pattern(33)));
  }
}

TEST(Hash128, Stable) {
  const std::string s = "GET /items?a=1#accept=text/html";
  EXPECT_EQ(fcr::hash128(s), fcr::hash128(std::string(s)));
  EXPECT_EQ(fcr::hash128(s, 42), fcr::hash128(s, 42));
}

TEST(Hash128, DifferentInputsDiffer) {
  std::set<std::string> seen;
  for (std::size_t n = 0; n <= 64; ++n) seen.insert(fcr::to_hex(fcr::hash128(pattern(n))));
  for (int c = 0; c < 256; ++c) seen.insert(fcr::to_hex(fcr::hash128(std::string(1, static_cast<char>(c)))));
  EXPECT_EQ(seen.size(), 65u + 256u - 1u);  // pattern(1) == "\x01"
  EXPECT_NE(fcr::hash128("a"), fcr::hash128("a\0"sv));
  EXPECT_NE(fcr::hash128("abc", 0), fcr::hash128("abc", 1));
  EXPECT_NE(fcr::hash128("", 0), fcr::hash128("", 1));
}

TEST(Hash128, SeedAbove32Bits) {
  // The 64-bit seed is used in full; only seeds below 2^32 match the reference.
  EXPECT_NE(fcr::hash128("abc", 1), fcr::hash128("abc", (1ULL << 32) | 1));
}

TEST(ToHex, HiWordFirstLowerCase) {
  EXPECT_EQ(fcr::to_hex(fcr::Digest{.hi = 0x0123456789ABCDEFULL, .lo = 0xFEDCBA9876543210ULL}),
            "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(fcr::to_hex(fcr::Digest{.hi = 0, .lo = 1}), "00000000000000000000000000000001");
  EXPECT_EQ(fcr::to_hex(fcr::Digest{.hi = ~0ULL, .lo = 0}), "ffffffffffffffff0000000000000000");
}

TEST(DigestHasher, UsesLowWord) {
  const fcr::Digest d = fcr::hash128("x");
  EXPECT_EQ(fcr::DigestHasher{}(d), static_cast<std::size_t>(d.lo));
}

}  // namespace
