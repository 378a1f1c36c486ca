#include "fcr/conditional.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace {

using fcr::http::age_seconds;
using fcr::http::format_http_date;
using fcr::http::is_not_modified;
using fcr::http::parse_http_date;

constexpr std::int64_t kRfcExample = 784111777;    // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::int64_t kNow = 1767225600;          // Thu, 01 Jan 2026 00:00:00 GMT
constexpr std::int64_t kMin = -62167219200;        // Sat, 01 Jan 0000 00:00:00 GMT
constexpr std::int64_t kMax = 253402300799;        // Fri, 31 Dec 9999 23:59:59 GMT

std::optional<std::int64_t> parse(const char* s, std::int64_t now = kNow) {
  return parse_http_date(s, now);
}

TEST(ParseHttpDate, ThreeFormatsOfTheRfcExample) {
  EXPECT_EQ(parse("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(parse("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(parse("Sun Nov  6 08:49:37 1994"), kRfcExample);
  EXPECT_EQ(parse("Sun Nov 06 08:49:37 1994"), kRfcExample);  // 2DIGIT is allowed too
}

TEST(ParseHttpDate, KnownInstants) {
  EXPECT_EQ(parse("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
  EXPECT_EQ(parse("Tue, 29 Feb 2000 12:00:00 GMT"), 951825600);
  EXPECT_EQ(parse("Tue, 19 Jan 2038 03:14:08 GMT"), std::int64_t{1} << 31);
  EXPECT_EQ(parse("Fri, 31 Dec 9999 23:59:59 GMT"), kMax);
  EXPECT_EQ(parse("Sat, 01 Jan 0000 00:00:00 GMT"), kMin);
}

TEST(ParseHttpDate, SurroundingWhitespaceAndCase) {
  EXPECT_EQ(parse(" \tSun, 06 Nov 1994 08:49:37 GMT\t "), kRfcExample);
  // RFC 9111 section 4.2: cache recipients match dates case-insensitively.
  EXPECT_EQ(parse("SUN, 06 NOV 1994 08:49:37 gmt"), kRfcExample);
  EXPECT_EQ(parse("sunday, 06-nov-94 08:49:37 Gmt"), kRfcExample);
}

TEST(ParseHttpDate, WeekdayIsNotCrossChecked) {
  EXPECT_EQ(parse("Mon, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
}

TEST(ParseHttpDate, LeapSecond) {
  EXPECT_EQ(parse("Sat, 31 Dec 2016 23:59:60 GMT"), parse("Sun, 01 Jan 2017 00:00:00 GMT"));
  EXPECT_FALSE(parse("Fri, 31 Dec 9999 23:59:60 GMT"));  // beyond the four-digit years
}

TEST(ParseHttpDate, Rfc850FiftyYearRule) {
  // now = 2026: "75" is 2075 (49 years ahead), "77" would be 2077 (51 years
  // ahead) and so is 1977; "26" is 2026.
  EXPECT_EQ(parse("Sunday, 01-Jan-75 00:00:00 GMT"), parse("Tue, 01 Jan 2075 00:00:00 GMT"));
  EXPECT_EQ(parse("Saturday, 01-Jan-77 00:00:00 GMT"), parse("Sat, 01 Jan 1977 00:00:00 GMT"));
  EXPECT_EQ(parse("Saturday, 01-Jan-76 00:00:00 GMT"), parse("Wed, 01 Jan 2076 00:00:00 GMT"));
  EXPECT_EQ(parse("Thursday, 01-Jan-26 00:00:00 GMT"), kNow);
  EXPECT_EQ(parse("Friday, 31-Dec-99 23:59:59 GMT"), parse("Fri, 31 Dec 1999 23:59:59 GMT"));
  // Another "now": in 2099, "01" is 2101, "49" is 2149 (50 years ahead, not
  // more) and "50" is 2050.
  const std::int64_t in_2099 = *parse("Thu, 01 Jan 2099 00:00:00 GMT");
  EXPECT_EQ(parse("Saturday, 01-Jan-01 00:00:00 GMT", in_2099),
            parse("Sat, 01 Jan 2101 00:00:00 GMT"));
  EXPECT_EQ(parse("Saturday, 01-Jan-49 00:00:00 GMT", in_2099),
            parse("Fri, 01 Jan 2149 00:00:00 GMT"));
  EXPECT_EQ(parse("Saturday, 01-Jan-50 00:00:00 GMT", in_2099),
            parse("Sat, 01 Jan 2050 00:00:00 GMT"));
  // An absurd "now" is clamped; the result stays within the four-digit years.
  EXPECT_EQ(parse("Sunday, 06-Nov-94 08:49:37 GMT", std::numeric_limits<std::int64_t>::min()),
            std::nullopt);
  EXPECT_TRUE(parse("Sunday, 06-Nov-94 08:49:37 GMT", std::numeric_limits<std::int64_t>::max()));
}

TEST(ParseHttpDate, CalendarIsValidated) {
  EXPECT_TRUE(parse("Thu, 29 Feb 2024 00:00:00 GMT"));
  EXPECT_FALSE(parse("Wed, 29 Feb 2023 00:00:00 GMT"));
  EXPECT_FALSE(parse("Mon, 29 Feb 1900 00:00:00 GMT"));
  EXPECT_TRUE(parse("Tue, 29 Feb 2000 00:00:00 GMT"));
  EXPECT_FALSE(parse("Thu, 31 Apr 2024 00:00:00 GMT"));
  EXPECT_FALSE(parse("Thu, 00 Jan 2024 00:00:00 GMT"));
  EXPECT_FALSE(parse("Thu, 32 Jan 2024 00:00:00 GMT"));
  EXPECT_FALSE(parse("Thu, 01 Jan 2024 24:00:00 GMT"));
  EXPECT_FALSE(parse("Thu, 01 Jan 2024 00:60:00 GMT"));
  EXPECT_FALSE(parse("Thu, 01 Jan 2024 00:00:61 GMT"));
}

TEST(ParseHttpDate, MalformedIsNullopt) {
  for (const char* s : {
           "",
           "   ",
           "garbage",
           "0",
           "784111777",
           "Sun, 06 Nov 1994 08:49:37",           // no GMT
           "Sun, 06 Nov 1994 08:49:37 UTC",       // only GMT
           "Sun, 06 Nov 1994 08:49:37 +0000",
           "Sun, 6 Nov 1994 08:49:37 GMT",        // 2DIGIT day
           "Sun, 06 Nov 94 08:49:37 GMT",         // 4DIGIT year
           "Sun,06 Nov 1994 08:49:37 GMT",
           "Sun, 06  Nov 1994 08:49:37 GMT",
           "Sun, 06 November 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun, 06 Nov 1994 08:49 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMTx",
           "Sunday, 06 Nov 1994 08:49:37 GMT",    // long name with IMF-fixdate
           "Sun, 06-Nov-94 08:49:37 GMT",         // short name with RFC 850
           "Sunday, 06-Nov-1994 08:49:37 GMT",
           "Sun Nov 6 08:49:37 1994",             // asctime pads with a space
           "Sun Nov   6 08:49:37 1994",
           "Sun Nov  6 08:49:37 94",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun, Nov  6 08:49:37 1994",
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Xyz 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",  // two members
           "Sun, 06 Nov 1994 08:49:37 GMT,",
           "1994-11-06T08:49:37Z",
           "Sun, 06 Nov 199\xff 08:49:37 GMT",
           "Sun, -6 Nov 1994 08:49:37 GMT",
       }) {
    EXPECT_EQ(parse(s), std::nullopt) << s;
  }
  EXPECT_EQ(parse_http_date(std::string_view("Sun, 06 Nov 1994 08:49:37 GMT\0", 30), kNow),
            std::nullopt);
}

TEST(FormatHttpDate, ImfFixdate) {
  EXPECT_EQ(format_http_date(kRfcExample), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(format_http_date(951825600), "Tue, 29 Feb 2000 12:00:00 GMT");
  EXPECT_EQ(format_http_date(kNow), "Thu, 01 Jan 2026 00:00:00 GMT");
  EXPECT_EQ(format_http_date(kMax), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(format_http_date(kMin), "Sat, 01 Jan 0000 00:00:00 GMT");
}

TEST(FormatHttpDate, ClampsToFourDigitYears) {
  EXPECT_EQ(format_http_date(kMax + 1), format_http_date(kMax));
  EXPECT_EQ(format_http_date(std::numeric_limits<std::int64_t>::max()), format_http_date(kMax));
  EXPECT_EQ(format_http_date(std::numeric_limits<std::int64_t>::min()), format_http_date(kMin));
}

TEST(FormatHttpDate, RoundTrip) {
  // A stride that visits every weekday, month, leap day and time of day.
  for (std::int64_t t = kMin; t <= kMax; t += 9'876'543) {
    const std::string s = format_http_date(t);
    ASSERT_EQ(parse_http_date(s, kNow), t) << s;
  }
  for (std::int64_t t = -86400 * 3; t < 86400 * 3; t += 7) {
    ASSERT_EQ(parse_http_date(format_http_date(t), kNow), t);
  }
}

// Arguments: method, If-None-Match (nullptr: absent), If-Modified-Since, etag,
// last_modified.
bool not_modified(const char* method, const char* inm, const char* ims,
                  std::int64_t last_modified = kRfcExample, const char* etag = "\"abc\"") {
  return is_not_modified(method, inm ? inm : "", inm != nullptr, ims, etag, last_modified, kNow);
}

constexpr const char* kExample = "Sun, 06 Nov 1994 08:49:37 GMT";

TEST(IsNotModified, IfNoneMatch) {
  EXPECT_TRUE(not_modified("GET", "\"abc\"", ""));
  EXPECT_TRUE(not_modified("HEAD", "W/\"abc\"", ""));
  EXPECT_TRUE(not_modified("GET", "\"x\", \"abc\"", ""));
  EXPECT_TRUE(not_modified("GET", "*", ""));
  EXPECT_FALSE(not_modified("GET", "\"x\"", ""));
  EXPECT_FALSE(not_modified("GET", "*", "", kRfcExample, ""));  // no ETag
}

TEST(IsNotModified, OnlyGetAndHead) {
  for (const char* m : {"POST", "PUT", "DELETE", "get", "head", "OPTIONS", ""}) {
    EXPECT_FALSE(not_modified(m, "\"abc\"", "")) << m;
    EXPECT_FALSE(not_modified(m, nullptr, kExample)) << m;
  }
}

TEST(IsNotModified, IfModifiedSince) {
  EXPECT_TRUE(not_modified("GET", nullptr, kExample));                    // equal
  EXPECT_TRUE(not_modified("GET", nullptr, kExample, kRfcExample - 1));   // older
  EXPECT_FALSE(not_modified("GET", nullptr, kExample, kRfcExample + 1));  // newer
  EXPECT_TRUE(not_modified("HEAD", nullptr, "Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_TRUE(not_modified("GET", nullptr, "Sun Nov  6 08:49:37 1994"));
}

TEST(IsNotModified, IfNoneMatchTakesPrecedence) {
  // A failing If-None-Match is not rescued by a matching If-Modified-Since...
  EXPECT_FALSE(not_modified("GET", "\"other\"", kExample));
  // ...even when it is empty or malformed...
  EXPECT_FALSE(not_modified("GET", "", kExample));
  EXPECT_FALSE(not_modified("GET", "garbage", kExample));
  // ...and a matching one wins over a failing If-Modified-Since.
  EXPECT_TRUE(not_modified("GET", "\"abc\"", kExample, kRfcExample + 100));
}

TEST(IsNotModified, InvalidIfModifiedSinceIgnored) {
  EXPECT_FALSE(not_modified("GET", nullptr, ""));
  EXPECT_FALSE(not_modified("GET", nullptr, "yesterday"));
  EXPECT_FALSE(not_modified("GET", nullptr, "Sun, 06 Nov 1994 08:49:37"));
  EXPECT_FALSE(not_modified("GET", nullptr, "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 "
                                            "08:49:37 GMT"));
  EXPECT_FALSE(not_modified("GET", nullptr, "Sun Nov  6 08:49:37 1994, Sun Nov  6 08:49:37 1994"));
}

TEST(IsNotModified, NoLastModifiedIgnoresIfModifiedSince) {
  EXPECT_FALSE(not_modified("GET", nullptr, kExample, -1));
  EXPECT_FALSE(not_modified("GET", nullptr, "Fri, 31 Dec 9999 23:59:59 GMT", -1));
}

TEST(IsNotModified, FutureIfModifiedSinceIgnored) {
  EXPECT_TRUE(not_modified("GET", nullptr, "Thu, 01 Jan 2026 00:00:00 GMT", kNow));  // == now
  EXPECT_FALSE(not_modified("GET", nullptr, "Thu, 01 Jan 2026 00:00:01 GMT", kNow));
  EXPECT_FALSE(not_modified("GET", nullptr, "Fri, 31 Dec 9999 23:59:59 GMT"));
}

TEST(AgeSeconds, WholeSecondsNeverNegative) {
  EXPECT_EQ(age_seconds(100.0, 100.0), 0);
  EXPECT_EQ(age_seconds(100.0, 100.999), 0);
  EXPECT_EQ(age_seconds(100.0, 101.0), 1);
  EXPECT_EQ(age_seconds(100.5, 160.4), 59);
  EXPECT_EQ(age_seconds(100.0, 50.0), 0);  // clock went backwards
  EXPECT_EQ(age_seconds(0.0, 1e300), std::int64_t{1} << 31);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(age_seconds(nan, 5.0), 0);
  EXPECT_EQ(age_seconds(5.0, nan), 0);
  EXPECT_EQ(age_seconds(inf, inf), 0);
  EXPECT_EQ(age_seconds(-inf, 5.0), std::int64_t{1} << 31);
}

}  // namespace
