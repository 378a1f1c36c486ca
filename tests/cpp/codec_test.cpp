#include "fcr/codec.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fcr/hash.hpp"

using namespace std::literals;
using fcr::codec::decode;
using fcr::codec::encode;
using fcr::codec::Record;
using fcr::codec::RecordView;

namespace {

Record sample() {
  Record r;
  r.key = "GET /items?page=2#accept=text/html";
  r.status = 200;
  r.headers = {{"content-type", "application/json"}, {"x-bin", "a\0b\xff"s}, {"", ""}};
  r.body = "{\"ok\":true}";
  r.media_type = "application/json";
  r.stored_at = 1767225600.25;
  r.last_modified = 1767225600;
  r.lifetime = 60.5;
  r.revalidate = true;
  r.initial_age = 12.5;
  r.stale_while_revalidate = 30;
  r.stale_if_error = 600;
  r.unbounded = false;
  r.must_revalidate = true;
  r.heuristic = true;
  r.vary = {"accept-language", "x-tenant"};
  r.secondary = "accept-language=de&x-tenant";
  r.tags = {"items", "page:2", "\xc3\xa9t\xc3\xa9"};
  return r;
}

void expect_same(const Record& a, const Record& b) {
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.headers, b.headers);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.media_type, b.media_type);
  EXPECT_EQ(a.vary, b.vary);
  EXPECT_EQ(a.initial_age, b.initial_age);
  EXPECT_EQ(a.stale_while_revalidate, b.stale_while_revalidate);
  EXPECT_EQ(a.stale_if_error, b.stale_if_error);
  EXPECT_EQ(a.unbounded, b.unbounded);
  EXPECT_EQ(a.must_revalidate, b.must_revalidate);
  EXPECT_EQ(a.heuristic, b.heuristic);
  EXPECT_EQ(a.secondary, b.secondary);
  EXPECT_EQ(a.vary_index, b.vary_index);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.stored_at), std::bit_cast<std::uint64_t>(b.stored_at));
  EXPECT_EQ(a.last_modified, b.last_modified);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.lifetime), std::bit_cast<std::uint64_t>(b.lifetime));
  EXPECT_EQ(a.revalidate, b.revalidate);
  EXPECT_EQ(a.tags, b.tags);
}

// Encodes, checks the size and the unique encoding, decodes and compares.
void round_trip(const Record& r) {
  const std::string bytes = encode(r);
  EXPECT_EQ(bytes.size(), fcr::codec::encoded_size(fcr::codec::to_view(r)));
  const auto view = decode(bytes);
  ASSERT_TRUE(view.has_value());
  expect_same(fcr::codec::to_record(*view), r);
  std::string again(fcr::codec::encoded_size(*view), '\0');
  fcr::codec::encode_into(*view, again.data());
  EXPECT_EQ(again, bytes);
}

// --- hand-built encodings, to reach the checks behind the checksum ----------

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

template <class T>
void put_le(std::string& out, T v) {
  unsigned char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    for (std::size_t i = 0; i < sizeof v / 2; ++i) std::swap(b[i], b[sizeof v - 1 - i]);
  }
  out.append(reinterpret_cast<const char*>(b), sizeof v);
}

// The 32-byte fixed prefix.
std::string prefix(std::uint8_t version = 3, std::uint8_t flags = 0, std::uint16_t status = 200) {
  std::string out = "FCRE";
  out.push_back(static_cast<char>(version));
  out.push_back(static_cast<char>(flags));
  put_le(out, status);
  put_le(out, 1.5);
  put_le(out, std::int64_t{7});
  put_le(out, 2.5);
  put_le(out, 4.0);   // initial_age
  put_le(out, 8.0);   // stale_while_revalidate
  put_le(out, 16.0);  // stale_if_error
  return out;
}

// Appends the checksum over everything so far.
std::string sealed(std::string out) {
  put_le(out, fcr::hash128(out).lo);
  return out;
}

// Replaces the checksum of a complete encoding with the right one.
std::string resealed(std::string_view encoding) {
  return sealed(std::string(encoding.substr(0, encoding.size() - 8)));
}

