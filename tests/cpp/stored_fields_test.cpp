// Which response fields a cache keeps (RFC 9110 section 7.6.1, RFC 9111
// section 3.1) and how a 304 refreshes them (RFC 9111 sections 3.2, 4.3.4).
#include "fcr/stored_fields.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

using fcr::http::connection_listed;
using fcr::http::FieldView;
using fcr::http::is_unstorable_field;
using fcr::http::refreshed_fields;
using fcr::http::storable_fields;

using Fields = std::vector<FieldView>;
using Lines = std::vector<std::pair<std::string, std::string>>;

// The refreshed fields as (name, value) lines.
Lines refresh(const Fields& stored, const Fields& fresh) {
  Lines out;
  for (const auto& [from_fresh, i] : refreshed_fields(stored, fresh)) {
    const FieldView& f = from_fresh ? fresh.at(i) : stored.at(i);
    out.emplace_back(std::string(f.first), std::string(f.second));
  }
  return out;
}

// RFC 9110 section 7.6.1: intermediaries "SHOULD remove or replace fields
// that are known to require removal before forwarding ... Proxy-Connection
// ..., Keep-Alive ..., TE ..., Transfer-Encoding ..., Upgrade".
TEST(UnstorableField, HopByHopFields) {
  for (const char* name : {"connection", "Connection", "keep-alive", "Proxy-Connection", "TE",
                           "transfer-encoding", "UPGRADE", " upgrade "}) {
    EXPECT_TRUE(is_unstorable_field(name, {})) << name;
  }
}

// RFC 9111 section 3.1: "Effectively, this is limited to Proxy-Authenticate
// ..., Proxy-Authentication-Info ..., and Proxy-Authorization".
TEST(UnstorableField, ProxyAuthenticationFields) {
  for (const char* name : {"Proxy-Authenticate", "proxy-authentication-info",
                           "PROXY-AUTHORIZATION"}) {
    EXPECT_TRUE(is_unstorable_field(name, {})) << name;
  }
}

TEST(UnstorableField, EverythingElseIsStored) {
  for (const char* name : {"content-type", "etag", "cache-control", "set-cookie", "trailer",
                           "authorization", "www-authenticate", "x-connection", "tee",
                           "content-length", ""}) {
    EXPECT_FALSE(is_unstorable_field(name, {})) << name;
  }
}

// RFC 9110 section 7.6.1: "for each connection-option in this field, remove
// any header or trailer field(s) from the message with the same name as the
// connection-option".
TEST(UnstorableField, FieldsTheConnectionFieldLists) {
  const std::vector<std::string> listed = {"x-hop", "x-trace"};
  EXPECT_TRUE(is_unstorable_field("X-Hop", listed));
  EXPECT_TRUE(is_unstorable_field("x-trace", listed));
  EXPECT_FALSE(is_unstorable_field("x-hops", listed));
}

// Section 7.6.1: "Connection = #connection-option"; field names are
// case-insensitive.
TEST(ConnectionListed, NamesFromEveryConnectionLine) {
  const Fields fields = {{"Connection", "close, X-Hop"},
                         {"content-type", "text/plain"},
                         {"connection", " ,x-trace ,\tX-HOP, "}};
  EXPECT_EQ(connection_listed(fields), (std::vector<std::string>{"close", "x-hop", "x-trace"}));
  EXPECT_TRUE(connection_listed({{"x-connection", "x-hop"}}).empty());
  EXPECT_TRUE(connection_listed({}).empty());
}

TEST(StorableFields, KeepsTheOthersInOrder) {
  const Fields fields = {{"content-type", "text/plain"}, {"Connection", "x-hop"},
                         {"x-hop", "1"},                 {"etag", "\"a\""},
                         {"keep-alive", "timeout=5"},    {"Proxy-Authenticate", "Basic"},
                         {"set-cookie", "a=1"},          {"set-cookie", "b=2"}};
  EXPECT_EQ(storable_fields(fields), (std::vector<std::size_t>{0, 3, 6, 7}));
  EXPECT_TRUE(storable_fields({}).empty());
}

// RFC 9111 section 4.3.4: "the cache MUST ... use other header fields
// provided in the 304 (Not Modified) response to replace all instances of the
// corresponding header fields in the stored response."
TEST(RefreshedFields, ReplacesAllInstancesInPlace) {
  const Fields stored = {{"content-type", "text/plain"}, {"cache-control", "max-age=10"},
                         {"x-a", "1"},                   {"cache-control", "public"},
                         {"etag", "\"v1\""}};
  const Fields fresh = {{"Cache-Control", "max-age=60"}, {"cache-control", "s-maxage=5"}};
  EXPECT_EQ(refresh(stored, fresh), (Lines{{"content-type", "text/plain"},
                                           {"Cache-Control", "max-age=60"},
                                           {"cache-control", "s-maxage=5"},
                                           {"x-a", "1"},
                                           {"etag", "\"v1\""}}));
}

