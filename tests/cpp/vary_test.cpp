// Secondary keys, RFC 9111 section 4.1: "When a cache receives a request that
// can be satisfied by a stored response and that stored response contains a
// Vary header field, the cache MUST NOT use that stored response without
// revalidation unless all the presented request header fields nominated by
// that Vary field value match those fields in the original request".
#include "fcr/vary.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace std::literals;
using fcr::HeaderView;
using fcr::vary::secondary_key;
using fcr::vary::Variant;
using fcr::vary::VariantSet;

namespace {

using Headers = std::vector<HeaderView>;
const std::vector<std::string> kLang = {"accept-language"};

std::string sec(const std::vector<std::string>& names, Headers headers) { return secondary_key(names, headers); }

struct Tag final : fcr::Payload {
  explicit Tag(std::string v) : value(std::move(v)) {}
  std::string value;
};

Variant variant(std::string secondary, std::string tag, double expires_at = 0) {
  return Variant{std::move(secondary), std::make_shared<Tag>(std::move(tag)), 100, expires_at};
}

std::string tag_of(const Variant* v) { return v ? static_cast<const Tag&>(*v->value).value : "<none>"; }

}  // namespace

// "The selecting header fields from two requests are defined to match if and
// only if those in the first request can be transformed to those in the
// second request by ... combining multiple field lines ... normalizing both
// header field values in a way that is known to have identical semantics".
TEST(SecondaryKey, CombinesLinesAndWhitespaceAroundCommas) {
  EXPECT_EQ(sec(kLang, {{"accept-language", "en, de"}}), sec(kLang, {{"Accept-Language", "en,de"}}));
  EXPECT_EQ(sec(kLang, {{"accept-language", "en"}, {"accept-language", "de"}}),
            sec(kLang, {{"accept-language", "en , de"}}));
  EXPECT_EQ(sec(kLang, {{"accept-language", " \ten\t"}}), sec(kLang, {{"accept-language", "en"}}));
  EXPECT_EQ(sec(kLang, {{"accept-language", "en, de"}}), "accept-language=en,de");
}

TEST(SecondaryKey, KeepsWhatMayDiffer) {
  EXPECT_NE(sec(kLang, {{"accept-language", "en"}}), sec(kLang, {{"accept-language", "de"}}));
  EXPECT_NE(sec(kLang, {{"accept-language", "en"}}), sec(kLang, {{"accept-language", "EN"}}));
  EXPECT_NE(sec(kLang, {{"accept-language", "en"}}), sec(kLang, {{"accept-language", "en,de"}}));
  EXPECT_NE(sec(kLang, {{"accept-language", "en de"}}), sec(kLang, {{"accept-language", "ende"}}));
  // Absent and empty differ ("a Vary header field-name ... absent from the request").
  EXPECT_NE(sec(kLang, {}), sec(kLang, {{"accept-language", ""}}));
  EXPECT_EQ(sec(kLang, {}), "accept-language");
  // Inside a quoted string whitespace is data.
  const std::vector<std::string> x = {"x"};
  EXPECT_NE(sec(x, {{"x", "\"a , b\""}}), sec(x, {{"x", "\"a,b\""}}));
  EXPECT_EQ(sec(x, {{"x", "\"a , b\" , c"}}), "x=\"a%20,%20b\",c");
}

TEST(SecondaryKey, SeveralNamesAndHostileBytes) {
  const std::vector<std::string> names = {"accept-language", "accept-encoding"};
  EXPECT_NE(sec(names, {{"accept-language", "en&accept-encoding=gzip"}}),
            sec(names, {{"accept-language", "en"}, {"accept-encoding", "gzip"}}));
  const std::string k = sec(kLang, {{"accept-language", "caf\xe9\x00\xff"s}});
  EXPECT_EQ(k, "accept-language=caf%E9%00%FF");
}

TEST(SecondaryNames, EveryFieldLineMinusPrimaryKeyFields) {
  const std::vector<std::string_view> lines = {"Accept-Language", "accept-encoding, X-Tenant"};
  const std::vector<std::string> primary = {"x-tenant"};
  const auto names = fcr::vary::secondary_names(lines, primary);
  EXPECT_FALSE(names.star);
  EXPECT_EQ(names.names, (std::vector<std::string>{"accept-language", "accept-encoding"}));
  // "A Vary field value containing a member "*" always fails to match",
  // on whichever line it is.
  const std::vector<std::string_view> star = {"Accept-Language", "*"};
  EXPECT_TRUE(fcr::vary::secondary_names(star, {}).star);
  EXPECT_TRUE(fcr::vary::secondary_names(std::vector<std::string_view>{" , "}, {}).names.empty());
}

