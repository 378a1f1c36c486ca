#include "fcr/cache_control.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace {

using fcr::http::CacheControl;
using fcr::http::decide_storage;
using fcr::http::parse_cache_control;
using fcr::http::parse_request_directives;
using fcr::http::StorageDecision;
using fcr::http::StoragePolicy;
using fcr::http::StoreVerdict;

constexpr std::int64_t kTwo31 = std::int64_t{1} << 31;

TEST(ParseCacheControl, Empty) {
  const CacheControl cc = parse_cache_control("");
  EXPECT_FALSE(cc.no_store || cc.no_cache || cc.private_ || cc.public_ || cc.must_revalidate ||
               cc.proxy_revalidate || cc.immutable);
  EXPECT_FALSE(cc.max_age || cc.s_maxage || cc.stale_while_revalidate || cc.stale_if_error);
}

TEST(ParseCacheControl, AllDirectives) {
  const CacheControl cc = parse_cache_control(
      "no-store, no-cache, private, public, must-revalidate, proxy-revalidate, immutable, "
      "max-age=60, s-maxage=120, stale-while-revalidate=30, stale-if-error=600");
  EXPECT_TRUE(cc.no_store && cc.no_cache && cc.private_ && cc.public_ && cc.must_revalidate &&
              cc.proxy_revalidate && cc.immutable);
  EXPECT_EQ(cc.max_age, 60);
  EXPECT_EQ(cc.s_maxage, 120);
  EXPECT_EQ(cc.stale_while_revalidate, 30);
  EXPECT_EQ(cc.stale_if_error, 600);
}

TEST(ParseCacheControl, NamesAreCaseInsensitive) {
  const CacheControl cc = parse_cache_control("No-Store, MAX-AGE=5, S-MaxAge=7, Private");
  EXPECT_TRUE(cc.no_store);
  EXPECT_TRUE(cc.private_);
  EXPECT_EQ(cc.max_age, 5);
  EXPECT_EQ(cc.s_maxage, 7);
}

TEST(ParseCacheControl, WhitespaceAndEmptyMembers) {
  const CacheControl cc = parse_cache_control(" ,\t, max-age=5 ,,\tno-cache\t, ");
  EXPECT_EQ(cc.max_age, 5);
  EXPECT_TRUE(cc.no_cache);
  EXPECT_TRUE(parse_cache_control("public,max-age=1").public_);
}

TEST(ParseCacheControl, QuotedArguments) {
  EXPECT_EQ(parse_cache_control("max-age=\"60\"").max_age, 60);  // recipients accept both forms
  EXPECT_EQ(parse_cache_control("stale-if-error=\"9\"").stale_if_error, 9);
  // Commas inside a quoted-string do not split the list.
  CacheControl cc = parse_cache_control("no-cache=\"set-cookie, no-store\", max-age=3");
  EXPECT_TRUE(cc.no_cache);
  EXPECT_FALSE(cc.no_store);
  EXPECT_EQ(cc.max_age, 3);
  // An escaped quote does not end the quoted-string.
  cc = parse_cache_control(R"(x="a\", no-store", max-age=4)");
  EXPECT_FALSE(cc.no_store);
  EXPECT_EQ(cc.max_age, 4);
  EXPECT_EQ(parse_cache_control(R"(max-age="\6\0")").max_age, 60);
}

TEST(ParseCacheControl, FieldQualifiedFormsCountAsUnqualified) {
  EXPECT_TRUE(parse_cache_control("private=\"set-cookie\"").private_);
  EXPECT_TRUE(parse_cache_control("no-cache=\"x-a, x-b\"").no_cache);
  EXPECT_TRUE(parse_cache_control("no-cache=x").no_cache);
}

TEST(ParseCacheControl, FirstOccurrenceWins) {
  const CacheControl cc =
      parse_cache_control("max-age=5, max-age=10, s-maxage=1, s-maxage=2, stale-if-error=3, "
                          "stale-if-error=4");
  EXPECT_EQ(cc.max_age, 5);
  EXPECT_EQ(cc.s_maxage, 1);
  EXPECT_EQ(cc.stale_if_error, 3);
  EXPECT_EQ(parse_cache_control("max-age=abc, max-age=10").max_age, 0);
  // An invalid stale-* value is ignored, so a later valid one is taken.
  EXPECT_EQ(parse_cache_control("stale-if-error=x, stale-if-error=7").stale_if_error, 7);
}

