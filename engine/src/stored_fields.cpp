#include "fcr/stored_fields.hpp"

#include <algorithm>
#include <array>

#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::iequals;

// RFC 9110 section 7.6.1: intermediaries "SHOULD remove or replace fields
// that are known to require removal before forwarding, whether or not they
// appear as a connection-option ... Proxy-Connection, Keep-Alive, TE,
// Transfer-Encoding, Upgrade", and Connection itself. RFC 9111 section 3.1:
// "Header fields that are specific to the proxy that a cache uses when
// forwarding a request MUST NOT be stored ... Proxy-Authenticate ...,
// Proxy-Authentication-Info ..., and Proxy-Authorization".
constexpr std::array<std::string_view, 9> kUnstorable = {
    "connection",         "keep-alive",        "proxy-connection",
    "te",                 "transfer-encoding", "upgrade",
    "proxy-authenticate", "proxy-authentication-info",
    "proxy-authorization",
};

// Fields a 304 never replaces. RFC 9111 section 3.2: "the cache MUST add each
// header field in the provided response to the stored response, replacing
// field values that are already present, with the following exceptions: ...
// The Content-Length header field." Content-Encoding and Content-Range
// describe the stored body's bytes, which a 304 does not change; section 3.2
// lets a cache "omit these header fields from updating stored responses" when
// they are "necessary to assure integrity of the stored response".
constexpr std::array<std::string_view, 3> kBodyBound = {
    "content-length", "content-encoding", "content-range"};

// Field names compare case-insensitively (RFC 9110 section 5.1), without
// surrounding whitespace.
bool same_name(std::string_view a, std::string_view b) {
  return iequals(detail::trim_ows(a), detail::trim_ows(b));
}

template <std::size_t N>
bool named(std::string_view name, const std::array<std::string_view, N>& names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view n) { return same_name(name, n); });
}

bool refreshable(std::string_view name, const std::vector<std::string>& listed) {
  return !is_unstorable_field(name, listed) && !named(name, kBodyBound);
}

// Indexes of the fields that pass `keep`, in order.
template <typename Keep>
std::vector<std::size_t> indexes(const std::vector<FieldView>& fields, Keep keep) {
  std::vector<std::size_t> out;
  out.reserve(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (keep(fields[i].first)) out.push_back(i);
  }
  return out;
}

// Whether any of `fields` at `which` has this name. Field counts are small
// (tens), so the linear scans cost less than building a map.
bool has_name(const std::vector<FieldView>& fields, const std::vector<std::size_t>& which,
              std::size_t count, std::string_view name) {
  for (std::size_t k = 0; k < count; ++k) {
    if (same_name(fields[which[k]].first, name)) return true;
  }
  return false;
}

}  // namespace

bool is_unstorable_field(std::string_view name, const std::vector<std::string>& connection_listed) {
  if (named(name, kUnstorable)) return true;
  // RFC 9110 section 7.6.1: "for each connection-option in this field, remove
  // any header or trailer field(s) from the message with the same name".
  return std::any_of(connection_listed.begin(), connection_listed.end(),
                     [&](const std::string& listed) { return same_name(name, listed); });
}

std::vector<std::string> connection_listed(const std::vector<FieldView>& fields) {
  // Connection = #connection-option, connection-option = token: a plain list,
  // case-insensitive (RFC 9110 section 7.6.1).
  std::vector<std::string> names;
  for (const auto& [name, value] : fields) {
    if (!same_name(name, "connection")) continue;
    detail::for_each_plain_member(
        value, [&](std::string_view member) { detail::add_field_name(names, member); });
  }
  return names;
}

std::vector<std::size_t> storable_fields(const std::vector<FieldView>& fields) {
  const std::vector<std::string> listed = connection_listed(fields);
  return indexes(fields, [&](std::string_view name) { return !is_unstorable_field(name, listed); });
}

// RFC 9111 section 4.3.4: "the cache MUST ... use other header fields provided
// in the 304 (Not Modified) response to replace all instances of the
// corresponding header fields in the stored response." Order: a stored field
// the 304 does not name stays where it was; the 304's fields of a name it
// shares with the stored response take the place of that name's first stored
// field (its other stored fields are dropped); names new in the 304 follow
// at the end, in the 304's order. Each response's own Connection field says
// which of its fields are hop-by-hop.
std::vector<std::pair<bool, std::size_t>> refreshed_fields(const std::vector<FieldView>& stored,
                                                           const std::vector<FieldView>& fresh) {
  const std::vector<std::string> stored_listed = connection_listed(stored);
  const std::vector<std::string> fresh_listed = connection_listed(fresh);
  const std::vector<std::size_t> kept = indexes(
      stored, [&](std::string_view name) { return !is_unstorable_field(name, stored_listed); });
  const std::vector<std::size_t> added =
      indexes(fresh, [&](std::string_view name) { return refreshable(name, fresh_listed); });

  std::vector<std::pair<bool, std::size_t>> out;
  out.reserve(kept.size() + added.size());
  for (std::size_t k = 0; k < kept.size(); ++k) {
    const std::string_view name = stored[kept[k]].first;
    if (!has_name(fresh, added, added.size(), name)) {
      out.emplace_back(false, kept[k]);
    } else if (!has_name(stored, kept, k, name)) {  // the name's first stored field
      for (std::size_t j : added) {
        if (same_name(fresh[j].first, name)) out.emplace_back(true, j);
      }
    }
  }
  for (std::size_t j : added) {
    if (!has_name(stored, kept, kept.size(), fresh[j].first)) out.emplace_back(true, j);
  }
  return out;
}

}  // namespace fcr::http
