#include "fcr/key.hpp"

#include <algorithm>

#include "fcr/encoding.hpp"
#include "field_syntax.hpp"

namespace fcr {
namespace {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {  // Only U+FFFD and Latin-1 are ever produced here.
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr char32_t kReplacement = 0xFFFD;

// bytes.decode("utf-8", "replace"): valid sequences are copied, and each
// maximal subpart of an ill-formed sequence becomes one U+FFFD (the Unicode
// "best practice" CPython follows).
void decode_utf8_replace(std::string& out, std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    int need;  // continuation bytes after the lead byte
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the 2nd byte
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;  // no overlongs
      if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;  // no overlongs
      if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      append_utf8(out, kReplacement);  // stray continuation, C0/C1, F5..FF
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    int got = 0;
    while (got < need && j < in.size()) {
      const auto c = static_cast<unsigned char>(in[j]);
      if (c < lo || c > hi) break;
      lo = 0x80;
      hi = 0xBF;
      ++j;
      ++got;
    }
    if (got == need) {
      out.append(in.substr(i, j - i));
    } else {
      append_utf8(out, kReplacement);  // the whole valid-so-far prefix
    }
    i = j;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// urllib.parse.unquote() on the Latin-1 decoding of `raw` (with '+' already
// turned into ' '), re-encoded as UTF-8. CPython splits the text into runs of
// ASCII and non-ASCII characters and percent-decodes only the ASCII runs, each
// run decoded as UTF-8 on its own: "%C3" followed by a raw 0xA9 byte is
// U+FFFD U+00A9, not "é".
std::string unquote(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::string bytes;
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t j = i;
    if (static_cast<unsigned char>(raw[i]) >= 0x80) {
      for (; j < raw.size() && static_cast<unsigned char>(raw[j]) >= 0x80; ++j) {
        append_utf8(out, static_cast<unsigned char>(raw[j]));
      }
    } else {
      while (j < raw.size() && static_cast<unsigned char>(raw[j]) < 0x80) ++j;
      const std::string_view run = raw.substr(i, j - i);
      bytes.clear();
      for (std::size_t k = 0; k < run.size(); ++k) {
        if (run[k] == '%' && k + 2 < run.size()) {
          const int h = hex_value(run[k + 1]);
          const int l = hex_value(run[k + 2]);
          if (h >= 0 && l >= 0) {
            bytes.push_back(static_cast<char>(h * 16 + l));
            k += 2;
            continue;
          }
        }
        bytes.push_back(run[k]);  // includes an invalid or truncated '%'
      }
      decode_utf8_replace(out, bytes);
    }
    i = j;
  }
  return out;
}

std::string plus_to_space(std::string_view s) {
  std::string r(s);
  std::replace(r.begin(), r.end(), '+', ' ');
  return r;
}

}  // namespace

std::vector<QueryItem> parse_query(std::string_view raw_query) {
  std::vector<QueryItem> items;
  std::size_t start = 0;
  while (start <= raw_query.size()) {
    std::size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    const std::string_view field = raw_query.substr(start, end - start);
    start = end + 1;
    if (field.empty()) continue;
    const std::size_t eq = field.find('=');
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : field.substr(eq + 1);
    items.emplace_back(unquote(plus_to_space(name)), unquote(plus_to_space(value)));
  }
  return items;
}

void append_escaped(std::string& out, std::string_view component) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  for (const char ch : component) {
    const auto c = static_cast<unsigned char>(ch);
    const bool escape = c < 0x20 || c >= 0x7F || c == '%' || c == '&' || c == '=' || c == '#' ||
                        c == '?' || c == ';' || c == ' ';
    if (escape) {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
}

KeySpec::KeySpec(KeyInputs inputs) : inputs_(std::move(inputs)) {
  std::stable_sort(inputs_.query.begin(), inputs_.query.end(),
                   [](const QueryParamSpec& a, const QueryParamSpec& b) { return a.alias < b.alias; });
  std::vector<std::string> headers;
  for (const std::string& raw : inputs_.headers) http::detail::add_field_name(headers, raw);
  inputs_.headers = std::move(headers);
  std::vector<std::string> cookies;
  for (std::string& name : inputs_.cookies) {
    if (std::find(cookies.begin(), cookies.end(), name) == cookies.end()) cookies.push_back(std::move(name));
  }
  inputs_.cookies = std::move(cookies);
}

KeySpec::KeySpec(std::vector<QueryParamSpec> params, std::vector<std::string> vary_headers)
    : KeySpec(KeyInputs{std::move(params), std::move(vary_headers), {}, false, false, false, false,
                        false}) {}

namespace {

// One `name=value` (or bare `name`) item of a key section.
struct SectionWriter {
  std::string& out;
  bool first = true;

  void item(std::string_view name, const std::string_view* value) {
    if (!first) out.push_back('&');
    first = false;
    append_escaped(out, name);
    if (value != nullptr) {
      out.push_back('=');
      append_escaped(out, *value);
    }
  }
};

bool is_cookie_field(std::string_view name) { return http::detail::iequals(name, "cookie"); }

}  // namespace

std::string KeySpec::canonical(std::string_view method, std::string_view path, std::string_view raw_query,
                               std::span<const HeaderView> headers) const {
  std::string out;
  out.reserve(method.size() + path.size() + raw_query.size() + 32);
  append_escaped(out, method);
  out.push_back(' ');
  append_escaped(out, path);

  if (!inputs_.query.empty() || inputs_.all_query) {
    out.push_back('?');
    const std::vector<QueryItem> query = parse_query(raw_query);
    SectionWriter section{out};
    if (inputs_.all_query) {
      // Every member, sorted by name (stable: repeated values keep their order).
      std::vector<const QueryItem*> items;
      items.reserve(query.size());
      for (const QueryItem& item : query) items.push_back(&item);
      std::stable_sort(items.begin(), items.end(),
                       [](const QueryItem* a, const QueryItem* b) { return a->first < b->first; });
      for (const QueryItem* item : items) {
        const std::string_view value = item->second;
        section.item(item->first, &value);
      }
      // Declared defaults still matter when absent: a separate marker keeps
      // "absent" apart from any present member.
      out.push_back('?');
    }
    SectionWriter declared{out};
    for (const QueryParamSpec& param : inputs_.query) {
      bool found = false;
      for (const QueryItem& item : query) {
        if (item.first == param.alias) {
          const std::string_view value = item.second;
          declared.item(param.alias, &value);
          found = true;
        }
      }
      if (found) continue;
      if (!param.defaults) {
        declared.item(param.alias, nullptr);  // None: the bare alias
      } else {
        // An empty list default emits nothing; no present value looks like
        // that, because a present parameter always emits `alias=`.
        for (const std::string& value : *param.defaults) {
          const std::string_view view = value;
          declared.item(param.alias, &view);
        }
      }
    }
  }

  if (!inputs_.headers.empty() || inputs_.all_headers) {
    out.push_back('#');
    SectionWriter section{out};
    if (inputs_.all_headers) {
      // Every field but Cookie (the cookie section covers it), names folded,
      // sorted by name with lines in order.
      std::vector<std::pair<std::string, std::string_view>> fields;
      for (const HeaderView& header : headers) {
        if (!is_cookie_field(header.first)) fields.emplace_back(http::to_lower(header.first), header.second);
      }
      std::stable_sort(fields.begin(), fields.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [name, value] : fields) section.item(name, &value);
      out.push_back('#');
    }
    SectionWriter declared{out};
    for (const std::string& name : inputs_.headers) {
      bool found = false;
      for (const HeaderView& header : headers) {
        if (!http::detail::iequals(header.first, name)) continue;
        declared.item(name, &header.second);
        found = true;
      }
      if (!found) declared.item(name, nullptr);
    }
  }

  if (!inputs_.cookies.empty() || inputs_.all_cookies) {
    out.push_back(';');
    SectionWriter section{out};
    if (inputs_.all_cookies) {
      std::vector<std::pair<std::string_view, std::string_view>> cookies;
      for (const HeaderView& header : headers) {
        if (!is_cookie_field(header.first)) continue;
        for_each_cookie(header.second, [&](std::string_view n, std::string_view v) { cookies.emplace_back(n, v); });
      }
      std::stable_sort(cookies.begin(), cookies.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [name, value] : cookies) section.item(name, &value);
      out.push_back(';');
    }
    SectionWriter declared{out};
    for (const std::string& name : inputs_.cookies) {
      bool found = false;
      for (const HeaderView& header : headers) {
        if (!is_cookie_field(header.first)) continue;
        for_each_cookie(header.second, [&](std::string_view n, std::string_view v) {
          if (n != name) return;
          declared.item(name, &v);
          found = true;
        });
      }
      if (!found) declared.item(name, nullptr);
    }
  }

  if (inputs_.by_coding) {
    // Only three suffixes, whatever the request spelled: the cache never
    // fragments by Accept-Encoding. The raw space cannot occur in a component.
    std::string accept;
    bool has_field = false;
    for (const HeaderView& header : headers) {
      if (!http::detail::iequals(header.first, "accept-encoding")) continue;
      if (has_field) accept += ", ";
      accept += header.second;
      has_field = true;
    }
    out += " enc=";
    out += http::coding_name(http::preferred_coding(accept, has_field, inputs_.br_available));
  }
  return out;
}

bool CredentialSpec::carried_by(std::span<const HeaderView> request_headers, std::string_view raw_query) const {
  for (const HeaderView& header : request_headers) {
    for (const std::string& name : headers) {
      if (http::detail::iequals(header.first, name)) return true;
    }
    if (!cookies.empty() && is_cookie_field(header.first)) {
      bool found = false;
      for_each_cookie(header.second, [&](std::string_view n, std::string_view) {
        if (std::find(cookies.begin(), cookies.end(), n) != cookies.end()) found = true;
      });
      if (found) return true;
    }
  }
  if (!query.empty() && !raw_query.empty()) {
    for (const QueryItem& item : parse_query(raw_query)) {
      if (std::find(query.begin(), query.end(), item.first) != query.end()) return true;
    }
  }
  return false;
}

}  // namespace fcr
