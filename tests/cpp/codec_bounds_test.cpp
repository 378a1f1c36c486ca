// The decoder never reads outside its input (SPEC section 5: "decoded by the
// C++ codec with strict bounds checks"). Every truncation of an encoding, with
// its checksum recomputed so that the structural checks are reached, is decoded
// from the very end of a page whose successor is unmapped: a read past the
// input faults here instead of quietly reading a neighbour's bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

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

}  // namespace
