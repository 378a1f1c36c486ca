// Query decoding (Starlette-compatible) and canonical keys: decoded text is
// valid UTF-8, keys are deterministic, and two requests share a key exactly
// when every declared parameter and varied header has the same value.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fcr/http.hpp"
#include "fcr/key.hpp"
#include "fuzz_check.hpp"

namespace {

using fcr::QueryParamSpec;

// What a key must distinguish: per declared parameter its values (or its
// defaults when absent, None being distinct from any list), per varied header
// its field lines in order (or absence).
using ParamModel = std::optional<std::vector<std::string>>;
using HeaderModel = std::optional<std::vector<std::string>>;
struct Model {
  std::vector<ParamModel> params;
  std::vector<HeaderModel> headers;
  bool operator==(const Model&) const = default;
};

Model model_of(const fcr::KeySpec& spec, std::string_view query,
               const std::vector<std::pair<std::string, std::string>>& headers) {
  Model m;
  const std::vector<fcr::QueryItem> items = fcr::parse_query(query);
  for (const QueryParamSpec& p : spec.params()) {
    std::vector<std::string> values;
    for (const auto& [name, value] : items) {
      if (name == p.alias) values.push_back(value);
    }
    m.params.push_back(values.empty() ? p.defaults : ParamModel(values));
  }
  for (const std::string& name : spec.vary_headers()) {
    HeaderModel lines;
    for (const auto& [n, v] : headers) {
      if (fcr::http::to_lower(n) != name) continue;
      if (!lines) lines.emplace();
      lines->push_back(v);
    }
    m.headers.push_back(lines);
  }
  return m;
}

std::vector<std::string_view> fields_of(std::string_view q) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= q.size()) {
    std::size_t end = q.find('&', start);
    if (end == std::string_view::npos) end = q.size();
    out.push_back(q.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// A second query, often one that decodes to the same parameters.
std::string variant_of(FuzzedDataProvider& fdp, const std::string& q) {
  switch (fdp.ConsumeIntegralInRange(0, 4)) {
    case 0:
      return fdp.ConsumeRandomLengthString(64);
    case 1: {  // fields reversed
      std::vector<std::string_view> f = fields_of(q);
      std::reverse(f.begin(), f.end());
      std::string out;
      for (std::size_t i = 0; i < f.size(); ++i) out.append(i ? "&" : "").append(f[i]);
      return out;
    }
    case 2: {  // one byte percent-encoded
      if (q.empty()) return q;
      const std::size_t i = fdp.ConsumeIntegralInRange<std::size_t>(0, q.size() - 1);
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto c = static_cast<unsigned char>(q[i]);
      return q.substr(0, i) + '%' + kHex[c >> 4] + kHex[c & 15] + q.substr(i + 1);
    }
    case 3: {  // one byte changed
      if (q.empty()) return q;
      std::string out = q;
      out[fdp.ConsumeIntegralInRange<std::size_t>(0, q.size() - 1)] = fdp.ConsumeIntegral<char>();
      return out;
    }
    default:  // another field appended
      return q + "&" + fdp.ConsumeRandomLengthString(16);
  }
}

std::vector<std::pair<std::string, std::string>> headers_of(FuzzedDataProvider& fdp,
                                                            const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> h;
  const int n = fdp.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < n; ++i) {
    std::string name = !names.empty() && fdp.ConsumeBool()
                           ? names[fdp.ConsumeIntegralInRange<std::size_t>(0, names.size() - 1)]
                           : fdp.ConsumeRandomLengthString(8);
    if (fdp.ConsumeBool() && !name.empty() && name[0] >= 'a' && name[0] <= 'z') {
      name[0] = static_cast<char>(name[0] - 'a' + 'A');  // names compare case-insensitively
    }
    h.emplace_back(std::move(name), fdp.ConsumeRandomLengthString(16));
  }
  return h;
}

std::string canonical(const fcr::KeySpec& spec, std::string_view method, std::string_view path,
                      std::string_view query,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<fcr::HeaderView> views;
  for (const auto& [n, v] : headers) views.emplace_back(n, v);
  return spec.canonical(method, path, query, views);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // parse_query on the raw input: valid UTF-8, one item per non-empty field.
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::vector<fcr::QueryItem> items = fcr::parse_query(raw);
  std::size_t non_empty = 0;
  for (std::string_view f : fields_of(raw)) non_empty += !f.empty();
  FUZZ_CHECK(items.size() == non_empty);
  for (const auto& [name, value] : items) {
    FUZZ_CHECK(fcr::fuzz::valid_utf8(name));
    FUZZ_CHECK(fcr::fuzz::valid_utf8(value));
  }

  FuzzedDataProvider fdp(data, size);
  std::vector<QueryParamSpec> params;
  for (int i = fdp.ConsumeIntegralInRange(0, 4); i > 0; --i) {
    QueryParamSpec p;
    p.alias = fdp.ConsumeRandomLengthString(6);
    if (fdp.ConsumeBool()) {
      p.defaults.emplace();
      for (int k = fdp.ConsumeIntegralInRange(0, 2); k > 0; --k) {
        p.defaults->push_back(fdp.ConsumeRandomLengthString(6));
      }
    }
    // Aliases are unique, as _keys.py declares them (the first declaration of
    // an alias wins there).
    if (std::none_of(params.begin(), params.end(),
                     [&](const QueryParamSpec& q) { return q.alias == p.alias; })) {
      params.push_back(std::move(p));
    }
  }
  std::vector<std::string> vary;
  for (int i = fdp.ConsumeIntegralInRange(0, 2); i > 0; --i) {
    vary.push_back(fdp.ConsumeRandomLengthString(8));
  }
  const fcr::KeySpec spec(params, vary);
  const fcr::KeySpec twin(params, vary);
  const std::string method = fdp.ConsumeRandomLengthString(8);
  const std::string path = fdp.ConsumeRandomLengthString(16);
  const std::string q1 = fdp.ConsumeRandomLengthString(64);
  const auto h1 = headers_of(fdp, spec.vary_headers());
  const std::string q2 = variant_of(fdp, q1);
  const auto h2 = fdp.ConsumeBool() ? h1 : headers_of(fdp, spec.vary_headers());

  const std::string k1 = canonical(spec, method, path, q1, h1);
  FUZZ_CHECK(k1 == canonical(spec, method, path, q1, h1));
  FUZZ_CHECK(k1 == canonical(twin, method, path, q1, h1));
  // The only raw space separates the method from the path; everything else is
  // printable ASCII, whatever bytes the request held.
  FUZZ_CHECK(std::count(k1.begin(), k1.end(), ' ') == 1);
  FUZZ_CHECK(std::all_of(k1.begin(), k1.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F;
  }));

  const std::string k2 = canonical(spec, method, path, q2, h2);
  if ((k1 == k2) != (model_of(spec, q1, h1) == model_of(spec, q2, h2))) {
    std::fprintf(stderr, "q1=[%s]\nq2=[%s]\nk1=[%s]\nk2=[%s]\n", q1.c_str(), q2.c_str(),
                 k1.c_str(), k2.c_str());
    FUZZ_CHECK(!"keys are equal exactly when the declared values are");
  }
  // Another method or path never shares the key.
  FUZZ_CHECK(canonical(spec, method + "X", path, q1, h1) != k1);
  FUZZ_CHECK(canonical(spec, method, path + "/", q1, h1) != k1);
  return 0;
}