TEST(RefreshedFields, NewNamesAreAppendedInTheOrderOfThe304) {
  const Fields stored = {{"content-type", "text/plain"}, {"etag", "\"v1\""}};
  const Fields fresh = {{"date", "d2"}, {"ETag", "\"v1\""}, {"expires", "e2"}, {"date", "d3"}};
  EXPECT_EQ(refresh(stored, fresh), (Lines{{"content-type", "text/plain"},
                                           {"ETag", "\"v1\""},
                                           {"date", "d2"},
                                           {"expires", "e2"},
                                           {"date", "d3"}}));
}

TEST(RefreshedFields, StoredFieldsThe304DoesNotNameAreKept) {
  const Fields stored = {{"content-type", "text/plain"}, {"x-a", "1"}, {"x-a", "2"}};
  EXPECT_EQ(refresh(stored, {}),
            (Lines{{"content-type", "text/plain"}, {"x-a", "1"}, {"x-a", "2"}}));
}

// RFC 9111 section 3.2: "the cache MUST add each header field in the provided
// response to the stored response, replacing field values that are already
// present, with the following exceptions: ... The Content-Length header
// field."
TEST(RefreshedFields, ContentLengthIsNeverReplaced) {
  const Fields stored = {{"content-length", "5"}, {"etag", "\"v1\""}};
  const Fields fresh = {{"Content-Length", "0"}, {"etag", "\"v1\""}};
  EXPECT_EQ(refresh(stored, fresh), (Lines{{"content-length", "5"}, {"etag", "\"v1\""}}));
  // Nor added when the stored response had none.
  EXPECT_EQ(refresh({{"etag", "\"v1\""}}, {{"content-length", "0"}}), (Lines{{"etag", "\"v1\""}}));
}

// Section 3.2: a cache "MAY omit these header fields from updating stored
// responses" when they are "necessary to assure integrity of the stored
// response": the stored body's coding and extent do not change with a 304.
TEST(RefreshedFields, ContentEncodingAndContentRangeDescribeTheStoredBody) {
  const Fields stored = {{"content-encoding", "gzip"}, {"etag", "\"v1\""}};
  const Fields fresh = {{"content-encoding", "br"}, {"content-range", "bytes 0-1/2"}};
  EXPECT_EQ(refresh(stored, fresh), (Lines{{"content-encoding", "gzip"}, {"etag", "\"v1\""}}));
}

// Section 3.2's exceptions include "Header fields excepted from storage in
// Section 3.1": the 304's hop-by-hop and proxy fields are not taken, and
// its own Connection field lists more of them.
TEST(RefreshedFields, UnstorableFieldsOfThe304AreSkipped) {
  const Fields stored = {{"etag", "\"v1\""}, {"x-hop", "stored"}};
  const Fields fresh = {{"Connection", "X-Hop, keep-alive"},
                        {"keep-alive", "timeout=5"},
                        {"x-hop", "fresh"},
                        {"transfer-encoding", "chunked"},
                        {"proxy-authenticate", "Basic"},
                        {"cache-control", "max-age=5"}};
  EXPECT_EQ(refresh(stored, fresh),
            (Lines{{"etag", "\"v1\""}, {"x-hop", "stored"}, {"cache-control", "max-age=5"}}));
}

TEST(RefreshedFields, TheResultIsAlwaysStorable) {
  // Stored fields that a cache must not keep are dropped, by the stored
  // response's own Connection field.
  const Fields stored = {{"connection", "x-old"}, {"x-old", "1"}, {"etag", "\"v1\""},
                         {"upgrade", "h2c"}};
  const Fields fresh = {{"x-old", "2"}};
  EXPECT_EQ(refresh(stored, fresh), (Lines{{"etag", "\"v1\""}, {"x-old", "2"}}));
}

TEST(RefreshedFields, NamesCompareCaseInsensitively) {
  const Fields stored = {{"ETAG", "\"v1\""}, {"Cache-Control", "max-age=1"}};
  const Fields fresh = {{"cache-control", "max-age=2"}, {"etag", "\"v1\""}};
  EXPECT_EQ(refresh(stored, fresh),
            (Lines{{"etag", "\"v1\""}, {"cache-control", "max-age=2"}}));
}

TEST(RefreshedFields, EmptyInputs) {
  EXPECT_TRUE(refreshed_fields({}, {}).empty());
  EXPECT_EQ(refresh({}, {{"etag", "\"v1\""}}), (Lines{{"etag", "\"v1\""}}));
}

}  // namespace