TEST(ParseCacheControl, InvalidLifetimeMeansStale) {
  for (const char* v : {"max-age", "max-age=", "max-age=-1", "max-age=1.5", "max-age=abc",
                        "max-age=\"\"", "max-age=\"5", "max-age=5x", "max-age= 5",
                        "max-age=\"5\"x", "max-age=+5"}) {
    EXPECT_EQ(parse_cache_control(v).max_age, 0) << v;
  }
  EXPECT_EQ(parse_cache_control("s-maxage=oops").s_maxage, 0);
}

TEST(ParseCacheControl, InvalidExtensionsIgnored) {
  for (const char* v : {"stale-while-revalidate", "stale-while-revalidate=-3",
                        "stale-while-revalidate=1e3", "stale-while-revalidate=\"x\""}) {
    EXPECT_FALSE(parse_cache_control(v).stale_while_revalidate) << v;
  }
}

TEST(ParseCacheControl, LargeValuesClampTo2Pow31) {
  EXPECT_EQ(parse_cache_control("max-age=2147483647").max_age, 2147483647);
  EXPECT_EQ(parse_cache_control("max-age=2147483648").max_age, kTwo31);
  EXPECT_EQ(parse_cache_control("max-age=99999999999999999999999999999").max_age, kTwo31);
  EXPECT_EQ(parse_cache_control("stale-if-error=18446744073709551617").stale_if_error, kTwo31);
  EXPECT_EQ(parse_cache_control("max-age=000000000000000000000000000007").max_age, 7);
}

TEST(ParseCacheControl, MalformedMembersSkipped) {
  CacheControl cc = parse_cache_control("no store, =5, \"no-store\", max-age=9");
  EXPECT_FALSE(cc.no_store);
  EXPECT_EQ(cc.max_age, 9);
  cc = parse_cache_control("no-storex, xno-store, no-store-please");
  EXPECT_FALSE(cc.no_store);
  EXPECT_FALSE(parse_cache_control("no-store;x").no_store);
  EXPECT_TRUE(parse_cache_control("unknown=\"x\", no-store").no_store);
}

TEST(ParseCacheControl, UnterminatedQuoteCannotHideLaterDirectives) {
  CacheControl cc = parse_cache_control("foo=\"bar, no-store, max-age=5");
  EXPECT_TRUE(cc.no_store);
  EXPECT_EQ(cc.max_age, 5);
  cc = parse_cache_control("private=\"a\\");
  EXPECT_TRUE(cc.private_);
  EXPECT_TRUE(parse_cache_control("\", no-store").no_store);
}

// RFC 9111 section 5.2.1.3: "min-fresh" = delta-seconds; section 5.2.1.2:
// "If no value is assigned to max-stale, then the client will accept a stale
// response of any age."
TEST(ParseCacheControl, RequestMinFreshAndMaxStale) {
  CacheControl cc = parse_cache_control("min-fresh=5, max-stale=7");
  EXPECT_EQ(cc.min_fresh, 5);
  EXPECT_EQ(cc.max_stale, 7);
  EXPECT_FALSE(cc.max_stale_any);
  cc = parse_cache_control("Max-Stale");
  EXPECT_TRUE(cc.max_stale_any);
  EXPECT_FALSE(cc.max_stale);
  // Invalid values are ignored (a later valid one is taken).
  cc = parse_cache_control("min-fresh=x, max-stale=-1, max-stale=\"3\", min-fresh=2");
  EXPECT_EQ(cc.min_fresh, 2);
  EXPECT_EQ(cc.max_stale, 3);
  EXPECT_FALSE(cc.max_stale_any);
  EXPECT_EQ(parse_cache_control("max-stale=99999999999").max_stale, kTwo31);
}