// key "k", no headers, body "b", no media type, no tags.
// An entry without Vary names: no names, an empty secondary key.
void no_vary(std::string& out) {
  put_varint(out, 0);
  put_bytes(out, "");
}

std::string minimal_fields() {
  std::string out;
  put_bytes(out, "k");
  no_vary(out);
  put_varint(out, 0);
  put_bytes(out, "b");
  put_varint(out, 0);
  return out;
}

}  // namespace

// --- round trips ------------------------------------------------------------

TEST(Codec, RoundTripsASample) { round_trip(sample()); }

TEST(Codec, RoundTripsEmptyFields) {
  Record r;
  r.key = "";
  r.status = 204;
  round_trip(r);
  r.media_type = "";
  round_trip(r);
}

TEST(Codec, RoundTripsALargeBody) {
  Record r = sample();
  r.body.resize(3 * 1024 * 1024 + 17);
  for (std::size_t i = 0; i < r.body.size(); ++i) r.body[i] = static_cast<char>(i * 131 + 7);
  round_trip(r);
}

TEST(Codec, RoundTripsTheMostHeadersAndTags) {
  Record r = sample();
  r.headers.clear();
  r.tags.clear();
  for (int i = 0; i < 1024; ++i) {
    r.headers.emplace_back("x-h" + std::to_string(i), std::string(static_cast<std::size_t>(i), 'v'));
    r.tags.push_back("tag" + std::to_string(i));
  }
  round_trip(r);
}

TEST(Codec, RoundTripsEveryByteValueInBinaryFields) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  Record r = sample();
  r.headers = {{all, all}, {"\0"s, "\0\0"s}};
  r.body = all + all;
  round_trip(r);
}

TEST(Codec, RoundTripsMediaTypeAbsentAndPresent) {
  Record r = sample();
  r.media_type.reset();
  round_trip(r);
  const std::string bytes = encode(r);
  const auto absent = decode(bytes);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->media_type.has_value());
  r.media_type = "text/plain; charset=utf-8";
  round_trip(r);
}

TEST(Codec, RoundTripsNumbersBitForBit) {
  Record r = sample();
  for (double d : {0.0, -0.0, 1e-310, -1e308, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN()}) {
    r.stored_at = d;
    r.lifetime = -d;
    round_trip(r);
  }
  for (std::int64_t t : {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
                         std::int64_t{0}, std::numeric_limits<std::int64_t>::max()}) {
    r.last_modified = t;
    round_trip(r);
  }
  for (std::uint16_t status : {100, 304, 599, 999}) {
    r.status = status;
    round_trip(r);
  }
  r.revalidate = false;
  round_trip(r);
}

TEST(Codec, RoundTripsLengthsAcrossVarintWidths) {
  Record r = sample();
  for (std::size_t n : {127u, 128u, 16383u, 16384u, 2097151u, 2097152u}) {
    r.body.assign(n, 'x');
    r.key.assign(n % 1000, 'k');
    round_trip(r);
  }
}

TEST(Codec, DecodedViewsPointIntoTheInput) {
  const std::string bytes = encode(sample());
  const auto view = decode(bytes);
  ASSERT_TRUE(view);
  const auto inside = [&](std::string_view s) {
    return s.data() >= bytes.data() && s.data() + s.size() <= bytes.data() + bytes.size();
  };
  EXPECT_TRUE(inside(view->key));
  EXPECT_TRUE(inside(view->body));
  EXPECT_TRUE(inside(*view->media_type));
  for (const auto& [name, value] : view->headers) EXPECT_TRUE(inside(name) && inside(value));
  for (std::string_view tag : view->tags) EXPECT_TRUE(inside(tag));
}

// --- the layout is a persisted format: pin it ----------------------------------

