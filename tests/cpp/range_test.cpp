// Range requests answered from a stored complete 200 (RFC 9110 section 14)
// and If-Range (section 13.1.5).
#include "fcr/range.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "fcr/conditional.hpp"

namespace {

using fcr::http::ByteRange;
using fcr::http::evaluate_range;
using fcr::http::RangeAnswer;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kLastModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kEtag = "\"v1\"";

// Range alone, against an entry with a strong ETag and a strong Last-Modified.
ByteRange range(std::string_view value, std::uint64_t length = 10000) {
  return evaluate_range(value, length, "", false, kEtag, kLastModified, true);
}

ByteRange with_if_range(std::string_view if_range, std::string_view etag = kEtag,
                        std::int64_t last_modified = kLastModified, bool strong = true) {
  return evaluate_range("bytes=0-99", 10000, if_range, true, etag, last_modified, strong);
}

void expect_partial(const ByteRange& r, std::uint64_t first, std::uint64_t last) {
  EXPECT_EQ(r.answer, RangeAnswer::partial);
  EXPECT_EQ(r.first, first);
  EXPECT_EQ(r.last, last);
}

// ---------------------------------------------------------------- forms

// RFC 9110 section 14.1.2: "The first 500 bytes (byte offsets 0-499,
// inclusive): bytes=0-499".
TEST(Range, IntRange) {
  expect_partial(range("bytes=0-499"), 0, 499);
  expect_partial(range("bytes=500-999"), 500, 999);
  expect_partial(range("bytes=9999-9999"), 9999, 9999);
}

// Section 14.1.2: "If the last-pos value is absent, or if the value is
// greater than or equal to the current length of the representation data,
// the byte range is interpreted as the remainder of the representation".
TEST(Range, OpenAndOverlongIntRangesEndAtTheLastByte) {
  expect_partial(range("bytes=9500-"), 9500, 9999);
  expect_partial(range("bytes=0-"), 0, 9999);
  expect_partial(range("bytes=9000-10000"), 9000, 9999);
  expect_partial(range("bytes=9000-99999999"), 9000, 9999);
}

// Section 14.1.2: "The final 500 bytes (byte offsets 9500-9999, inclusive):
// bytes=-500"; "If the selected representation is shorter than the specified
// suffix-length, the entire representation is used."
TEST(Range, SuffixRange) {
  expect_partial(range("bytes=-500"), 9500, 9999);
  expect_partial(range("bytes=-1"), 9999, 9999);
  expect_partial(range("bytes=-10000"), 0, 9999);
  expect_partial(range("bytes=-20000"), 0, 9999);
}

// Section 14.1: "Range unit names are case-insensitive"; section 5.6.1: list
// members may have OWS around them, and empty members are ignored.
TEST(Range, UnitCaseAndWhitespace) {
  expect_partial(range("BYTES=0-9"), 0, 9);
  expect_partial(range("Bytes=0-9"), 0, 9);
  expect_partial(range("bytes= 0-9 "), 0, 9);
  expect_partial(range("bytes=\t0-9,"), 0, 9);
  expect_partial(range("bytes=, ,0-9"), 0, 9);
  expect_partial(range("  bytes=0-9  "), 0, 9);
}

// ---------------------------------------------------------------- invalid

// Section 14.2: "An origin server MUST ignore a Range header field that
// contains a range unit it does not understand."
TEST(Range, OtherUnitsAreIgnored) {
  for (const char* v : {"items=0-9", "byte=0-9", "bytesx=0-9", "=0-9", "bytes 0-9", "bytes"}) {
    EXPECT_EQ(range(v).answer, RangeAnswer::full) << v;
  }
}

// Section 14.2: "A server that supports range requests MAY ignore or reject a
// Range header field that contains an invalid ranges-specifier"; section
// 14.1.1: "An int-range is invalid if the last-pos value is present and less
// than the first-pos."
TEST(Range, InvalidSyntaxIsIgnored) {
  for (const char* v : {"", "bytes=", "bytes=,", "bytes=-", "bytes=abc", "bytes=5", "bytes=5-4",
                        "bytes=0-9-", "bytes=--5", "bytes=0 - 9", "bytes=+1-5", "bytes=0-0x10",
                        "bytes=1.5-2", "bytes =0-9", "bytes= =0-9", "bytes=0-9,x",
                        "bytes=0-9;a=b", "bytes=-5-"}) {
    EXPECT_EQ(range(v).answer, RangeAnswer::full) << v;
  }
}

// ---------------------------------------------------------------- unsatisfiable

// Section 14.1.2: "a valid bytes range-spec is satisfiable if it is either: an
// int-range with a first-pos that is less than the current length ... or a
// suffix-range with a non-zero suffix-length"; section 15.5.17: 416 when
// "none of the ranges ... overlap the current extent".
TEST(Range, UnsatisfiableRanges) {
  for (const char* v : {"bytes=10000-", "bytes=10000-10001", "bytes=20000-30000", "bytes=-0",
                        "bytes=-000", "bytes=10000-,20000-", "bytes=-0,10000-"}) {
    const ByteRange r = range(v);
    EXPECT_EQ(r.answer, RangeAnswer::unsatisfiable) << v;
  }
}

// Section 14.1.2: "When a selected representation has zero length, the only
// satisfiable form of range-spec in a GET request is a suffix-range with a
// non-zero suffix-length." No Content-Range can describe it, so the (empty)
// representation is sent whole.
TEST(Range, ZeroLength) {
  EXPECT_EQ(range("bytes=0-", 0).answer, RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=0-0", 0).answer, RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=-0", 0).answer, RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=-5", 0).answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes=x", 0).answer, RangeAnswer::full);
}

