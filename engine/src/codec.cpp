// The entry codec (format in fcr/codec.hpp).
#include "fcr/codec.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

#include "fcr/hash.hpp"

namespace fcr::codec {
namespace {

static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8,
              "the format stores IEEE-754 binary64 doubles");

template <class T>
T byteswap_if_big(T v) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    unsigned char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    for (std::size_t i = 0; i < sizeof v / 2; ++i) std::swap(b[i], b[sizeof v - 1 - i]);
    std::memcpy(&v, b, sizeof v);
  }
  return v;
}

// --- writing ----------------------------------------------------------------

std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

struct Writer {
  char* p;

  void raw(const void* data, std::size_t n) noexcept {
    if (n != 0) std::memcpy(p, data, n);  // memcpy(p, nullptr, 0) is UB
    p += n;
  }
  template <class T>
  void fixed(T v) noexcept {
    v = byteswap_if_big(v);
    raw(&v, sizeof v);
  }
  void varint(std::uint64_t v) noexcept {
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
  }
  void bytes(std::string_view s) noexcept {
    varint(s.size());
    raw(s.data(), s.size());
  }
};

std::size_t bytes_size(std::string_view s) noexcept { return varint_size(s.size()) + s.size(); }

// --- reading ----------------------------------------------------------------

// Every read checks the bytes that remain first; a failed read poisons the
// reader (ok = false) and every later read fails too.
struct Reader {
  const char* p;
  std::size_t left;
  bool ok = true;

  bool take(std::size_t n, const char*& out) noexcept {
    if (!ok || n > left) return ok = false;
    out = p;
    p += n;
    left -= n;
    return true;
  }
  template <class T>
  T fixed() noexcept {
    const char* at = nullptr;
    T v{};
    if (!take(sizeof v, at)) return v;
    std::memcpy(&v, at, sizeof v);
    return byteswap_if_big(v);
  }
  std::uint8_t u8() noexcept { return fixed<std::uint8_t>(); }
  // Unsigned LEB128: at most 10 bytes, no bits above 2^64, minimal.
  std::uint64_t varint() noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < kMaxVarintBytes; ++i) {
      const char* at = nullptr;
      if (!take(1, at)) return 0;
      const auto b = static_cast<unsigned char>(*at);
      const unsigned shift = static_cast<unsigned>(7 * i);
      if (i == kMaxVarintBytes - 1 && b > 0x01) break;  // bits 64 and up
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && i != 0) break;  // a redundant trailing zero group
        return v;
      }
    }
    ok = false;
    return 0;
  }
  std::string_view bytes() noexcept {
    const std::uint64_t n = varint();
    const char* at = nullptr;
    // Compared as u64 before any narrowing: a huge length just fails.
    if (!ok || n > left) {
      ok = false;
      return {};
    }
    take(static_cast<std::size_t>(n), at);
    return {at, static_cast<std::size_t>(n)};
  }
  std::string_view text() noexcept {
    std::string_view s = bytes();
    if (ok && !valid_utf8(s)) ok = false;
    return s;
  }
  std::uint64_t count(std::size_t max) noexcept {
    const std::uint64_t n = varint();
    if (n > max) ok = false;
    return ok ? n : 0;
  }
};