TEST(RequestDirectives, IgnoredFieldsMeanNothing) {
  auto d = parse_request_directives("", false, "");
  EXPECT_FALSE(d.bypass_lookup);
  EXPECT_FALSE(d.skip_store);
  d = parse_request_directives("max-age=5, only-if-cached", true, "");
  EXPECT_FALSE(d.bypass_lookup);
  EXPECT_FALSE(d.skip_store);
}

TEST(RequestDirectives, NoCacheAndMaxAgeZeroBypass) {
  EXPECT_TRUE(parse_request_directives("no-cache", true, "").bypass_lookup);
  EXPECT_TRUE(parse_request_directives("max-age=0", true, "").bypass_lookup);
  EXPECT_TRUE(parse_request_directives("MAX-AGE=\"0\"", true, "").bypass_lookup);
  EXPECT_FALSE(parse_request_directives("max-age=1", true, "").bypass_lookup);
}

TEST(RequestDirectives, NoStoreSkipsStore) {
  const auto d = parse_request_directives("no-store", true, "");
  EXPECT_TRUE(d.skip_store);
  EXPECT_FALSE(d.bypass_lookup);
}

TEST(RequestDirectives, PragmaOnlyWithoutCacheControl) {
  EXPECT_TRUE(parse_request_directives("", false, "no-cache").bypass_lookup);
  EXPECT_TRUE(parse_request_directives("", false, "x=1, No-Cache").bypass_lookup);
  EXPECT_FALSE(parse_request_directives("", false, "no-store").skip_store);
  EXPECT_FALSE(parse_request_directives("max-age=5", true, "no-cache").bypass_lookup);
  EXPECT_FALSE(parse_request_directives("", true, "no-cache").bypass_lookup);
}

StorageDecision decide(const char* cc, bool set_cookie = false, StoragePolicy p = {}) {
  return decide_storage(parse_cache_control(cc), set_cookie, p);
}

TEST(DecideStorage, PlainResponseIsStored) {
  const StorageDecision d = decide("");
  EXPECT_EQ(d.verdict, StoreVerdict::store);
  EXPECT_EQ(d.ttl, 0);
  EXPECT_FALSE(d.revalidate);
  EXPECT_EQ(d.stale_while_revalidate, 0);
  EXPECT_EQ(d.stale_if_error, 0);
}

TEST(DecideStorage, NoStorePrivateAndSetCookieAreNotStored) {
  EXPECT_EQ(decide("no-store").verdict, StoreVerdict::no_store);
  EXPECT_EQ(decide("private, max-age=60").verdict, StoreVerdict::private_);
  EXPECT_EQ(decide("private=\"set-cookie\"").verdict, StoreVerdict::private_);
  EXPECT_EQ(decide("max-age=60", true).verdict, StoreVerdict::set_cookie);
  EXPECT_EQ(decide("private, no-store", true).verdict, StoreVerdict::no_store);
  EXPECT_EQ(decide("private", true).verdict, StoreVerdict::private_);
}

TEST(DecideStorage, OptIns) {
  StoragePolicy ignore;
  ignore.ignore_response_cache_control = true;
  EXPECT_EQ(decide("no-store", false, ignore).verdict, StoreVerdict::store);
  EXPECT_EQ(decide("private", false, ignore).verdict, StoreVerdict::store);
  EXPECT_EQ(decide("no-store", true, ignore).verdict, StoreVerdict::set_cookie);
  StoragePolicy cookies;
  cookies.store_set_cookie = true;
  EXPECT_EQ(decide("", true, cookies).verdict, StoreVerdict::store);
  EXPECT_EQ(decide("private", true, cookies).verdict, StoreVerdict::private_);
}

TEST(DecideStorage, IgnoringCacheControlIgnoresAllOfIt) {
  StoragePolicy ignore;
  ignore.ignore_response_cache_control = true;
  const StorageDecision d =
      decide("no-cache, max-age=0, stale-while-revalidate=5, stale-if-error=9", false, ignore);
  EXPECT_EQ(d.verdict, StoreVerdict::store);
  EXPECT_EQ(d.ttl, 0);
  EXPECT_FALSE(d.revalidate);
  EXPECT_EQ(d.stale_while_revalidate, 0);
  EXPECT_EQ(d.stale_if_error, 0);
  ignore.route_ttl = 12;
  EXPECT_EQ(decide("max-age=3", false, ignore).ttl, 12);
}