// ---------------------------------------------------------------- several

// We send no multipart/byteranges: a server may ignore Range (section 14.2).
// 416 only when no range is satisfiable.
TEST(Range, SeveralRangesAreServedWhole) {
  EXPECT_EQ(range("bytes=0-0,-1").answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes= 0-999, 4500-5499, -1000").answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes=500-600,601-999").answer, RangeAnswer::full);  // even adjacent
  EXPECT_EQ(range("bytes=0-9,20000-").answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes=0-9,9-0").answer, RangeAnswer::full);  // one invalid member
  EXPECT_EQ(range("bytes=20000-,-0").answer, RangeAnswer::unsatisfiable);
}

// ---------------------------------------------------------------- overflow

// Section 14.1.2: "recipients MUST anticipate potentially large decimal
// numerals and prevent parsing errors due to integer conversion overflows."
TEST(Range, HugeNumbers) {
  EXPECT_EQ(range("bytes=18446744073709551616-").answer, RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=18446744073709551615-").answer, RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=99999999999999999999999999-").answer, RangeAnswer::unsatisfiable);
  expect_partial(range("bytes=5-18446744073709551616"), 5, 9999);
  expect_partial(range("bytes=5-999999999999999999999999999999"), 5, 9999);
  expect_partial(range("bytes=-18446744073709551616"), 0, 9999);
  expect_partial(range("bytes=-99999999999999999999999999999999"), 0, 9999);
  expect_partial(range("bytes=0000000000000000000000000000005-6"), 5, 6);
}

// Two positions beyond 64 bits still compare exactly for the last < first
// rule.
TEST(Range, HugeNumbersCompareExactly) {
  EXPECT_EQ(range("bytes=99999999999999999999-99999999999999999998").answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes=99999999999999999998-99999999999999999999").answer,
            RangeAnswer::unsatisfiable);
  EXPECT_EQ(range("bytes=18446744073709551617-18446744073709551616").answer, RangeAnswer::full);
  EXPECT_EQ(range("bytes=00018446744073709551616-18446744073709551616").answer,
            RangeAnswer::unsatisfiable);
}

TEST(Range, LengthAtTheTopOfUint64) {
  expect_partial(range("bytes=0-", kMax), 0, kMax - 1);
  expect_partial(range("bytes=-1", kMax), kMax - 1, kMax - 1);
  expect_partial(range("bytes=-18446744073709551616", kMax), 0, kMax - 1);
  expect_partial(range("bytes=18446744073709551614-", kMax), kMax - 1, kMax - 1);
  EXPECT_EQ(range("bytes=18446744073709551615-", kMax).answer, RangeAnswer::unsatisfiable);
}

// ---------------------------------------------------------------- If-Range

