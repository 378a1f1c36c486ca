// Which response fields a cache keeps, and how a 304 refreshes them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcr::http {

using Field = std::pair<std::string, std::string>;
using FieldView = std::pair<std::string_view, std::string_view>;

// Whether a response field must not be stored or forwarded by a cache:
// hop-by-hop fields (RFC 9110 section 7.6.1: Connection, Keep-Alive,
// Proxy-Connection, TE, Transfer-Encoding, Upgrade, and every field the
// Connection field lists) and the proxy authentication fields (RFC 9111
// section 3.1: Proxy-Authenticate, Proxy-Authentication-Info,
// Proxy-Authorization). Names compare case-insensitively.
bool is_unstorable_field(std::string_view name, const std::vector<std::string>& connection_listed);

// The names the response's Connection field lines list, lower-cased.
std::vector<std::string> connection_listed(const std::vector<FieldView>& fields);

// Indexes of the fields to keep, in order.
std::vector<std::size_t> storable_fields(const std::vector<FieldView>& fields);

// The stored fields refreshed by a 304 (RFC 9111 sections 3.2 and 4.3.4):
// every field of the 304 replaces the stored fields of that name, except
// those a cache must not store (by the 304's own Connection field) and
// Content-Length, Content-Encoding and Content-Range (they describe the
// stored body's bytes, which a 304 does not change; Content-Length is the
// RFC's own exception); the other stored fields are kept, in order, except
// unstorable ones (by the stored Connection field), so the result is always
// storable. Order: a stored field the 304 does not name stays in place; the
// 304's fields of a name it shares with the stored response take the place
// of that name's first stored field (the name's later stored fields are
// dropped); names new in the 304 are appended in the 304's order. Returns
// indexes into `stored` (kept) and `fresh` (added), as (from_fresh, index)
// pairs in output order. Names compare case-insensitively, without
// surrounding whitespace.
std::vector<std::pair<bool, std::size_t>> refreshed_fields(const std::vector<FieldView>& stored,
                                                           const std::vector<FieldView>& fresh);

}  // namespace fcr::http
