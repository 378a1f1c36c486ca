// The entry codec on untrusted bytes: decode never crashes or reads out of
// bounds, and whatever it accepts is the unique encoding of the record it
// returns (re-encoding the views gives exactly the input back).
//
// Random bytes almost never carry a matching checksum, so each input is also
// tried with a correct checksum appended, and with the magic and version put
// in front as well: that lets the fuzzer explore the field parser itself.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fcr/codec.hpp"
#include "fcr/hash.hpp"
#include "fuzz_check.hpp"

namespace {

std::string sealed(std::string data) {
  const std::uint64_t sum = fcr::hash128(data).lo;
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(sum >> (8 * i));
  data.append(reinterpret_cast<const char*>(le), sizeof le);
  return data;
}

void check(std::string_view data) {
  const auto view = fcr::codec::decode(data);
  if (!view) return;
  FUZZ_CHECK(fcr::codec::invalid_reason(*view) == nullptr);
  FUZZ_CHECK(fcr::codec::encoded_size(*view) == data.size());
  std::string again(data.size(), '\0');
  fcr::codec::encode_into(*view, again.data());
  FUZZ_CHECK(again == data);
  // Through an owning Record as well.
  FUZZ_CHECK(fcr::codec::encode(fcr::codec::to_record(*view)) == data);
  FUZZ_CHECK(fcr::fuzz::valid_utf8(view->key));
  for (std::string_view tag : view->tags) FUZZ_CHECK(fcr::fuzz::valid_utf8(tag));
  for (std::string_view name : view->vary) FUZZ_CHECK(fcr::fuzz::valid_utf8(name));
  FUZZ_CHECK(fcr::fuzz::valid_utf8(view->secondary));
  FUZZ_CHECK(view->vary.size() <= fcr::codec::kMaxVaryNames);
  if (view->media_type) FUZZ_CHECK(fcr::fuzz::valid_utf8(*view->media_type));
  FUZZ_CHECK(view->status >= 100 && view->status <= 999);
  FUZZ_CHECK(view->headers.size() <= fcr::codec::kMaxHeaders);
  FUZZ_CHECK(view->tags.size() <= fcr::codec::kMaxTags);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(input);
  check(sealed(std::string(input)));
  check(sealed(std::string("FCRE\x03", 5) + std::string(input)));
  // A single-byte flip of an accepted input is always rejected (checksum).
  if (fcr::codec::decode(input) && size > 0) {
    std::string flipped(input);
    flipped[size / 2] = static_cast<char>(flipped[size / 2] ^ 0x20);
    FUZZ_CHECK(!fcr::codec::decode(flipped));
  }
  return 0;
}