TEST(VariantSet, SelectsTheVariantOfTheRequest) {
  std::size_t dropped = 0;
  auto set = VariantSet::with(nullptr, kLang, variant(sec(kLang, {{"accept-language", "en"}}), "en"), 32, 0, dropped);
  set = VariantSet::with(set.get(), kLang, variant(sec(kLang, {{"accept-language", "de"}}), "de"), 32, 0, dropped);
  EXPECT_EQ(tag_of(set->select(Headers{{"accept-language", "en"}}, 0)), "en");
  EXPECT_EQ(tag_of(set->select(Headers{{"Accept-Language", "de"}}, 0)), "de");
  EXPECT_EQ(tag_of(set->select(Headers{{"accept-language", "fr"}}, 0)), "<none>");
  EXPECT_EQ(tag_of(set->select(Headers{}, 0)), "<none>");
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(set->variants().size(), 2u);
  EXPECT_EQ(tag_of(&set->variants().front()), "de");  // most recent first
}

TEST(VariantSet, ReplacesTheSameSecondaryKey) {
  std::size_t dropped = 0;
  auto set = VariantSet::with(nullptr, kLang, variant("accept-language=en", "old"), 32, 0, dropped);
  set = VariantSet::with(set.get(), kLang, variant("accept-language=en", "new"), 32, 0, dropped);
  EXPECT_EQ(set->variants().size(), 1u);
  EXPECT_EQ(tag_of(set->find("accept-language=en", 0)), "new");
  EXPECT_EQ(dropped, 0u);
}

TEST(VariantSet, BoundedOldestDroppedAndCounted) {
  std::size_t dropped = 0;
  std::shared_ptr<const VariantSet> set;
  for (int i = 0; i < 40; ++i) {
    set = VariantSet::with(set.get(), kLang, variant("accept-language=" + std::to_string(i), std::to_string(i)), 32,
                           0, dropped);
  }
  EXPECT_EQ(set->variants().size(), 32u);
  EXPECT_EQ(dropped, 8u);
  EXPECT_EQ(set->find("accept-language=7", 0), nullptr);
  EXPECT_EQ(tag_of(set->find("accept-language=8", 0)), "8");
  EXPECT_EQ(tag_of(set->find("accept-language=39", 0)), "39");
}

TEST(VariantSet, NewNamesDropTheOldVariants) {
  std::size_t dropped = 0;
  auto set = VariantSet::with(nullptr, kLang, variant("accept-language=en", "en"), 32, 0, dropped);
  const std::vector<std::string> enc = {"accept-encoding"};
  set = VariantSet::with(set.get(), enc, variant("accept-encoding=gzip", "gz"), 32, 0, dropped);
  EXPECT_EQ(set->names(), enc);
  EXPECT_EQ(set->variants().size(), 1u);
  EXPECT_EQ(set->select(Headers{{"accept-language", "en"}, {"accept-encoding", "br"}}, 0), nullptr);
}

TEST(VariantSet, ExpiryPerVariant) {
  std::size_t dropped = 0;
  auto set = VariantSet::with(nullptr, kLang, variant("accept-language=en", "en", 100), 32, 0, dropped);
  set = VariantSet::with(set.get(), kLang, variant("accept-language=de", "de", 200), 32, 0, dropped);
  EXPECT_EQ(tag_of(set->find("accept-language=en", 99.9)), "en");
  EXPECT_EQ(set->find("accept-language=en", 100), nullptr);  // expires_at is exclusive
  EXPECT_EQ(tag_of(set->find("accept-language=de", 150)), "de");
  EXPECT_DOUBLE_EQ(set->ttl(50), 150);
  // Expired variants are not carried into the next set.
  set = VariantSet::with(set.get(), kLang, variant("accept-language=fr", "fr"), 32, 150, dropped);
  EXPECT_EQ(set->variants().size(), 2u);
  EXPECT_DOUBLE_EQ(set->ttl(150), 0);  // "fr" never expires
}

TEST(VariantSet, ChargeCoversEveryVariant) {
  std::size_t dropped = 0;
  auto one = VariantSet::with(nullptr, kLang, variant("accept-language=en", "en"), 32, 0, dropped);
  auto two = VariantSet::with(one.get(), kLang, variant("accept-language=de", "de"), 32, 0, dropped);
  EXPECT_GE(one->charge(), 100u);
  EXPECT_GE(two->charge(), one->charge() + 100u);
}

TEST(VariantSet, LivesInTheStoreUnderThePrimaryKey) {
  fcr::Store store(fcr::StoreConfig{});
  fcr::Released released;
  const auto ns = store.namespace_id("");
  std::size_t dropped = 0;
  auto set = VariantSet::with(nullptr, kLang, variant("accept-language=en", "en"), 32, 0, dropped);
  ASSERT_TRUE(store.put(ns, "GET /p", set, set->charge(), 0, released));
  auto found = std::dynamic_pointer_cast<const VariantSet>(store.peek(ns, "GET /p"));
  ASSERT_TRUE(found);
  EXPECT_EQ(store.stats().hits, 0u);  // peek counts nothing
  EXPECT_EQ(tag_of(found->select(Headers{{"accept-language", "en"}}, 0)), "en");
  EXPECT_EQ(store.peek(ns, "GET /q"), nullptr);
}
