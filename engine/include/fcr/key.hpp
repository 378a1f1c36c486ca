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

// One query parameter the endpoint declares. `defaults` is what FastAPI uses
// when the parameter is absent; nullopt stands for Python's None.
struct QueryParamSpec {
  std::string alias;
  std::optional<std::vector<std::string>> defaults;
};

// Builds canonical keys for one route. Format (all parts escaped so the
// encoding is unambiguous):
//   METHOD ' ' path [ '?' alias=value ('&' alias=value)* ] [ '#' name=value ('&' ...)* ]
// Declared parameters are sorted by alias; repeated values keep their order;
// an absent parameter uses its defaults (a None default is the bare alias, an
// empty list default contributes nothing: a present parameter always has
// `alias=`, so neither can collide with one); undeclared parameters are ignored. Vary headers appear in declaration order
// (lower-cased, de-duplicated); repeated header fields are joined with ", ";
// an absent header is the bare name.
class KeySpec {
 public:
  KeySpec(std::vector<QueryParamSpec> params, std::vector<std::string> vary_headers);

  // `headers` are the raw request header fields; names are compared
  // case-insensitively.
  std::string canonical(std::string_view method, std::string_view path, std::string_view raw_query,
                        std::span<const HeaderView> headers) const;

  const std::vector<QueryParamSpec>& params() const noexcept { return params_; }
  const std::vector<std::string>& vary_headers() const noexcept { return vary_; }

 private:
  std::vector<QueryParamSpec> params_;
  std::vector<std::string> vary_;
};

// Escapes '%', '&', '=', '#', '?', ' ' and control bytes as %XX; used for every
// component of a canonical key.
void append_escaped(std::string& out, std::string_view component);

}  // namespace fcr
