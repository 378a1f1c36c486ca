// Content codings a cache stores once per coding (RFC 9110 sections 8.4 and
// 12.5.3): which one a request's Accept-Encoding gets.
#pragma once

#include <string_view>

namespace fcr::http {

enum class Coding : unsigned char { identity, gzip, br };

std::string_view coding_name(Coding coding) noexcept;

// The coding to answer a request with, from its Accept-Encoding field value
// (`has_field` false when the request had none): the acceptable coding with
// the highest q-value among br (only when `br_available`), gzip (x-gzip is
// the same, section 8.4.1.3) and identity; br wins a tie over gzip, both over
// identity. "*" stands for every coding not listed; q=0 means "not
// acceptable" (section 12.5.3). Without the field, or when nothing listed is
// acceptable, identity. Malformed members are ignored. Three answers only,
// so requests never fragment the cache by how they spell the field.
Coding preferred_coding(std::string_view accept_encoding, bool has_field, bool br_available);

}  // namespace fcr::http
