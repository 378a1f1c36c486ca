// The decoder never reads outside its input (SPEC section 5: "decoded by the
// C++ codec with strict bounds checks"). Every truncation of an encoding, with
// its checksum recomputed so that the structural checks are reached, is decoded
// from the very end of a page whose successor is unmapped: a read past the
// input faults here instead of quietly reading a neighbour's bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "fcr/codec.hpp"
#include "fcr/hash.hpp"

namespace {

using fcr::codec::decode;
using fcr::codec::encode;
using fcr::codec::Record;

class GuardedPage {
 public:
  GuardedPage() : size_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))) {
    void* base = mmap(nullptr, 2 * size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<char*>(base);
    if (mprotect(base_ + size_, size_, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
  }
  ~GuardedPage() { munmap(base_, 2 * size_); }
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;

  // A copy of `data` that ends where the unmapped page begins.
  std::string_view place(std::string_view data) {
    if (data.size() > size_) throw std::length_error("larger than a page");
    char* at = base_ + size_ - data.size();
    std::memcpy(at, data.data(), data.size());
    return {at, data.size()};
  }

 private:
  std::size_t size_;
  char* base_ = nullptr;
};

// The encoding's checksum: the low 64 bits of hash128, little-endian.
std::string with_checksum(std::string covered) {
  const std::uint64_t sum = fcr::hash128(covered).lo;
  for (int shift = 0; shift < 64; shift += 8) covered.push_back(static_cast<char>(sum >> shift));
  return covered;
}

Record sample() {
  Record r;
  r.key = "GET /items?page=2";
  r.status = 200;
  r.headers = {{"content-type", "application/json"}, {"etag", "\"v1\""}};
  r.body = "{\"items\":[1,2,3]}";
  r.media_type = "application/json";
  r.stored_at = 1767225600.25;
  r.last_modified = 1767225600;
  r.lifetime = 60.5;
  r.tags = {"items", "page:2"};
  return r;
}

TEST(CodecBounds, EveryResealedTruncationIsRejectedWithoutReadingPastTheInput) {
  GuardedPage page;
  const std::string bytes = encode(sample());
  ASSERT_TRUE(decode(page.place(bytes)));
  const std::string_view covered = std::string_view(bytes).substr(0, bytes.size() - 8);
  for (std::size_t n = 0; n < covered.size(); ++n) {
    const std::string truncated = with_checksum(std::string(covered.substr(0, n)));
    EXPECT_FALSE(decode(page.place(truncated))) << "resealed prefix of " << n;
  }
}

// Little-endian fixed-width fields, as the format stores them.
template <class T>
void put_le(std::string& out, T v) {
  unsigned char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < sizeof v / 2; ++i) std::swap(b[i], b[sizeof v - 1 - i]);
  }
  out.append(reinterpret_cast<const char*>(b), sizeof v);
}

// A length whose low 64 bits say 1 but whose tenth byte carries bits above
// 2^64: wrapping it would read a huge length as a small one.
TEST(CodecBounds, AVarintWithBitsAbove2Pow64IsRejectedWhateverItsLow64BitsSay) {
  const auto encoding = [](std::string_view key_length) {
    std::string out = "FCRE";
    out.push_back(static_cast<char>(fcr::codec::kVersion));
    out.push_back('\x00');  // flags
    put_le(out, std::uint16_t{200});
    put_le(out, 1.5);
    put_le(out, std::int64_t{7});
    put_le(out, 2.5);
    put_le(out, 0.0);  // initial age
    put_le(out, 0.0);  // stale-while-revalidate
    put_le(out, 0.0);  // stale-if-error
    out.append(key_length);
    out += "k";
    out.push_back('\x00');  // no Vary names
    out.push_back('\x00');  // an empty secondary key
    out.push_back('\x00');  // no headers
    out += "\x01" "b";       // body
    out.push_back('\x00');  // no tags
    return with_checksum(out);
  };
  EXPECT_TRUE(decode(encoding("\x01")));
  EXPECT_FALSE(decode(encoding("\x81\x80\x80\x80\x80\x80\x80\x80\x80\x02")));
  EXPECT_FALSE(decode(encoding("\x81\x80\x80\x80\x80\x80\x80\x80\x80\x7e")));
}

}  // namespace
