#include "fcr/range.hpp"

#include <limits>
#include <optional>

#include "fcr/conditional.hpp"
#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::trim_ows;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

// A first-pos, last-pos or suffix-length (1*DIGIT, RFC 9110 section 14.1.1):
// its value saturated at 2^64 - 1, and its digits without leading zeros, so
// that two positions too large for 64 bits still compare exactly. Section
// 14.1.2: "recipients MUST anticipate potentially large decimal numerals and
// prevent parsing errors due to integer conversion overflows".
struct Position {
  std::uint64_t value = 0;
  std::string_view digits;
};

std::optional<Position> parse_position(std::string_view s) {
  if (s.empty()) return std::nullopt;
  Position p;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    p.value = p.value > (kMax - d) / 10 ? kMax : p.value * 10 + d;
  }
  const std::size_t nonzero = s.find_first_not_of('0');
  p.digits = nonzero == std::string_view::npos ? std::string_view{} : s.substr(nonzero);
  return p;
}

bool less(const Position& a, const Position& b) {
  if (a.digits.size() != b.digits.size()) return a.digits.size() < b.digits.size();
  return a.digits < b.digits;
}

// One range-spec: int-range = first-pos "-" [ last-pos ], or suffix-range =
// "-" suffix-length (then `first` holds the suffix-length).
struct Spec {
  bool suffix = false;
  Position first;
  std::optional<Position> last;
};

std::optional<Spec> parse_spec(std::string_view member) {
  const std::size_t dash = member.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view head = member.substr(0, dash);
  const std::string_view tail = member.substr(dash + 1);
  Spec spec;
  if (head.empty()) {
    const auto length = parse_position(tail);
    if (!length) return std::nullopt;
    spec.suffix = true;
    spec.first = *length;
    return spec;
  }
  const auto first = parse_position(head);
  if (!first) return std::nullopt;
  spec.first = *first;
  if (tail.empty()) return spec;
  spec.last = parse_position(tail);
  // Section 14.1.1: "An int-range is invalid if the last-pos value is present
  // and less than the first-pos."
  if (!spec.last || less(*spec.last, spec.first)) return std::nullopt;
  return spec;
}

// Section 14.1.2: "a valid bytes range-spec is satisfiable if it is either:
// an int-range with a first-pos that is less than the current length ... or a
// suffix-range with a non-zero suffix-length". A last-pos "greater than or
// equal to the current length" means "the remainder of the representation";
// a suffix-length beyond it, "the entire representation". Returns [first,
// last]; the caller never serves it for a zero length.
std::optional<ByteRange> resolve(const Spec& spec, std::uint64_t length) {
  ByteRange r;
  r.answer = RangeAnswer::partial;
  if (spec.suffix) {
    if (spec.first.value == 0) return std::nullopt;
    r.first = length - std::min(spec.first.value, length);
  } else {
    if (spec.first.value >= length) return std::nullopt;
    r.first = spec.first.value;
  }
  const std::uint64_t last = spec.last ? spec.last->value : kMax;
  r.last = length == 0 ? 0 : std::min(last, length - 1);
  return r;
}

// What a range-set holds: how many specs, how many are satisfiable, the
// first satisfiable one, and whether any spec is invalid.
struct Scan {
  std::size_t specs = 0;
  std::size_t satisfiable = 0;
  bool invalid = false;
  ByteRange hit;
};

Scan scan_range_set(std::string_view range_set, std::uint64_t length) {
  Scan scan;
  // range-set = 1#range-spec: OWS around members, empty members skipped
  // (RFC 9110 section 5.6.1).
  detail::for_each_plain_member(range_set, [&](std::string_view member) {
    const auto spec = parse_spec(member);
    if (!spec) {
      scan.invalid = true;
      return true;
    }
    ++scan.specs;
    if (const auto r = resolve(*spec, length)) {
      if (scan.satisfiable++ == 0) scan.hit = *r;
    }
    return false;
  });
  return scan;
}

// An entity-tag usable with the strong comparison: `"..."` without W/ and
// without an inner DQUOTE.
bool strong_tag(std::string_view tag) {
  return tag.size() >= 2 && tag.front() == '"' && tag.back() == '"' &&
         tag.substr(1, tag.size() - 2).find('"') == std::string_view::npos;
}

// RFC 9110 section 13.1.5. "A valid entity-tag can be distinguished from a
// valid HTTP-date by examining the first three characters for a DQUOTE." An
// entity-tag holds when it "exactly matches the ETag field value ... using
// the strong comparison function" (section 8.8.3.2: "both are not weak and
// their opaque-tags match character-by-character"); an HTTP-date when it is
// "a strong validator" and "exactly matches the Last-Modified field value".
// The date is parsed with the stored Last-Modified as "now": the RFC 850
// two-digit year then resolves to the only instant that can match.
bool if_range_holds(std::string_view if_range, std::string_view etag, std::int64_t last_modified,
                    bool last_modified_strong) {
  const std::string_view value = trim_ows(if_range);
  if (value.substr(0, 3).find('"') != std::string_view::npos) {
    const std::string_view ours = trim_ows(etag);
    return strong_tag(value) && strong_tag(ours) && value == ours;
  }
  if (last_modified < 0 || !last_modified_strong) return false;
  return parse_http_date(value, last_modified) == last_modified;
}

}  // namespace

ByteRange evaluate_range(std::string_view range, std::uint64_t length, std::string_view if_range,
                         bool has_if_range, std::string_view etag, std::int64_t last_modified,
                         bool last_modified_strong) {
  const ByteRange full;
  // Section 13.2.2, step 5: "evaluate the If-Range precondition: if it is
  // true and the Range is applicable ..., respond 206 ...; otherwise, ignore
  // the Range header field and respond 200".
  if (has_if_range && !if_range_holds(if_range, etag, last_modified, last_modified_strong)) {
    return full;
  }
  const std::string_view value = trim_ows(range);
  const std::size_t eq = value.find('=');
  // Section 14.1: "Range unit names are case-insensitive"; section 14.2: "An
  // origin server MUST ignore a Range header field that contains a range unit
  // it does not understand."
  if (eq == std::string_view::npos || !detail::iequals(value.substr(0, eq), "bytes")) return full;
  const Scan scan = scan_range_set(value.substr(eq + 1), length);
  // Section 14.2: "A server that supports range requests MAY ignore or reject
  // a Range header field that contains an invalid ranges-specifier".
  if (scan.invalid || scan.specs == 0) return full;
  // Section 15.5.17: 416 when "none of the ranges in the request's Range
  // header field overlap the current extent of the selected resource".
  if (scan.satisfiable == 0) return {RangeAnswer::unsatisfiable, 0, 0};
  // Several ranges would need multipart/byteranges, which we do not send; a
  // server MAY ignore Range (section 14.2). A zero-length representation has
  // a satisfiable suffix-range (section 14.1.2) but no Content-Range to
  // describe it: the whole (empty) representation is the answer.
  if (scan.specs > 1 || length == 0) return full;
  return scan.hit;
}

}  // namespace fcr::http
