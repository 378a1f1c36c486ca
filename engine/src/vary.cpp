#include "fcr/vary.hpp"

#include <algorithm>

#include "field_syntax.hpp"

namespace fcr::vary {
namespace {

using http::detail::iequals;
using http::detail::is_ows;

// Appends `value` with the OWS around each comma outside a quoted-string
// removed. Inside quotes nothing changes: whitespace there is data.
void append_normalised(std::string& out, std::string_view value) {
  bool quoted = false;
  std::size_t i = 0;
  // Leading OWS of the whole value is not part of it (RFC 9110 section 5.5).
  while (i < value.size() && is_ows(value[i])) ++i;
  std::size_t end = value.size();
  while (end > i && is_ows(value[end - 1])) --end;
  for (; i < end; ++i) {
    const char c = value[i];
    if (quoted) {
      if (c == '\\' && i + 1 < end) {
        out.push_back(c);
        out.push_back(value[++i]);
        continue;
      }
      if (c == '"') quoted = false;
      out.push_back(c);
    } else if (c == '"') {
      quoted = true;
      out.push_back(c);
    } else if (c == ',') {
      while (!out.empty() && is_ows(out.back())) out.pop_back();
      out.push_back(',');
      while (i + 1 < end && is_ows(value[i + 1])) ++i;
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

std::string secondary_key(std::span<const std::string> names, std::span<const HeaderView> headers) {
  std::string out;
  std::string combined;
  for (std::size_t n = 0; n < names.size(); ++n) {
    if (n != 0) out.push_back('&');
    append_escaped(out, names[n]);
    bool found = false;
    combined.clear();
    for (const HeaderView& header : headers) {
      if (!iequals(header.first, names[n])) continue;
      if (found) combined.push_back(',');
      append_normalised(combined, header.second);
      found = true;
    }
    if (found) {
      out.push_back('=');
      append_escaped(out, combined);
    }
  }
  return out;
}

SecondaryNames secondary_names(std::span<const std::string_view> vary_lines,
                               std::span<const std::string> in_primary_key) {
  SecondaryNames result;
  for (std::string_view line : vary_lines) {
    const http::Vary parsed = http::parse_vary(line);
    result.star = result.star || parsed.star;
    for (const std::string& name : parsed.names) {
      if (std::find(in_primary_key.begin(), in_primary_key.end(), name) != in_primary_key.end()) continue;
      if (std::find(result.names.begin(), result.names.end(), name) != result.names.end()) continue;
      result.names.push_back(name);
    }
  }
  return result;
}

VariantSet::VariantSet(std::vector<std::string> names, std::vector<Variant> variants)
    : names_(std::move(names)), variants_(std::move(variants)) {}

const Variant* VariantSet::find(std::string_view secondary, double now) const noexcept {
  for (const Variant& v : variants_) {
    if (v.secondary != secondary) continue;
    // One variant per secondary key, so an expired one means a miss.
    return v.expires_at > 0 && now >= v.expires_at ? nullptr : &v;
  }
  return nullptr;
}

const Variant* VariantSet::select(std::span<const HeaderView> headers, double now) const {
  return find(secondary_key(names_, headers), now);
}

std::size_t VariantSet::charge() const noexcept {
  std::size_t total = sizeof(VariantSet);
  for (const std::string& name : names_) total += name.size();
  for (const Variant& v : variants_) total += v.charge + v.secondary.size() + sizeof(Variant);
  return total;
}

double VariantSet::ttl(double now) const noexcept {
  double longest = 0;
  for (const Variant& v : variants_) {
    if (v.expires_at <= 0) return 0;
    longest = std::max(longest, v.expires_at - now);
  }
  // Every variant has expired: a moment, so the store reclaims the set soon.
  return std::max(longest, 0.001);
}

std::shared_ptr<const VariantSet> VariantSet::with(const VariantSet* existing, std::vector<std::string> names,
                                                   Variant variant, std::size_t max_variants, double now,
                                                   std::size_t& dropped) {
  if (max_variants == 0) max_variants = 1;
  std::vector<Variant> variants;
  variants.push_back(std::move(variant));
  if (existing != nullptr && existing->names_ == names) {
    for (const Variant& old : existing->variants_) {
      if (old.secondary == variants.front().secondary) continue;  // replaced
      if (old.expires_at > 0 && now >= old.expires_at) continue;  // expired
      if (variants.size() >= max_variants) {
        ++dropped;  // the oldest beyond the bound
        continue;
      }
      variants.push_back(old);
    }
  }
  return std::make_shared<const VariantSet>(std::move(names), std::move(variants));
}

}  // namespace fcr::vary
