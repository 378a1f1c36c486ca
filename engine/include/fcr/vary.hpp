// Secondary cache keys (RFC 9111 section 4.1): a stored response whose Vary
// lists request fields is reused only for requests whose values of those
// fields match the values in the request that caused it to be stored.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fcr/key.hpp"
#include "fcr/store.hpp"

namespace fcr::vary {

// The normalised values of `names` in a request: for each name, the bare name
// when the request has no such field, else `name=value` where value is every
// field line combined with "," (RFC 9110 section 5.3) and the whitespace
// around each comma outside quoted strings removed ("the header fields ...
// normalizing both header field values in a way that is known to have
// identical semantics", RFC 9111 section 4.1). Case is kept: only what is
// certain to mean the same is folded. Items are escaped as in keys, so the
// result is printable ASCII and two different value lists never share it.
std::string secondary_key(std::span<const std::string> names, std::span<const HeaderView> headers);

// The field names of a response's Vary to match on (every field line's
// members combined), lower-cased, de-duplicated, minus `in_primary_key`
// (fields already part of the primary key need no second comparison).
// `star` is set when any member is "*": such a response never matches.
struct SecondaryNames {
  bool star = false;
  std::vector<std::string> names;
};
SecondaryNames secondary_names(std::span<const std::string_view> vary_lines,
                               std::span<const std::string> in_primary_key);

// One stored response of a primary key and the secondary key it answers.
struct Variant {
  std::string secondary;
  PayloadPtr value;
  std::size_t charge = 0;  // what the caller charged for `value`
  double expires_at = 0;   // wall-clock seconds; 0: no expiry of its own
};

// The variants of one primary key, all selected by the same Vary names (those
// of the most recent response: when an endpoint changes what it varies on,
// the variants stored under the old names are dropped). Immutable: adding a
// variant builds a new set, so a reader holding the old one is never affected.
class VariantSet final : public Payload {
 public:
  VariantSet(std::vector<std::string> names, std::vector<Variant> variants);

  const std::vector<std::string>& names() const noexcept { return names_; }
  // Most recent first.
  const std::vector<Variant>& variants() const noexcept { return variants_; }

  // The live variant answering `secondary`, or nullptr.
  const Variant* find(std::string_view secondary, double now) const noexcept;
  // The live variant for a request with these header fields, or nullptr.
  const Variant* select(std::span<const HeaderView> headers, double now) const;

  // Sum of the variants' charges plus what the set itself holds.
  std::size_t charge() const noexcept;
  // Seconds the whole set may live from `now` (the longest-lived variant); 0:
  // some variant never expires.
  double ttl(double now) const noexcept;

  // A new set holding `variant` as the most recent, answering `names`: it
  // replaces a variant with the same secondary key, keeps the live others of
  // `existing` when they answer the same names, and drops the oldest beyond
  // `max_variants` (counted in `dropped`).
  static std::shared_ptr<const VariantSet> with(const VariantSet* existing, std::vector<std::string> names,
                                                Variant variant, std::size_t max_variants, double now,
                                                std::size_t& dropped);

 private:
  std::vector<std::string> names_;
  std::vector<Variant> variants_;
};

}  // namespace fcr::vary