TEST(Codec, LayoutIsTheDocumentedOne) {
  Record r;
  r.key = "k";
  r.status = 200;
  r.headers = {{"a", "bc"}};
  r.body = "xyz";
  r.media_type = "t";
  r.stored_at = 1.5;
  r.last_modified = 7;
  r.lifetime = 2.5;
  r.revalidate = true;
  r.tags = {"g"};
  r.vary = {"accept", "x"};
  r.secondary = "accept=a";
  r.initial_age = 4.0;
  r.stale_while_revalidate = 8.0;
  r.stale_if_error = 16.0;
  std::string expected = prefix(3, 0x03, 200);
  put_bytes(expected, "k");
  put_varint(expected, 2);
  put_bytes(expected, "accept");
  put_bytes(expected, "x");
  put_bytes(expected, "accept=a");
  put_varint(expected, 1);
  put_bytes(expected, "a");
  put_bytes(expected, "bc");
  put_bytes(expected, "xyz");
  put_bytes(expected, "t");
  put_varint(expected, 1);
  put_bytes(expected, "g");
  expected = sealed(expected);
  EXPECT_EQ(encode(r), expected);
  EXPECT_EQ(expected.substr(0, 8), "FCRE\x03\x03\xc8\x00"sv);
  ASSERT_TRUE(decode(expected));
}

TEST(Codec, HandBuiltMinimalEncodingDecodes) {
  const std::string bytes = sealed(prefix() + minimal_fields());  // the views point into it
  const auto view = decode(bytes);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->key, "k");
  EXPECT_EQ(view->body, "b");
  EXPECT_EQ(view->status, 200);
  EXPECT_EQ(view->stored_at, 1.5);
  EXPECT_EQ(view->last_modified, 7);
  EXPECT_EQ(view->lifetime, 2.5);
  EXPECT_FALSE(view->revalidate);
  EXPECT_FALSE(view->media_type);
  EXPECT_TRUE(view->headers.empty());
  EXPECT_TRUE(view->tags.empty());
}

// --- rejection --------------------------------------------------------------

TEST(Codec, RejectsEveryTruncation) {
  const std::string bytes = encode(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, n))) << "prefix of " << n;
    // Even with a checksum that matches what is left.
    if (n >= 8) EXPECT_FALSE(decode(resealed(bytes.substr(0, n)))) << "resealed " << n;
  }
}

TEST(Codec, RejectsEverySingleByteCorruption) {
  const std::string bytes = encode(sample());
  std::string corrupt = bytes;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int delta = 1; delta < 256; ++delta) {
      corrupt[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]) ^ delta);
      ASSERT_FALSE(decode(corrupt)) << "byte " << i << " ^ " << delta;
    }
    corrupt[i] = bytes[i];
  }
  EXPECT_TRUE(decode(corrupt));
}

// With the checksum recomputed, the structural checks alone either reject a
// corrupted byte or accept a record that encodes back to exactly those bytes.
TEST(Codec, ResealedCorruptionsAreRejectedOrCanonical) {
  const std::string bytes = encode(sample());
  std::string corrupt = bytes;
  int accepted = 0;
  for (std::size_t i = 0; i + 8 < bytes.size(); ++i) {
    for (int delta = 1; delta < 256; ++delta) {
      corrupt[i] = static_cast<char>(static_cast<unsigned char>(bytes[i]) ^ delta);
      const std::string candidate = resealed(corrupt);
      if (const auto view = decode(candidate)) {
        ++accepted;
        std::string again(fcr::codec::encoded_size(*view), '\0');
        fcr::codec::encode_into(*view, again.data());
        ASSERT_EQ(again, candidate) << "byte " << i << " ^ " << delta;
      }
    }
    corrupt[i] = bytes[i];
  }
  EXPECT_GT(accepted, 0);  // e.g. a changed body byte is a different valid record
}

TEST(Codec, RejectsWrongMagic) {
  const std::string bytes = encode(sample());
  for (std::size_t i = 0; i < 4; ++i) {
    std::string other = bytes;
    other[i] = 'X';
    EXPECT_FALSE(decode(resealed(other)));
  }
  EXPECT_FALSE(decode(resealed("fcre"s + bytes.substr(4))));
}