RecordView decode_fields(Reader& in, std::uint8_t flags) {
  RecordView v;
  v.status = in.fixed<std::uint16_t>();
  v.stored_at = in.fixed<double>();
  v.last_modified = in.fixed<std::int64_t>();
  v.lifetime = in.fixed<double>();
  v.initial_age = in.fixed<double>();
  v.stale_while_revalidate = in.fixed<double>();
  v.stale_if_error = in.fixed<double>();
  v.revalidate = (flags & kFlagRevalidate) != 0;
  v.unbounded = (flags & kFlagUnbounded) != 0;
  v.must_revalidate = (flags & kFlagMustRevalidate) != 0;
  v.heuristic = (flags & kFlagHeuristic) != 0;
  v.vary_index = (flags & kFlagVaryIndex) != 0;
  if (v.status < 100 || v.status > 999) in.ok = false;
  v.key = in.text();
  const std::uint64_t names = in.count(kMaxVaryNames);
  v.vary.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(names, in.left)));
  for (std::uint64_t i = 0; in.ok && i < names; ++i) v.vary.push_back(in.text());
  v.secondary = in.text();
  const std::uint64_t headers = in.count(kMaxHeaders);
  // Each field takes at least two bytes, so this never over-reserves much.
  v.headers.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(headers, in.left / 2)));
  for (std::uint64_t i = 0; in.ok && i < headers; ++i) {
    std::string_view name = in.bytes();
    std::string_view value = in.bytes();
    v.headers.emplace_back(name, value);
  }
  v.body = in.bytes();
  if (flags & kFlagMediaType) v.media_type = in.text();
  const std::uint64_t tags = in.count(kMaxTags);
  v.tags.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(tags, in.left)));
  for (std::uint64_t i = 0; in.ok && i < tags; ++i) v.tags.push_back(in.text());
  return v;
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (s.size() - i - 1 < need) return false;
    for (std::size_t k = 1; k <= need; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < lo || c > hi) return false;
      lo = 0x80;
      hi = 0xBF;
    }
    i += need + 1;
  }
  return true;
}

RecordView to_view(const Record& r) {
  RecordView v;
  v.key = r.key;
  v.status = r.status;
  v.headers.reserve(r.headers.size());
  for (const auto& [name, value] : r.headers) v.headers.emplace_back(name, value);
  v.body = r.body;
  if (r.media_type) v.media_type = std::string_view(*r.media_type);
  v.stored_at = r.stored_at;
  v.last_modified = r.last_modified;
  v.lifetime = r.lifetime;
  v.initial_age = r.initial_age;
  v.stale_while_revalidate = r.stale_while_revalidate;
  v.stale_if_error = r.stale_if_error;
  v.revalidate = r.revalidate;
  v.unbounded = r.unbounded;
  v.must_revalidate = r.must_revalidate;
  v.heuristic = r.heuristic;
  v.vary_index = r.vary_index;
  v.vary.assign(r.vary.begin(), r.vary.end());
  v.secondary = r.secondary;
  v.tags.assign(r.tags.begin(), r.tags.end());
  return v;
}

Record to_record(const RecordView& v) {
  Record r;
  r.key = v.key;
  r.status = v.status;
  r.headers.reserve(v.headers.size());
  for (const auto& [name, value] : v.headers) r.headers.emplace_back(name, value);
  r.body = v.body;
  if (v.media_type) r.media_type = std::string(*v.media_type);
  r.stored_at = v.stored_at;
  r.last_modified = v.last_modified;
  r.lifetime = v.lifetime;
  r.initial_age = v.initial_age;
  r.stale_while_revalidate = v.stale_while_revalidate;
  r.stale_if_error = v.stale_if_error;
  r.revalidate = v.revalidate;
  r.unbounded = v.unbounded;
  r.must_revalidate = v.must_revalidate;
  r.heuristic = v.heuristic;
  r.vary_index = v.vary_index;
  r.vary.assign(v.vary.begin(), v.vary.end());
  r.secondary = std::string(v.secondary);
  r.tags.assign(v.tags.begin(), v.tags.end());
  return r;
}

const char* invalid_reason(const RecordView& v) noexcept {
  if (v.status < 100 || v.status > 999) return "status must be in 100..999";
  if (v.headers.size() > kMaxHeaders) return "too many header fields (at most 1024)";
  if (v.tags.size() > kMaxTags) return "too many tags (at most 1024)";
  if (v.vary.size() > kMaxVaryNames) return "too many Vary names (at most 256)";
  if (!valid_utf8(v.key)) return "key is not valid UTF-8";
  if (!valid_utf8(v.secondary)) return "secondary key is not valid UTF-8";
  for (std::string_view name : v.vary) {
    if (!valid_utf8(name)) return "Vary name is not valid UTF-8";
  }
  if (v.media_type && !valid_utf8(*v.media_type)) return "media type is not valid UTF-8";
  for (std::string_view tag : v.tags) {
    if (!valid_utf8(tag)) return "tag is not valid UTF-8";
  }
  return nullptr;
}