// Section 13.1.5: "If the entity-tag validator provided exactly matches the
// ETag field value for the selected representation using the strong
// comparison function (Section 8.8.3.2), the condition is true."
TEST(IfRange, MatchingStrongEntityTag) {
  expect_partial(with_if_range("\"v1\""), 0, 99);
  expect_partial(with_if_range(" \"v1\" "), 0, 99);
  EXPECT_EQ(with_if_range("\"v2\"").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("\"V1\"").answer, RangeAnswer::full);  // opaque-tags are case-sensitive
}

// Section 8.8.3.2: strong comparison: "two entity tags are equivalent if both
// are not weak and their opaque-tags match character-by-character"; section
// 13.1.5: "A client MUST NOT generate an If-Range header field containing an
// entity tag that is marked as weak."
TEST(IfRange, WeakTagsNeverMatch) {
  EXPECT_EQ(with_if_range("W/\"v1\"").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("\"v1\"", "W/\"v1\"").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("W/\"v1\"", "W/\"v1\"").answer, RangeAnswer::full);
}

TEST(IfRange, MalformedTagsNeverMatch) {
  EXPECT_EQ(with_if_range("\"v1\", \"v1\"").answer, RangeAnswer::full);  // a list is no tag
  EXPECT_EQ(with_if_range("\"v1").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("\"\"v1\"", "\"\"v1\"").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("\"v1\"", "").answer, RangeAnswer::full);  // no stored ETag
  EXPECT_EQ(with_if_range("").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("*").answer, RangeAnswer::full);
}

// Section 13.1.5: "If the HTTP-date validator provided exactly matches the
// Last-Modified field value for the selected representation, the condition
// is true."
TEST(IfRange, ExactlyMatchingStrongLastModified) {
  expect_partial(with_if_range("Sun, 06 Nov 1994 08:49:37 GMT"), 0, 99);
  expect_partial(with_if_range("Sunday, 06-Nov-94 08:49:37 GMT"), 0, 99);
  expect_partial(with_if_range("Sun Nov  6 08:49:37 1994"), 0, 99);
  // Exact match, not "earlier than or equal to" as for If-Unmodified-Since.
  EXPECT_EQ(with_if_range("Sun, 06 Nov 1994 08:49:38 GMT").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("Sun, 06 Nov 1994 08:49:36 GMT").answer, RangeAnswer::full);
}

// Section 13.1.5: "If the HTTP-date validator provided is not a strong
// validator in the sense defined by Section 8.8.2.2, the condition is false."
TEST(IfRange, WeakOrAbsentLastModifiedNeverMatches) {
  EXPECT_EQ(with_if_range("Sun, 06 Nov 1994 08:49:37 GMT", kEtag, kLastModified, false).answer,
            RangeAnswer::full);
  EXPECT_EQ(with_if_range("Thu, 01 Jan 1970 00:00:00 GMT", kEtag, -1, true).answer,
            RangeAnswer::full);
  EXPECT_EQ(with_if_range("yesterday").answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT").answer,
            RangeAnswer::full);
}

// Section 13.1.5: "A valid entity-tag can be distinguished from a valid
// HTTP-date by examining the first three characters for a DQUOTE."
TEST(IfRange, EntityTagOrDateByTheFirstThreeCharacters) {
  // A stored ETag that happens to look like the date does not make a date
  // match, and a date never matches the ETag.
  const std::string date = fcr::http::format_http_date(kLastModified);
  EXPECT_EQ(with_if_range(date, date, -1).answer, RangeAnswer::full);
  EXPECT_EQ(with_if_range("\"" + date + "\"", kEtag, kLastModified).answer, RangeAnswer::full);
}

// Section 13.2.2: "if it is true and the Range is applicable ..., respond 206
// ...; otherwise, ignore the Range header field and respond 200" -- even a
// Range that would be unsatisfiable.
TEST(IfRange, FalseConditionWinsOverAnUnsatisfiableRange) {
  const auto past_the_end = [](std::string_view if_range) {
    return evaluate_range("bytes=20000-", 10000, if_range, true, kEtag, kLastModified, true);
  };
  EXPECT_EQ(past_the_end("\"v2\"").answer, RangeAnswer::full);
  EXPECT_EQ(past_the_end("\"v1\"").answer, RangeAnswer::unsatisfiable);
  // Without has_if_range, the value is not looked at.
  expect_partial(evaluate_range("bytes=0-1", 10000, "\"v2\"", false, kEtag, kLastModified, true),
                 0, 1);
}

}  // namespace