TEST(Codec, RejectsOtherVersions) {
  for (int version : {0, 1, 2, 4, 0x7F, 0xFF}) {
    EXPECT_FALSE(decode(sealed(prefix(static_cast<std::uint8_t>(version)) + minimal_fields())))
        << version;
  }
  EXPECT_TRUE(decode(sealed(prefix(3) + minimal_fields())));
}

TEST(Codec, RejectsUnknownFlags) {
  for (int bit = 6; bit < 8; ++bit) {
    EXPECT_FALSE(decode(sealed(prefix(3, static_cast<std::uint8_t>(1u << bit)) + minimal_fields())));
  }
  EXPECT_TRUE(decode(sealed(prefix(3, fcr::codec::kFlagRevalidate) + minimal_fields())));
  EXPECT_TRUE(decode(sealed(prefix(3, fcr::codec::kFlagVaryIndex) + minimal_fields()))->vary_index);
  EXPECT_TRUE(decode(sealed(prefix(3, fcr::codec::kFlagUnbounded) + minimal_fields()))->unbounded);
  EXPECT_TRUE(decode(sealed(prefix(3, fcr::codec::kFlagMustRevalidate) + minimal_fields()))->must_revalidate);
  EXPECT_TRUE(decode(sealed(prefix(3, fcr::codec::kFlagHeuristic) + minimal_fields()))->heuristic);
  // The media-type flag without a media type: the tag count byte is taken as an
  // empty media type and the count is then missing.
  EXPECT_FALSE(decode(sealed(prefix(3, fcr::codec::kFlagMediaType) + minimal_fields())));
}

TEST(Codec, RejectsStatusOutOfRange) {
  for (int status : {0, 1, 99, 1000, 65535}) {
    EXPECT_FALSE(decode(sealed(prefix(3, 0, static_cast<std::uint16_t>(status)) + minimal_fields())))
        << status;
  }
}

TEST(Codec, RejectsHugeLengths) {
  for (std::uint64_t n : {std::uint64_t{2}, std::uint64_t{1} << 31, std::uint64_t{1} << 32,
                          std::uint64_t{1} << 63, ~std::uint64_t{0}, ~std::uint64_t{0} - 7}) {
    std::string key_len = prefix();
    put_varint(key_len, n);  // the key claims more than is there
    key_len += "k";
    no_vary(key_len);
    put_varint(key_len, 0);
    put_bytes(key_len, "b");
    put_varint(key_len, 0);
    EXPECT_FALSE(decode(sealed(key_len))) << n;

    std::string body_len = prefix();
    put_bytes(body_len, "k");
    no_vary(body_len);
    put_varint(body_len, 0);
    put_varint(body_len, n);
    body_len += "b";
    put_varint(body_len, 0);
    EXPECT_FALSE(decode(sealed(body_len))) << n;
  }
}

TEST(Codec, RejectsOverlongAndNonMinimalVarints) {
  // An 11-byte varint, a 10th byte with bits above 2^64, and zero padded ones.
  for (std::string_view varint : {"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"sv,
                                  "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02"sv,
                                  "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"sv,
                                  "\x81\x00"sv, "\x80\x80\x00"sv}) {
    std::string out = prefix();
    out += varint;  // key length
    no_vary(out);
    put_varint(out, 0);
    put_bytes(out, "b");
    put_varint(out, 0);
    EXPECT_FALSE(decode(sealed(out)));
  }
  // The same length, minimal: accepted.
  std::string out = prefix();
  out += "\x01"sv;
  out += "k";
  no_vary(out);
  put_varint(out, 0);
  put_bytes(out, "b");
  put_varint(out, 0);
  EXPECT_TRUE(decode(sealed(out)));
}

TEST(Codec, RejectsTooManyHeadersOrTags) {
  std::string headers = prefix();
  put_bytes(headers, "k");
  no_vary(headers);
  put_varint(headers, 1025);
  for (int i = 0; i < 1025; ++i) {
    put_bytes(headers, "n");
    put_bytes(headers, "v");
  }
  put_bytes(headers, "b");
  put_varint(headers, 0);
  EXPECT_FALSE(decode(sealed(headers)));

  std::string tags = prefix();
  put_bytes(tags, "k");
  no_vary(tags);
  put_varint(tags, 0);
  put_bytes(tags, "b");
  put_varint(tags, 1025);
  for (int i = 0; i < 1025; ++i) put_bytes(tags, "t");
  EXPECT_FALSE(decode(sealed(tags)));

  // A count far beyond the data, without the elements.
  std::string huge = prefix();
  put_bytes(huge, "k");
  no_vary(huge);
  put_varint(huge, ~std::uint64_t{0});
  EXPECT_FALSE(decode(sealed(huge)));
}

