// Accept-Encoding (RFC 9110 section 12.5.3) reduced to the three codings we
// store: br, gzip, identity.
#include "fcr/encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fcr/key.hpp"

using fcr::http::Coding;
using fcr::http::preferred_coding;

namespace {

Coding pick(std::string_view value, bool br = true) { return preferred_coding(value, true, br); }

}  // namespace

TEST(PreferredCoding, WithoutTheFieldIdentity) {
  // "If no Accept-Encoding header field is in the request, any content coding
  // is considered acceptable": identity is the one every client reads.
  EXPECT_EQ(preferred_coding("", false, true), Coding::identity);
  EXPECT_EQ(pick(""), Coding::identity);
}

TEST(PreferredCoding, BrowsersAndTheirSpellings) {
  EXPECT_EQ(pick("gzip, deflate, br"), Coding::br);
  EXPECT_EQ(pick("gzip, deflate, br", false), Coding::gzip);  // no brotli package
  EXPECT_EQ(pick("gzip, deflate"), Coding::gzip);
  EXPECT_EQ(pick("GZIP"), Coding::gzip);
  EXPECT_EQ(pick("x-gzip"), Coding::gzip);  // section 8.4.1.3: the same coding
  EXPECT_EQ(pick("deflate"), Coding::identity);
  EXPECT_EQ(pick(" br ; q=0.5 , gzip;q=0.8"), Coding::gzip);
  EXPECT_EQ(pick("br;q=0.9, gzip;q=0.9"), Coding::br);  // a tie: the smaller body
}

TEST(PreferredCoding, QualityZeroMeansNotAcceptable) {
  EXPECT_EQ(pick("gzip;q=0"), Coding::identity);
  EXPECT_EQ(pick("*"), Coding::br);
  EXPECT_EQ(pick("*;q=0.5, br;q=0"), Coding::gzip);
  // "identity" is acceptable unless "identity;q=0" or "*;q=0" excludes it.
  EXPECT_EQ(pick("gzip;q=0.001"), Coding::gzip);
  EXPECT_EQ(pick("identity;q=1, gzip;q=0.5"), Coding::identity);
  EXPECT_EQ(pick("*;q=0"), Coding::identity);  // nothing acceptable: not ours to 406
}

TEST(PreferredCoding, MalformedMembersAreIgnored) {
  EXPECT_EQ(pick("gzip;q=2"), Coding::identity);
  EXPECT_EQ(pick("gzip;q=0.0001"), Coding::identity);
  EXPECT_EQ(pick("gzip;level=1"), Coding::identity);
  EXPECT_EQ(pick(",,gzip,,"), Coding::gzip);
  EXPECT_EQ(pick("\xff\xfe;q=1, gzip"), Coding::gzip);
}

TEST(PreferredCoding, KeysCarryOnlyTheCoding) {
  fcr::KeyInputs inputs;
  inputs.by_coding = true;
  inputs.br_available = true;
  const fcr::KeySpec spec(inputs);
  using H = std::vector<fcr::HeaderView>;
  const auto key = [&](H headers) { return spec.canonical("GET", "/a", "", headers); };
  EXPECT_EQ(key(H{}), "GET /a enc=identity");
  EXPECT_EQ(key(H{{"accept-encoding", "gzip, deflate, br"}}), "GET /a enc=br");
  EXPECT_EQ(key(H{{"accept-encoding", "br"}}), key(H{{"Accept-Encoding", "gzip;q=0.5, br"}}));
  EXPECT_EQ(key(H{{"accept-encoding", "gzip"}, {"accept-encoding", "br;q=0.1"}}), "GET /a enc=gzip");
  // A path cannot pose as the suffix: its space is escaped.
  EXPECT_NE(spec.canonical("GET", "/a enc=br", "", H{}), key(H{{"accept-encoding", "br"}}));
}
