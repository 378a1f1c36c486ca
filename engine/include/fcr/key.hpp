// Canonical request keys: the same logical request always gives the same key,
// and two requests that could get different responses never share one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcr {

using HeaderView = std::pair<std::string_view, std::string_view>;
using QueryItem = std::pair<std::string, std::string>;

// Decodes a raw query string exactly as Starlette's QueryParams does
// (urllib.parse.parse_qsl(qs.decode("latin-1"), keep_blank_values=True)):
// split on '&', empty fields skipped, '+' is a space, percent escapes decoded
// as UTF-8 with U+FFFD for invalid sequences, raw bytes >= 0x80 taken as
// Latin-1 code points, invalid escapes kept literally. Results are UTF-8.
std::vector<QueryItem> parse_query(std::string_view raw_query);

// Calls visit(name, value) for every cookie in one Cookie field value, as
// Starlette's cookie_parser splits it: chunks separated by ';', split at the
// first '=' (a chunk without one is a value with an empty name), name and
// value stripped of what Python's str.strip() strips from Latin-1 text,
// chunks with neither skipped. Values are not unquoted: two raw values that
// differ may unquote alike, never the reverse, so keys stay safe.
template <typename F>
void for_each_cookie(std::string_view field_value, F&& visit);

// One query parameter the endpoint declares. `defaults` is what FastAPI uses
// when the parameter is absent; nullopt stands for Python's None (and for
// "no shared default": the absent parameter is then the bare alias).
struct QueryParamSpec {
  std::string alias;
  std::optional<std::vector<std::string>> defaults;
};

// Everything of a request a route's response may depend on, as the route
// declares it (FastAPI's Query(), Header(), Cookie() parameters of the
// endpoint and of its dependencies, and the route's vary_headers).
struct KeyInputs {
  std::vector<QueryParamSpec> query;
  std::vector<std::string> headers;  // field names (normalised by KeySpec)
  std::vector<std::string> cookies;  // cookie names, exact
  // A parameter model that accepts or rejects undeclared members reads all of
  // them, so every member of that part is then in the key.
  bool all_query = false;
  bool all_headers = false;
  bool all_cookies = false;
  // Responses stored once per content coding (compress=True): the key ends
  // with the coding the request's Accept-Encoding gets (fcr/encoding.hpp).
  bool by_coding = false;
  bool br_available = false;
};

// Builds canonical keys for one route. Format (every component escaped with
// append_escaped, so the encoding is unambiguous and always printable ASCII):
//   METHOD ' ' path
//   [ '?' alias=value ('&' alias=value)* ]      declared query parameters
//   [ '#' name=value ('&' name=value)* ]        declared headers, one per field line
//   [ ';' name=value ('&' name=value)* ]        declared cookies, one per occurrence
//   [ ' enc=' coding ]                          with by_coding: br, gzip or identity
// Query parameters are sorted by alias; repeated values keep their order; an
// absent parameter uses its defaults (a None default is the bare alias, an
// empty list default contributes nothing: a present parameter always has
// `alias=`, so neither can collide with one); undeclared parameters are
// ignored. Headers appear in declaration order, lower-cased and de-duplicated,
// each field line as its own item (FastAPI reads the first line of a scalar
// header, so lines must not be merged); an absent header is the bare name.
// Cookies likewise, every occurrence in every Cookie field in order.
class KeySpec {
 public:
  explicit KeySpec(KeyInputs inputs);
  KeySpec(std::vector<QueryParamSpec> params, std::vector<std::string> vary_headers);

  // `headers` are the raw request header fields; names are compared
  // case-insensitively. `path` may hold any bytes.
  std::string canonical(std::string_view method, std::string_view path, std::string_view raw_query,
                        std::span<const HeaderView> headers) const;

  const std::vector<QueryParamSpec>& params() const noexcept { return inputs_.query; }
  const std::vector<std::string>& vary_headers() const noexcept { return inputs_.headers; }
  const std::vector<std::string>& cookies() const noexcept { return inputs_.cookies; }
  const KeyInputs& inputs() const noexcept { return inputs_; }
  // Whether building a key reads the request's header fields.
  bool reads_headers() const noexcept {
    return !inputs_.headers.empty() || !inputs_.cookies.empty() || inputs_.all_headers ||
           inputs_.all_cookies || inputs_.by_coding;
  }

 private:
  KeyInputs inputs_;
};

// Credentials a request can carry that make the response depend on the
// caller without being part of the key: requests carrying any of them are
// neither answered from nor stored in the cache (SPEC section 5).
struct CredentialSpec {
  std::vector<std::string> headers;  // field names, case-insensitive
  std::vector<std::string> cookies;  // cookie names
  std::vector<std::string> query;    // query parameter names (decoded)

  bool empty() const noexcept { return headers.empty() && cookies.empty() && query.empty(); }
  // Whether the request carries one of them (present at all, even empty).
  bool carried_by(std::span<const HeaderView> headers, std::string_view raw_query) const;
};

// Escapes '%', '&', '=', '#', '?', ';', ' ', control bytes and every byte >=
// 0x80 as %XX; used for every component of a canonical key, so a key is
// printable ASCII whatever bytes the request held.
void append_escaped(std::string& out, std::string_view component);

// --- implementation of the template above -----------------------------------

namespace detail {
// Python's str.isspace() on a Latin-1 character (what str.strip() removes).
inline bool python_space(unsigned char c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0;
}
inline std::string_view python_strip(std::string_view s) {
  while (!s.empty() && python_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && python_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
}  // namespace detail

template <typename F>
void for_each_cookie(std::string_view field_value, F&& visit) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t semi = field_value.find(';', start);
    const std::string_view chunk = field_value.substr(start, semi - start);
    const std::size_t eq = chunk.find('=');
    std::string_view name, value;
    if (eq == std::string_view::npos) {
      value = chunk;
    } else {
      name = chunk.substr(0, eq);
      value = chunk.substr(eq + 1);
    }
    name = detail::python_strip(name);
    value = detail::python_strip(value);
    if (!name.empty() || !value.empty()) visit(name, value);
    if (semi == std::string_view::npos) return;
    start = semi + 1;
  }
}

}  // namespace fcr
