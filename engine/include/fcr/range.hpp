// Range requests answered from a stored complete 200 (RFC 9110 section 14).
#pragma once

#include <cstdint>
#include <string_view>

namespace fcr::http {

enum class RangeAnswer : std::uint8_t {
  full,           // send the whole stored representation (200): no Range, an
                  // If-Range that does not match, a unit other than bytes, or
                  // a syntax we do not serve (several ranges)
  partial,        // 206 with Content-Range for [first, last]
  unsatisfiable,  // 416 with Content-Range: bytes */length
};

struct ByteRange {
  RangeAnswer answer = RangeAnswer::full;
  std::uint64_t first = 0;  // inclusive
  std::uint64_t last = 0;   // inclusive
};

// The answer to `range` (the Range field value) for a stored 200 of `length`
// bytes. `if_range` (present when has_if_range) is compared with the stored
// `etag` (strong comparison, section 13.1.5: a weak or different tag means
// full) or, when it is an HTTP-date, with `last_modified` (exact match, and
// only a strong validator: section 13.1.5 via 8.8.2.2 -- we treat a
// Last-Modified at least one second older than the response's Date as strong;
// callers without Date pass last_modified_strong = false). `last_modified`
// < 0 means the entry has none (as in is_not_modified); an empty `etag`, none.
// A false If-Range means full, before the Range itself is looked at.
//
// Range (section 14): unit "bytes", case-insensitive; members of the
// range-set may have OWS around them and empty ones are skipped. Invalid
// syntax (another unit, no member, a member that is not a-b / a- / -n, last <
// first) means full: a server may ignore Range (section 14.2). Numbers too
// large for 64 bits saturate and still compare exactly. One satisfiable range
// is partial, [first, last] with last clamped to length - 1; no satisfiable
// range (every first >= length, a suffix of 0, an int-range on length 0) is
// unsatisfiable. Several ranges are full when any is satisfiable (we send no
// multipart/byteranges). On length 0, a non-zero suffix is satisfiable
// (section 14.1.2) but has no Content-Range: full (the empty body).
// Range is defined for GET only (section 14.2): callers do not ask for others.
ByteRange evaluate_range(std::string_view range, std::uint64_t length, std::string_view if_range,
                         bool has_if_range, std::string_view etag, std::int64_t last_modified,
                         bool last_modified_strong);

}  // namespace fcr::http