TEST(Codec, RejectsTrailingBytes) {
  const std::string bytes = encode(sample());
  const std::string_view covered = std::string_view(bytes).substr(0, bytes.size() - 8);
  for (std::string_view extra : {"\0"sv, "x"sv, "\0\0\0\0\0\0\0\0"sv}) {
    EXPECT_FALSE(decode(sealed(std::string(covered) + std::string(extra))));
    EXPECT_FALSE(decode(bytes + std::string(extra)));
  }
}

TEST(Codec, RejectsTextThatIsNotUtf8) {
  for (std::string_view bad : {"\xff"sv, "\xc0\xaf"sv, "\xed\xa0\x80"sv, "\xf4\x90\x80\x80"sv,
                               "\xe2\x82"sv}) {
    std::string key = prefix();
    put_bytes(key, bad);
    no_vary(key);
    put_varint(key, 0);
    put_bytes(key, "b");
    put_varint(key, 0);
    EXPECT_FALSE(decode(sealed(key)));

    std::string media = prefix(3, fcr::codec::kFlagMediaType);
    put_bytes(media, "k");
    no_vary(media);
    put_varint(media, 0);
    put_bytes(media, "b");
    put_bytes(media, bad);
    put_varint(media, 0);
    EXPECT_FALSE(decode(sealed(media)));

    std::string tag = prefix();
    put_bytes(tag, "k");
    no_vary(tag);
    put_varint(tag, 0);
    put_bytes(tag, "b");
    put_varint(tag, 1);
    put_bytes(tag, bad);
    EXPECT_FALSE(decode(sealed(tag)));
  }
}

TEST(Codec, RejectsShortAndForeignInput) {
  EXPECT_FALSE(decode(""));
  EXPECT_FALSE(decode("FCRE"));
  EXPECT_FALSE(decode(std::string(39, '\0')));
  EXPECT_FALSE(decode(std::string(4096, '\0')));
  EXPECT_FALSE(decode("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00}\x94."sv));  // a pickle
  EXPECT_FALSE(decode(R"({"status": 200, "body": "hello"})"));
  // The fixed prefix alone, sealed: the variable fields are missing.
  EXPECT_FALSE(decode(sealed(prefix())));
}

// --- encoding what decode() would reject is refused ---------------------------

TEST(Codec, EncodeRefusesUndecodableRecords) {
  Record r = sample();
  r.status = 99;
  EXPECT_THROW(encode(r), std::invalid_argument);
  r.status = 1000;
  EXPECT_THROW(encode(r), std::invalid_argument);

  r = sample();
  r.headers.assign(1025, {"n", "v"});
  EXPECT_THROW(encode(r), std::invalid_argument);

  r = sample();
  r.tags.assign(1025, "t");
  EXPECT_THROW(encode(r), std::invalid_argument);

  r = sample();
  r.key = "\xff";
  EXPECT_THROW(encode(r), std::invalid_argument);
  r = sample();
  r.media_type = "\xed\xa0\x80";
  EXPECT_THROW(encode(r), std::invalid_argument);
  r = sample();
  r.tags = {"ok", "\xc0\x80"};
  EXPECT_THROW(encode(r), std::invalid_argument);

  EXPECT_EQ(fcr::codec::invalid_reason(fcr::codec::to_view(sample())), nullptr);
}

TEST(Codec, Utf8Validation) {
  using fcr::codec::valid_utf8;
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("ascii \0 nul"sv));
  EXPECT_TRUE(valid_utf8("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));      // overlong
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));  // overlong
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xf0\x90\x80"));      // truncated
}
