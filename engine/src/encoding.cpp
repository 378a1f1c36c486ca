#include "fcr/encoding.hpp"

#include <optional>
#include <string>

#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::iequals;
using detail::trim_ows;

// A weight (section 12.4.2): "0" or "1" followed by up to three decimals;
// anything else is invalid (the member is then ignored).
std::optional<int> parse_weight(std::string_view q) {
  if (q.empty() || q.size() > 5) return std::nullopt;
  if (q[0] != '0' && q[0] != '1') return std::nullopt;
  int thousandths = (q[0] - '0') * 1000;
  if (q.size() > 1) {
    if (q[1] != '.') return std::nullopt;
    int scale = 100;
    for (std::size_t i = 2; i < q.size(); ++i, scale /= 10) {
      if (q[i] < '0' || q[i] > '9') return std::nullopt;
      thousandths += (q[i] - '0') * scale;
    }
  }
  if (thousandths > 1000) return std::nullopt;
  return thousandths;
}

struct Weights {
  int br = -1, gzip = -1, identity = -1, star = -1;  // -1: not listed
};

}  // namespace

std::string_view coding_name(Coding coding) noexcept {
  switch (coding) {
    case Coding::gzip: return "gzip";
    case Coding::br: return "br";
    case Coding::identity: break;
  }
  return "identity";
}

Coding preferred_coding(std::string_view accept_encoding, bool has_field, bool br_available) {
  // Section 12.5.3: "If no Accept-Encoding header field is in the request,
  // any content coding is considered acceptable" -- identity is the one every
  // client can read.
  if (!has_field) return Coding::identity;
  Weights w;
  detail::for_each_plain_member(accept_encoding, [&](std::string_view member) {
    const std::size_t semi = member.find(';');
    const std::string_view name = trim_ows(member.substr(0, semi));
    int weight = 1000;
    if (semi != std::string_view::npos) {
      std::string_view param = trim_ows(member.substr(semi + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') return;
      const auto parsed = parse_weight(trim_ows(param.substr(2)));
      if (!parsed) return;
      weight = *parsed;
    }
    int* slot = nullptr;
    if (iequals(name, "br")) {
      slot = &w.br;
    } else if (iequals(name, "gzip") || iequals(name, "x-gzip")) {
      slot = &w.gzip;
    } else if (iequals(name, "identity")) {
      slot = &w.identity;
    } else if (name == "*") {
      slot = &w.star;
    }
    if (slot != nullptr && *slot < 0) *slot = weight;  // the first mention counts
  });
  const int br = !br_available ? 0 : (w.br >= 0 ? w.br : (w.star >= 0 ? w.star : 0));
  const int gzip = w.gzip >= 0 ? w.gzip : (w.star >= 0 ? w.star : 0);
  // "identity" is acceptable unless excluded by q=0 on it, or on "*" without it.
  const int identity = w.identity >= 0 ? w.identity : (w.star == 0 ? 0 : 1);
  if (br > 0 && br >= gzip && br >= identity) return Coding::br;
  if (gzip > 0 && gzip >= identity) return Coding::gzip;
  return Coding::identity;
}

}  // namespace fcr::http