TEST(DecideStorage, LifetimeBecomesTtl) {
  EXPECT_EQ(decide("max-age=60").ttl, 60);
  EXPECT_EQ(decide("s-maxage=30, max-age=60").ttl, 30);  // s-maxage wins
  EXPECT_EQ(decide("max-age=60, s-maxage=90").ttl, 90);
  EXPECT_EQ(decide("max-age=99999999999").ttl, static_cast<double>(kTwo31));
}

TEST(DecideStorage, RouteTtlWins) {
  StoragePolicy p;
  p.route_ttl = 5;
  EXPECT_EQ(decide("max-age=60, s-maxage=90", false, p).ttl, 5);
  const StorageDecision d = decide("max-age=0", false, p);
  EXPECT_EQ(d.verdict, StoreVerdict::store);
  EXPECT_EQ(d.ttl, 5);
  p.route_ttl = 0;  // zero, negative or NaN: no route ttl
  EXPECT_EQ(decide("max-age=7", false, p).ttl, 7);
  p.route_ttl = -1;
  EXPECT_EQ(decide("max-age=7", false, p).ttl, 7);
  p.route_ttl = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(decide("max-age=7", false, p).ttl, 7);
  p.route_ttl = std::numeric_limits<double>::infinity();
  EXPECT_EQ(decide("max-age=7", false, p).ttl, 7);
}

// RFC 9111 section 3: a cache "MUST NOT store a response ... unless ... the
// no-store cache directive is not present in the response". The route's ttl
// sets the lifetime of what may be stored; it is no opt-in to storing.
TEST(DecideStorage, RouteTtlNeverOverridesNoStorePrivateOrSetCookie) {
  StoragePolicy p;
  p.route_ttl = 60;
  EXPECT_EQ(decide("no-store", false, p).verdict, StoreVerdict::no_store);
  EXPECT_EQ(decide("public, max-age=600, no-store", false, p).verdict, StoreVerdict::no_store);
  EXPECT_EQ(decide("private", false, p).verdict, StoreVerdict::private_);
  EXPECT_EQ(decide("max-age=600", true, p).verdict, StoreVerdict::set_cookie);
  EXPECT_EQ(decide("max-age=600", false, p).verdict, StoreVerdict::store);
}

TEST(DecideStorage, ZeroLifetimeIsNotStored) {
  EXPECT_EQ(decide("max-age=0").verdict, StoreVerdict::zero_lifetime);
  EXPECT_EQ(decide("max-age=junk").verdict, StoreVerdict::zero_lifetime);
  EXPECT_EQ(decide("max-age=60, s-maxage=0").verdict, StoreVerdict::zero_lifetime);
  EXPECT_EQ(decide("s-maxage=60, max-age=0").verdict, StoreVerdict::store);
  EXPECT_EQ(decide("no-store, max-age=0").verdict, StoreVerdict::no_store);
}

TEST(DecideStorage, NoCacheIsStoredButRevalidated) {
  const StorageDecision d = decide("no-cache, max-age=60");
  EXPECT_EQ(d.verdict, StoreVerdict::store);
  EXPECT_TRUE(d.revalidate);
  EXPECT_EQ(d.ttl, 60);
  EXPECT_TRUE(decide("no-cache=\"set-cookie\"").revalidate);
}

// RFC 9111 section 5.2.2.4: no-cache means the response "MUST NOT be used to
// satisfy any other request without forwarding it for validation"; a route
// ttl sets the lifetime, it does not waive the validation.
TEST(DecideStorage, RouteTtlKeepsNoCacheRevalidation) {
  StoragePolicy p;
  p.route_ttl = 60;
  const StorageDecision d = decide("no-cache", false, p);
  EXPECT_EQ(d.verdict, StoreVerdict::store);
  EXPECT_TRUE(d.revalidate);
  EXPECT_EQ(d.ttl, 60);
}

