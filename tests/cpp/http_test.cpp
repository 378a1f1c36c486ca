#include "fcr/http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fcr/hash.hpp"

namespace {

using fcr::http::if_none_match_matches;

TEST(EtagForBody, QuotedHexDigest) {
  const std::string etag = fcr::http::etag_for_body("hello");
  EXPECT_EQ(etag, "\"5b1e906a48ae1d19cbd8a7b341bd9b02\"");
  EXPECT_EQ(etag, '"' + fcr::to_hex(fcr::hash128("hello")) + '"');
  EXPECT_EQ(fcr::http::etag_for_body(""), "\"00000000000000000000000000000000\"");
  EXPECT_NE(fcr::http::etag_for_body("a"), fcr::http::etag_for_body("b"));
  EXPECT_TRUE(if_none_match_matches(etag, etag));
}

TEST(IfNoneMatch, SingleStrong) {
  EXPECT_TRUE(if_none_match_matches("\"abc\"", "\"abc\""));
  EXPECT_FALSE(if_none_match_matches("\"abc\"", "\"abd\""));
  EXPECT_FALSE(if_none_match_matches("\"abc\"", "\"ABC\""));  // opaque tags are case-sensitive
  EXPECT_TRUE(if_none_match_matches("\"\"", "\"\""));         // empty opaque tag is valid
}

TEST(IfNoneMatch, WeakComparisonIgnoresWOnEitherSide) {
  EXPECT_TRUE(if_none_match_matches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(if_none_match_matches("\"abc\"", "W/\"abc\""));
  EXPECT_TRUE(if_none_match_matches("W/\"abc\"", "W/\"abc\""));
  EXPECT_FALSE(if_none_match_matches("W/\"abc\"", "W/\"abd\""));
  EXPECT_FALSE(if_none_match_matches("w/\"abc\"", "\"abc\""));  // the prefix is case-sensitive
  EXPECT_FALSE(if_none_match_matches("W/ \"abc\"", "\"abc\""));
}

TEST(IfNoneMatch, List) {
  EXPECT_TRUE(if_none_match_matches("\"a\", \"b\", \"c\"", "\"b\""));
  EXPECT_TRUE(if_none_match_matches("\"a\",\"b\",\"c\"", "\"c\""));
  EXPECT_TRUE(if_none_match_matches("\"a\", W/\"b\"", "\"b\""));
  EXPECT_FALSE(if_none_match_matches("\"a\", \"b\", \"c\"", "\"d\""));
  EXPECT_TRUE(if_none_match_matches(",, \"a\" ,,", "\"a\""));  // empty members are skipped
}

TEST(IfNoneMatch, Star) {
  EXPECT_TRUE(if_none_match_matches("*", "\"anything\""));
  EXPECT_TRUE(if_none_match_matches(" * ", "W/\"x\""));
  EXPECT_TRUE(if_none_match_matches("\"a\", *", "\"b\""));
  EXPECT_FALSE(if_none_match_matches("**", "\"x\""));
  EXPECT_FALSE(if_none_match_matches("*x", "\"x\""));
  EXPECT_FALSE(if_none_match_matches("\"*\"", "\"x\""));
  EXPECT_TRUE(if_none_match_matches("\"*\"", "\"*\""));
  EXPECT_FALSE(if_none_match_matches("*", ""));  // no current representation
}

TEST(IfNoneMatch, QuotedCommasDoNotSplit) {
  EXPECT_TRUE(if_none_match_matches("\"a,b\"", "\"a,b\""));
  EXPECT_FALSE(if_none_match_matches("\"a,b\"", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("\"a,b\"", "\"b\""));
  EXPECT_TRUE(if_none_match_matches("\"x\", W/\"a, b\", \"y\"", "\"a, b\""));
  EXPECT_TRUE(if_none_match_matches("\"x,\", \"y\"", "\"y\""));
}

TEST(IfNoneMatch, Whitespace) {
  EXPECT_TRUE(if_none_match_matches("  \"a\"  ", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("\t\"a\"\t,\t\"b\"", "\"b\""));
  EXPECT_TRUE(if_none_match_matches("\"a\"", " \"a\" "));
  EXPECT_FALSE(if_none_match_matches("\" a\"", "\"a\""));  // inside quotes it is significant
}

TEST(IfNoneMatch, GarbageIsSkipped) {
  EXPECT_FALSE(if_none_match_matches("", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("   ", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("foo", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("a", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("\"unterminated", "\"unterminated\""));
  EXPECT_FALSE(if_none_match_matches("\"", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("W/", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("\"a\"x", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("x\"a\"", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("\"a\" \"b\"", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("foo, \"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("\"a\", foo", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("foo, bar\"\", \"a\"", "\"a\""));
}

TEST(IfNoneMatch, BackslashInsideQuotesIsLiteral) {
  // An entity-tag is not a quoted-string: a backslash escapes nothing, so
  // `"a\"` is a whole (valid) tag and the comma after it splits.
  EXPECT_TRUE(if_none_match_matches("\"a\\\",\"b\"", "\"b\""));
  EXPECT_TRUE(if_none_match_matches("\"a\\\",\"b\"", "\"a\\\""));
  EXPECT_TRUE(if_none_match_matches("\"a\\\", \"x\"\", \"b\"", "\"b\""));
  EXPECT_FALSE(if_none_match_matches("\"a\\\", \"b\"\"", "\"b\""));
  EXPECT_TRUE(if_none_match_matches("\"a\\b\"", "\"a\\b\""));
  // A valid tag with a comma and a trailing backslash matches itself.
  EXPECT_TRUE(if_none_match_matches("\"a,\\\"", "\"a,\\\""));
  EXPECT_TRUE(if_none_match_matches("\"zz\", W/\"a,\\\"", "\"a,\\\""));
  EXPECT_FALSE(if_none_match_matches("\"a\\", "\"a\""));  // trailing backslash, unterminated
}

TEST(IfNoneMatch, UnterminatedQuoteCannotHideLaterTags) {
  EXPECT_TRUE(if_none_match_matches("foo\", \"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("W/\"x, \"a\"", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("\"x\", \", *", "\"a\""));
  EXPECT_TRUE(if_none_match_matches("\"x\", \"y, \"a\", \"z\"", "\"a\""));
  EXPECT_FALSE(if_none_match_matches("\"x\", \"a", "\"a\""));  // the stray member never matches
}

TEST(IfNoneMatch, MalformedEtagNeverMatches) {
  EXPECT_FALSE(if_none_match_matches("*", "abc"));
  EXPECT_FALSE(if_none_match_matches("abc", "abc"));
  EXPECT_FALSE(if_none_match_matches("\"a\"b\"", "\"a\"b\""));
  EXPECT_FALSE(if_none_match_matches("\"a", "\"a"));
  EXPECT_FALSE(if_none_match_matches("W/", "W/"));
  EXPECT_FALSE(if_none_match_matches("\"", "\""));
}

TEST(ParseVary, NamesAndStar) {
  fcr::http::Vary v = fcr::http::parse_vary(" Accept-Encoding ,accept-encoding,\tUser-Agent,, ");
  EXPECT_FALSE(v.star);
  EXPECT_EQ(v.names, (std::vector<std::string>{"accept-encoding", "user-agent"}));
  v = fcr::http::parse_vary("Accept, *");
  EXPECT_TRUE(v.star);
  EXPECT_EQ(v.names, std::vector<std::string>{"accept"});
  v = fcr::http::parse_vary("");
  EXPECT_FALSE(v.star);
  EXPECT_TRUE(v.names.empty());
  EXPECT_FALSE(fcr::http::parse_vary("**").star);
}

TEST(MergeVary, ExistingFirstThenNewDeduplicated) {
  EXPECT_EQ(fcr::http::merge_vary("Accept-Encoding", {"Accept", "accept-encoding", " X-Tenant "}),
            "accept-encoding, accept, x-tenant");
  EXPECT_EQ(fcr::http::merge_vary("", {"Accept", "ACCEPT"}), "accept");
  EXPECT_EQ(fcr::http::merge_vary("Accept", {}), "accept");
  EXPECT_EQ(fcr::http::merge_vary("", {}), "");
  EXPECT_EQ(fcr::http::merge_vary(" , ", {"", " "}), "");
}

TEST(MergeVary, StarWins) {
  EXPECT_EQ(fcr::http::merge_vary("*", {"Accept"}), "*");
  EXPECT_EQ(fcr::http::merge_vary("Accept, *", {}), "*");
  EXPECT_EQ(fcr::http::merge_vary("Accept", {"*"}), "*");
}

TEST(ToLower, AsciiOnly) {
  EXPECT_EQ(fcr::http::to_lower("Accept-ENCODING"), "accept-encoding");
  EXPECT_EQ(fcr::http::to_lower("\xc3\x89Z@[`{"), "\xc3\x89z@[`{");
  EXPECT_EQ(fcr::http::to_lower(""), "");
}

}  // namespace