std::size_t encoded_size(const RecordView& v) noexcept {
  std::size_t n = kFixedPrefixSize + bytes_size(v.key) + varint_size(v.vary.size());
  for (std::string_view name : v.vary) n += bytes_size(name);
  n += bytes_size(v.secondary) + varint_size(v.headers.size());
  for (const auto& [name, value] : v.headers) n += bytes_size(name) + bytes_size(value);
  n += bytes_size(v.body);
  if (v.media_type) n += bytes_size(*v.media_type);
  n += varint_size(v.tags.size());
  for (std::string_view tag : v.tags) n += bytes_size(tag);
  return n + kChecksumSize;
}

void encode_into(const RecordView& v, char* out) noexcept {
  Writer w{out};
  w.raw(kMagic, sizeof kMagic);
  w.fixed(kVersion);
  std::uint8_t flags = 0;
  if (v.media_type) flags |= kFlagMediaType;
  if (v.revalidate) flags |= kFlagRevalidate;
  if (v.vary_index) flags |= kFlagVaryIndex;
  if (v.unbounded) flags |= kFlagUnbounded;
  if (v.must_revalidate) flags |= kFlagMustRevalidate;
  if (v.heuristic) flags |= kFlagHeuristic;
  w.fixed(flags);
  w.fixed(v.status);
  w.fixed(v.stored_at);
  w.fixed(v.last_modified);
  w.fixed(v.lifetime);
  w.fixed(v.initial_age);
  w.fixed(v.stale_while_revalidate);
  w.fixed(v.stale_if_error);
  w.bytes(v.key);
  w.varint(v.vary.size());
  for (std::string_view name : v.vary) w.bytes(name);
  w.bytes(v.secondary);
  w.varint(v.headers.size());
  for (const auto& [name, value] : v.headers) {
    w.bytes(name);
    w.bytes(value);
  }
  w.bytes(v.body);
  if (v.media_type) w.bytes(*v.media_type);
  w.varint(v.tags.size());
  for (std::string_view tag : v.tags) w.bytes(tag);
  const std::size_t covered = static_cast<std::size_t>(w.p - out);
  w.fixed(hash128(std::string_view(out, covered)).lo);
}

std::string encode(const Record& record) {
  const RecordView view = to_view(record);
  if (const char* reason = invalid_reason(view)) throw std::invalid_argument(reason);
  std::string out(encoded_size(view), '\0');
  encode_into(view, out.data());
  return out;
}

std::optional<RecordView> decode(std::string_view data) noexcept {
  constexpr std::size_t kMinSize = kFixedPrefixSize + kChecksumSize;
  if (data.size() < kMinSize) return std::nullopt;
  if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  if (static_cast<std::uint8_t>(data[4]) != kVersion) return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(data[5]);
  if ((flags & ~kKnownFlags) != 0) return std::nullopt;

  const std::size_t covered = data.size() - kChecksumSize;
  std::uint64_t stored = 0;
  std::memcpy(&stored, data.data() + covered, sizeof stored);
  if (byteswap_if_big(stored) != hash128(data.substr(0, covered)).lo) return std::nullopt;

  Reader in{data.data() + 6, covered - 6};
  try {
    RecordView v = decode_fields(in, flags);
    if (!in.ok || in.left != 0) return std::nullopt;  // malformed, or trailing bytes
    return v;
  } catch (const std::bad_alloc&) {  // at most 2304 small vector slots
    return std::nullopt;
  }
}

}  // namespace fcr::codec