TEST(DecideStorage, StaleDirectives) {
  StorageDecision d = decide("max-age=60, stale-while-revalidate=30, stale-if-error=600");
  EXPECT_EQ(d.stale_while_revalidate, 30);
  EXPECT_EQ(d.stale_if_error, 600);
  // must-revalidate and proxy-revalidate forbid serving stale.
  d = decide("max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=600");
  EXPECT_EQ(d.stale_while_revalidate, 0);
  EXPECT_EQ(d.stale_if_error, 0);
  d = decide("proxy-revalidate, stale-if-error=600");
  EXPECT_EQ(d.stale_if_error, 0);
}

StoragePolicy authorized(bool shared_rules = true) {
  StoragePolicy p;
  p.request_has_authorization = true;
  p.shared_authorization_rules = shared_rules;
  return p;
}

// RFC 9111 section 3.5: "A shared cache MUST NOT use a cached response to a
// request with an Authorization header field ... unless the response contains
// a Cache-Control field with a response directive ... that allows it".
TEST(DecideStorage, AuthorizationNeedsAnExplicitDirective) {
  EXPECT_EQ(decide("", false, authorized()).verdict, StoreVerdict::authorization);
  EXPECT_EQ(decide("max-age=60", false, authorized()).verdict, StoreVerdict::authorization);
  EXPECT_EQ(decide("no-cache, max-age=60", false, authorized()).verdict,
            StoreVerdict::authorization);
}

// Section 3.5: "the following response directives have such an effect:
// must-revalidate ..., public ..., and s-maxage".
TEST(DecideStorage, PublicSMaxageOrMustRevalidateAllowAuthorization) {
  EXPECT_EQ(decide("public", false, authorized()).verdict, StoreVerdict::store);
  EXPECT_EQ(decide("s-maxage=60", false, authorized()).verdict, StoreVerdict::store);
  EXPECT_EQ(decide("must-revalidate, max-age=60", false, authorized()).verdict,
            StoreVerdict::store);
  EXPECT_EQ(decide("PUBLIC, max-age=5", false, authorized()).ttl, 5);
  // proxy-revalidate is not one of them.
  EXPECT_EQ(decide("proxy-revalidate, max-age=60", false, authorized()).verdict,
            StoreVerdict::authorization);
}

TEST(DecideStorage, AuthorizationRuleNeedsBothFlags) {
  EXPECT_EQ(decide("max-age=60", false, authorized(false)).verdict, StoreVerdict::store);
  StoragePolicy no_header;
  no_header.shared_authorization_rules = true;
  EXPECT_EQ(decide("max-age=60", false, no_header).verdict, StoreVerdict::store);
}

TEST(DecideStorage, AuthorizationVerdictOrder) {
  // no_store and private_ come first, then authorization, then set_cookie and
  // zero_lifetime.
  EXPECT_EQ(decide("no-store", false, authorized()).verdict, StoreVerdict::no_store);
  EXPECT_EQ(decide("private", false, authorized()).verdict, StoreVerdict::private_);
  EXPECT_EQ(decide("public, private", false, authorized()).verdict, StoreVerdict::private_);
  EXPECT_EQ(decide("max-age=0", true, authorized()).verdict, StoreVerdict::authorization);
  EXPECT_EQ(decide("public", true, authorized()).verdict, StoreVerdict::set_cookie);
  EXPECT_EQ(decide("public, max-age=0", false, authorized()).verdict,
            StoreVerdict::zero_lifetime);
}

TEST(DecideStorage, IgnoringCacheControlDoesNotLiftTheAuthorizationRule) {
  StoragePolicy p = authorized();
  p.ignore_response_cache_control = true;
  EXPECT_EQ(decide("private", false, p).verdict, StoreVerdict::authorization);
  EXPECT_EQ(decide("public, no-store", false, p).verdict, StoreVerdict::store);
  p.route_ttl = 30;
  EXPECT_EQ(decide("", false, p).verdict, StoreVerdict::authorization);
}

TEST(VerdictName, AllVerdicts) {
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::store), "store");
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::no_store), "no_store");
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::private_), "private");
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::authorization), "authorization");
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::set_cookie), "set_cookie");
  EXPECT_EQ(fcr::http::verdict_name(StoreVerdict::zero_lifetime), "zero_lifetime");
}

}  // namespace
