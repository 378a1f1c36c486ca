// The entry codec: a versioned binary format for responses kept in shared
// stores (Redis, ...). Values read back from such a store are untrusted, so
// decode() checks every length against the bytes that remain, never throws and
// never reads outside its input; anything malformed is simply not an entry.
//
// Format, version 3 (all fixed-width numbers little-endian, copied with memcpy):
//
//   offset  size  field
//   0       4     magic "FCRE"
//   4       1     version = 3
//   5       1     flags: bit 0 = media type present, bit 1 = revalidate
//                 (no-cache), bit 2 = vary index (not a response: the Vary
//                 names under which the variants of `key` are stored), bit 3
//                 = unbounded (fresh until invalidated), bit 4 = must
//                 revalidate (never served stale), bit 5 = heuristic
//                 lifetime; the other bits must be zero
//   6       2     status (u16, 100..999)
//   8       8     stored_at (IEEE-754 binary64 bit pattern)
//   16      8     last_modified (i64, two's complement)
//   24      8     lifetime (IEEE-754 binary64 bit pattern)
//   32      8     initial_age: the corrected initial age at stored_at (binary64)
//   40      8     stale_while_revalidate seconds (binary64)
//   48      8     stale_if_error seconds (binary64)
//   56      ...   key            : str
//                 vary count     : varint (<= kMaxVaryNames), then each name : str
//                 secondary key  : str (the request's values of those names)
//                 header count   : varint (<= kMaxHeaders),
//                 then per field : name bytes, value bytes
//                 body           : bytes
//                 media type     : str, only when flag bit 0 is set
//                 tag count      : varint (<= kMaxTags), then each tag : str
//   n - 8   8     checksum: hash128(data[0, n - 8)).lo, seed 0 (see fcr/hash.hpp)
//
//   varint = unsigned LEB128, at most 10 bytes, minimal (no redundant
//            trailing 0x80/0x00 groups), value < 2^64
//   bytes  = varint length, then that many raw bytes (any values, NUL included)
//   str    = bytes holding well-formed UTF-8 (RFC 3629: no overlongs, no
//            surrogates, nothing above U+10FFFF)
//
// The encoding of a record is unique: decode() rejects non-minimal varints,
// unknown flag bits and trailing bytes, so encode(decode(x)) == x whenever
// decode(x) succeeds. A different version byte is rejected (a value written by
// a newer release is a miss, not a misread). The doubles are carried bit for
// bit and not interpreted here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcr::codec {

inline constexpr char kMagic[4] = {'F', 'C', 'R', 'E'};
inline constexpr std::uint8_t kVersion = 3;
inline constexpr std::uint8_t kFlagMediaType = 0x01;
inline constexpr std::uint8_t kFlagRevalidate = 0x02;
inline constexpr std::uint8_t kFlagVaryIndex = 0x04;
inline constexpr std::uint8_t kFlagUnbounded = 0x08;
inline constexpr std::uint8_t kFlagMustRevalidate = 0x10;
inline constexpr std::uint8_t kFlagHeuristic = 0x20;
inline constexpr std::uint8_t kKnownFlags = 0x3F;
inline constexpr std::size_t kMaxVaryNames = 256;
inline constexpr std::size_t kMaxHeaders = 1024;
inline constexpr std::size_t kMaxTags = 1024;
inline constexpr std::size_t kMaxVarintBytes = 10;
inline constexpr std::size_t kFixedPrefixSize = 56;  // magic .. stale_if_error
inline constexpr std::size_t kChecksumSize = 8;

// A stored response, owning its data.
struct Record {
  std::string key;  // the full canonical key
  std::uint16_t status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> media_type;
  double stored_at = 0;
  std::int64_t last_modified = 0;
  double lifetime = 0;
  double initial_age = 0;
  double stale_while_revalidate = 0;
  double stale_if_error = 0;
  bool revalidate = false;
  bool unbounded = false;
  bool must_revalidate = false;
  bool heuristic = false;
  bool vary_index = false;
  std::vector<std::string> vary;  // the Vary names the secondary key is made of
  std::string secondary;
  std::vector<std::string> tags;
};

// The same fields as views: what encode_into() reads (so a binding can encode
// straight from Python objects) and what decode() returns (views into the
// decoded buffer, valid while it is).
struct RecordView {
  std::string_view key;
  std::uint16_t status = 200;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;
  std::optional<std::string_view> media_type;
  double stored_at = 0;
  std::int64_t last_modified = 0;
  double lifetime = 0;
  double initial_age = 0;
  double stale_while_revalidate = 0;
  double stale_if_error = 0;
  bool revalidate = false;
  bool unbounded = false;
  bool must_revalidate = false;
  bool heuristic = false;
  bool vary_index = false;
  std::vector<std::string_view> vary;
  std::string_view secondary;
  std::vector<std::string_view> tags;
};

RecordView to_view(const Record& record);
Record to_record(const RecordView& view);

// Why `view` cannot be encoded (a record decode() would reject: status out of
// range, too many headers, Vary names or tags, key/media type/tag/Vary name/
// secondary key not UTF-8), or nullptr
// when it can.
const char* invalid_reason(const RecordView& view) noexcept;

// Exact size of the encoding of `view`.
std::size_t encoded_size(const RecordView& view) noexcept;

// Writes exactly encoded_size(view) bytes to `out`. Precondition:
// invalid_reason(view) == nullptr (otherwise decode() rejects the output).
void encode_into(const RecordView& view, char* out) noexcept;

// Convenience: the encoding as a string. Throws std::invalid_argument when
// invalid_reason() is not null.
std::string encode(const Record& record);

// The record encoded in `data` with views into `data`, or nullopt when `data`
// is not exactly one well-formed version-3 encoding with a matching checksum.
std::optional<RecordView> decode(std::string_view data) noexcept;

// Well-formed UTF-8 (RFC 3629), as Python's strict decoder accepts it.
bool valid_utf8(std::string_view s) noexcept;

}  // namespace fcr::codec
