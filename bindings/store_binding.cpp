// Store binding: payloads are Python objects kept by reference, so a hit hands
// back the very objects that were stored (no copy of the body).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "bindings.hpp"
#include "fcr/codec.hpp"
#include "fcr/purge.hpp"
#include "fcr/vary.hpp"
#include "py_store.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {

PyStore::PyStore(std::size_t max_bytes, std::size_t max_entries, std::size_t shards,
                 std::string_view policy)
    : store_([&] {
        if (max_bytes == 0) throw nb::value_error("max_bytes must be positive");
        if (shards == 0) throw nb::value_error("shards must be positive");
        StoreConfig config;
        config.max_bytes = max_bytes;
        config.max_entries = max_entries;
        config.shards = shards;
        if (policy == "s3fifo") {
          config.policy = EvictionPolicy::s3fifo;
        } else if (policy == "lru") {
          config.policy = EvictionPolicy::lru;
        } else if (policy == "sieve") {
          config.policy = EvictionPolicy::sieve;
        } else {
          throw nb::value_error("policy must be 's3fifo', 'lru' or 'sieve'");
        }
        return config;
      }()) {}

bool PyStore::put(std::uint32_t ns, std::string_view key, PayloadPtr payload, std::size_t charge,
                  double ttl, std::span<const std::string> tags) {
  if (std::isnan(ttl)) throw nb::value_error("ttl must be a number");
  Released released;
  return store_.put(ns, key, std::move(payload), charge, ttl, released, tags);
}

PayloadPtr PyStore::get(std::uint32_t ns, std::string_view key) {
  Released released;
  return store_.get(ns, key, released);
}

double wall_clock_now() noexcept {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

const ResponsePayload* response_for(const PayloadPtr& found, const std::vector<HeaderView>* headers,
                                    double now, const vary::VariantSet** set_out,
                                    const vary::Variant** variant_out) {
  const Payload* payload = found.get();
  if (auto* set = dynamic_cast<const vary::VariantSet*>(payload)) {
    const std::vector<HeaderView> none;
    const vary::Variant* chosen = set->select(headers ? *headers : none, now);
    payload = chosen ? chosen->value.get() : nullptr;
    if (set_out) *set_out = set;
    if (variant_out) *variant_out = chosen;
  }
  return dynamic_cast<const ResponsePayload*>(payload);
}

void require_header_fields(nb::handle headers) {
  bool ok = PyTuple_Check(headers.ptr());
  for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(headers.ptr()); ++i) {
    PyObject* field = PyTuple_GET_ITEM(headers.ptr(), i);
    ok = PyTuple_Check(field) && PyTuple_GET_SIZE(field) == 2 &&
         PyBytes_Check(PyTuple_GET_ITEM(field, 0)) && PyBytes_Check(PyTuple_GET_ITEM(field, 1));
  }
  if (!ok) throw nb::type_error("headers must be a tuple of (bytes, bytes) tuples");
}

http::EntryTiming timing_from(nb::handle timing) {
  constexpr const char* kShape =
      "timing must be (stored_at, initial_age, lifetime, unbounded, heuristic, no_cache, "
      "must_revalidate, stale_while_revalidate, stale_if_error)";
  if (!PyTuple_Check(timing.ptr()) || PyTuple_GET_SIZE(timing.ptr()) != 9) throw nb::type_error(kShape);
  const auto number = [&](Py_ssize_t i) {
    const double v = PyFloat_AsDouble(PyTuple_GET_ITEM(timing.ptr(), i));
    if (v == -1.0 && PyErr_Occurred()) throw nb::python_error();
    if (std::isnan(v)) throw nb::value_error("timing values must be numbers");
    return v;
  };
  const auto flag = [&](Py_ssize_t i) {
    const int v = PyObject_IsTrue(PyTuple_GET_ITEM(timing.ptr(), i));
    if (v < 0) throw nb::python_error();
    return v != 0;
  };
  http::EntryTiming t;
  t.stored_at = number(0);
  t.initial_age = number(1);
  t.lifetime = number(2);
  t.unbounded = flag(3);
  t.heuristic = flag(4);
  t.no_cache = flag(5);
  t.must_revalidate = flag(6);
  t.stale_while_revalidate = number(7);
  t.stale_if_error = number(8);
  return t;
}

nb::tuple timing_tuple(const http::EntryTiming& t) {
  return nb::make_tuple(t.stored_at, t.initial_age, t.lifetime, t.unbounded, t.heuristic,
                        t.no_cache, t.must_revalidate, t.stale_while_revalidate, t.stale_if_error);
}

namespace {

constexpr const char* kTagsType = "tags must be a sequence of str";

// Tags as a tuple of str, checked; a response's (`bounded`) are at most
// codec::kMaxTags (what Redis can carry).
nb::tuple tags_tuple(nb::handle tags, bool bounded = true) {
  if (PyUnicode_Check(tags.ptr()) || PyBytes_Check(tags.ptr())) throw nb::type_error(kTagsType);
  PyObject* tuple = PySequence_Tuple(tags.ptr());
  if (!tuple) {
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      throw nb::type_error(kTagsType);
    }
    throw nb::python_error();
  }
  nb::tuple out = nb::steal<nb::tuple>(tuple);
  if (bounded && nb::len(out) > codec::kMaxTags) throw nb::value_error("too many tags (at most 1024)");
  for (nb::handle tag : out) {
    if (!PyUnicode_Check(tag.ptr())) throw nb::type_error(kTagsType);
  }
  return out;
}

// Appends the UTF-8 of a tuple of str (from tags_tuple) to `out`; a str that
// has no UTF-8 form (a lone surrogate) raises UnicodeEncodeError.
void append_tag_names(nb::handle tags, std::vector<std::string>& out) {
  for (nb::handle tag : tags) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(tag.ptr(), &size);
    if (!data) throw nb::python_error();
    out.emplace_back(data, static_cast<std::size_t>(size));
  }
}

nb::object get_object(PyStore& store, std::uint32_t ns, std::string_view key) {
  PayloadPtr found = store.get(ns, key);
  auto* object = dynamic_cast<const ObjectPayload*>(found.get());
  return object ? object->value : nb::none();
}

std::shared_ptr<ResponsePayload> response_payload(int status, nb::tuple headers, nb::bytes body,
                                                  nb::object media_type, std::string etag,
                                                  std::size_t etag_index,
                                                  std::int64_t last_modified, nb::handle timing,
                                                  nb::handle tags) {
  if (status < 100 || status > 999) throw nb::value_error("status must be an HTTP status code");
  const std::size_t headers_size = nb::len(headers);
  if (headers_size > 1000) throw nb::value_error("too many header fields");
  require_header_fields(headers);
  auto payload = std::make_shared<ResponsePayload>();
  payload->body = std::move(body);
  payload->headers = headers;
  payload->media_type = std::move(media_type);
  payload->tags = tags_tuple(tags);
  payload->etag = std::move(etag);
  payload->etag_index = static_cast<std::uint16_t>(std::min(etag_index, headers_size));
  payload->timing = timing_from(timing);
  payload->last_modified = last_modified;
  payload->status = static_cast<std::uint16_t>(status);
  return payload;
}

bool put_response(PyStore& store, std::uint32_t ns, std::string_view key, int status,
                  nb::tuple headers, nb::bytes body, nb::object media_type, std::string etag,
                  std::size_t etag_index, std::int64_t last_modified, nb::handle timing,
                  std::size_t charge, double ttl, nb::handle tags) {
  auto payload = response_payload(status, std::move(headers), std::move(body), std::move(media_type),
                                  std::move(etag), etag_index, last_modified, timing, tags);
  std::vector<std::string> names;
  append_tag_names(payload->tags, names);
  return store.put(ns, key, std::move(payload), charge, ttl, names);
}

// Adds a response to the variants of `key` that answer `names` (RFC 9111
// section 4.1). Read, derive, put: two puts racing on one key may lose one
// variant (a later miss), never mix up two. The key carries the tags of every
// variant it keeps, so invalidating any of them removes (or softens) them all.
// Returns (stored, variants dropped by the bound).
std::pair<bool, std::size_t> put_variant(PyStore& store, std::uint32_t ns, std::string_view key,
                                         std::vector<std::string> names, std::string secondary,
                                         int status, nb::tuple headers, nb::bytes body,
                                         nb::object media_type, std::string etag,
                                         std::size_t etag_index, std::int64_t last_modified,
                                         nb::handle timing, std::size_t charge, double ttl,
                                         std::size_t max_variants, nb::handle tags) {
  if (names.empty()) throw nb::value_error("a variant needs the Vary names it answers");
  if (std::isnan(ttl)) throw nb::value_error("ttl must be a number");
  auto payload = response_payload(status, std::move(headers), std::move(body), std::move(media_type),
                                  std::move(etag), etag_index, last_modified, timing, tags);
  std::vector<std::string> tag_names;
  append_tag_names(payload->tags, tag_names);  // raises before anything is stored
  const double now = payload->timing.stored_at;
  vary::Variant variant{std::move(secondary), std::move(payload), charge, ttl > 0 ? now + ttl : 0};
  const PayloadPtr existing = store.engine().peek(ns, key);
  std::size_t dropped = 0;
  auto set = vary::VariantSet::with(dynamic_cast<const vary::VariantSet*>(existing.get()),
                                    std::move(names), std::move(variant), max_variants, now, dropped);
  tag_names.clear();
  for (const vary::Variant& v : set->variants()) {
    if (auto* r = dynamic_cast<const ResponsePayload*>(v.value.get())) append_tag_names(r->tags, tag_names);
  }
  const std::size_t set_charge = set->charge();
  const double set_ttl = set->ttl(now);
  const bool stored = store.put(ns, key, std::move(set), set_charge, set_ttl, tag_names);
  return {stored, dropped};
}

// The stored fields, for the slow paths (get_cached, tests); get_entry() adds
// the tags and, for a variant, the Vary names and secondary key it is stored
// under: a caller storing it back (a 304 freshening it) must replace that
// variant only, never the whole key.
template <bool with_tags>
nb::object get_response(PyStore& store, std::uint32_t ns, std::string_view key, nb::handle headers,
                        bool count) {
  PayloadPtr found = count ? store.get(ns, key) : store.engine().peek(ns, key);
  std::vector<HeaderView> views;
  if (!headers.is_none()) views = header_views(headers.ptr());
  const vary::VariantSet* set = nullptr;
  const vary::Variant* variant = nullptr;
  const ResponsePayload* r = response_for(found, &views, wall_clock_now(), &set, &variant);
  if (!r) return nb::none();
  nb::str etag(r->etag.data(), r->etag.size());
  if constexpr (with_tags) {
    nb::tuple names = nb::steal<nb::tuple>(PyTuple_New(set ? set->names().size() : 0));
    for (std::size_t i = 0; set && i < set->names().size(); ++i) {
      const std::string& name = set->names()[i];
      PyTuple_SET_ITEM(names.ptr(), i, nb::str(name.data(), name.size()).release().ptr());
    }
    nb::str secondary = variant ? nb::str(variant->secondary.data(), variant->secondary.size())
                                : nb::str("");
    return nb::make_tuple(r->status, r->headers, r->body, r->media_type, etag, r->etag_index,
                          r->last_modified, timing_tuple(r->timing), r->tags, names, secondary);
  } else {
    return nb::make_tuple(r->status, r->headers, r->body, r->media_type, etag, r->etag_index,
                          r->last_modified, timing_tuple(r->timing));
  }
}

// A soft invalidation's copy of a response, stale at `now` (sharing every
// object), with the seconds the store may keep it in `ttl`; nullptr when the
// response is stale already.
std::shared_ptr<const ResponsePayload> stale_copy(const ResponsePayload& r, double now, double keep,
                                                  double& ttl) {
  const std::optional<http::EntryTiming> timing = http::stale_now(r.timing, now);
  if (!timing) return nullptr;
  auto copy = std::make_shared<ResponsePayload>(r);
  copy->timing = *timing;
  ttl = http::store_ttl(*timing, now, keep);
  return copy;
}

// What a tag invalidation does with one stored payload: a Vary'd key counts
// its live variants and, soft, gets a set of stale copies; a response counts
// one and, soft, gets a stale copy. Runs under a shard lock with the GIL held:
// copies only take new references to objects the old payload still holds, so
// no reference drops to zero there.
Purge purge_of(const PayloadPtr& value, bool soft, double now, double keep) {
  if (auto* set = dynamic_cast<const vary::VariantSet*>(value.get())) {
    Purge purge{.responses = 0};
    std::vector<vary::Variant> variants;
    bool changed = false;
    for (const vary::Variant& v : set->variants()) {
      if (v.expires_at > 0 && now >= v.expires_at) continue;  // gone already
      ++purge.responses;
      vary::Variant kept = v;
      double ttl = 0;
      auto* r = dynamic_cast<const ResponsePayload*>(v.value.get());
      if (auto copy = soft && r ? stale_copy(*r, now, keep, ttl) : nullptr) {
        kept.value = std::move(copy);
        if (ttl > 0 && (kept.expires_at <= 0 || now + ttl < kept.expires_at)) kept.expires_at = now + ttl;
        changed = true;
      }
      variants.push_back(std::move(kept));
    }
    if (changed) {
      auto stale = std::make_shared<const vary::VariantSet>(set->names(), std::move(variants));
      purge.ttl = stale->ttl(now);
      purge.replacement = std::move(stale);
    }
    return purge;
  }
  Purge purge;
  auto* r = dynamic_cast<const ResponsePayload*>(value.get());
  if (soft && r) purge.replacement = stale_copy(*r, now, keep, purge.ttl);
  return purge;
}

std::size_t invalidate_tags(PyStore& store, std::uint32_t ns, nb::handle tags, bool soft,
                            std::optional<double> now, double keep) {
  const double at = now.value_or(wall_clock_now());
  if (std::isnan(at)) throw nb::value_error("now must be a number");
  std::vector<std::string> names;
  append_tag_names(tags_tuple(tags, /*bounded=*/false), names);
  Released released;  // dropped after every shard lock is released
  return store.engine().invalidate_tags(
      ns, names, soft,
      [at, keep](const PayloadPtr& value, bool is_soft) { return purge_of(value, is_soft, at, keep); },
      released);
}

std::optional<nb::tuple> stale_timing(nb::handle timing, double now) {
  const std::optional<http::EntryTiming> stale = http::stale_now(timing_from(timing), now);
  if (!stale) return std::nullopt;
  return timing_tuple(*stale);
}

nb::dict stats_of(PyStore& store) {
  StoreStats s = store.engine().stats();
  nb::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["inserts"] = s.inserts;
  d["updates"] = s.updates;
  d["evictions"] = s.evictions;
  d["expirations"] = s.expirations;
  d["deletes"] = s.deletes;
  d["collisions"] = s.collisions;
  d["rejections"] = s.rejections;
  d["softened"] = s.softened;
  d["bytes"] = s.bytes;
  d["entries"] = s.entries;
  d["tag_links"] = s.tag_links;
  d["tag_buckets"] = s.tag_buckets;
  d["max_bytes"] = store.engine().config().max_bytes;
  d["max_entries"] = store.engine().config().max_entries;
  return d;
}

}  // namespace

void bind_store(nb::module_& m) {
  nb::class_<PyStore>(m, "Store",
                      "Sharded, bounded in-process store keyed by (namespace id, canonical key).")
      .def(nb::init<std::size_t, std::size_t, std::size_t, std::string_view>(),
           nb::arg("max_bytes"), nb::arg("max_entries") = 0, nb::arg("shards") = 16,
           nb::arg("policy") = "s3fifo")
      .def("namespace_id", &PyStore::namespace_id, nb::arg("name"),
           "Id of a namespace, created on first use.")
      .def(
          "put",
          [](PyStore& s, std::uint32_t ns, std::string_view key, nb::object value,
             std::size_t charge, double ttl) {
            return s.put(ns, key, std::make_shared<ObjectPayload>(std::move(value)), charge, ttl);
          },
          nb::arg("ns"), nb::arg("key"), nb::arg("value"), nb::arg("charge"), nb::arg("ttl"),
          "Store any object under `key`; `ttl` <= 0 never expires. False if it cannot fit.")
      .def("get", &get_object, nb::arg("ns"), nb::arg("key"),
           nb::sig("def get(self, ns: int, key: str) -> typing.Any"),
           "The object stored by put() itself, or None.")
      .def("put_response", &put_response, nb::arg("ns"), nb::arg("key"), nb::arg("status"),
           nb::arg("headers"), nb::arg("body"), nb::arg("media_type").none(), nb::arg("etag"),
           nb::arg("etag_index"), nb::arg("last_modified"), nb::arg("timing"), nb::arg("charge"),
           nb::arg("ttl"), nb::arg("tags") = nb::tuple(),
           nb::sig("def put_response(self, ns: int, key: str, status: int, "
                   "headers: tuple[tuple[bytes, bytes], ...], body: bytes, media_type: str | None, "
                   "etag: str, etag_index: int, last_modified: int, "
                   "timing: tuple[float, float, float, bool, bool, bool, bool, float, float], "
                   "charge: int, ttl: float, tags: collections.abc.Sequence[str] = ()) -> bool"),
           "Store a response for the hit path; `headers` must not contain ETag or Age. `tags` "
           "(at most 1024) index it for invalidate_tags(); the store charges their bytes.")
      .def("put_variant", &put_variant, nb::arg("ns"), nb::arg("key"), nb::arg("names"),
           nb::arg("secondary"), nb::arg("status"), nb::arg("headers"), nb::arg("body"),
           nb::arg("media_type").none(), nb::arg("etag"), nb::arg("etag_index"),
           nb::arg("last_modified"), nb::arg("timing"), nb::arg("charge"), nb::arg("ttl"),
           nb::arg("max_variants"), nb::arg("tags") = nb::tuple(),
           nb::sig("def put_variant(self, ns: int, key: str, names: collections.abc.Sequence[str], "
                   "secondary: str, status: int, headers: tuple[tuple[bytes, bytes], ...], "
                   "body: bytes, media_type: str | None, etag: str, etag_index: int, "
                   "last_modified: int, "
                   "timing: tuple[float, float, float, bool, bool, bool, bool, float, float], "
                   "charge: int, ttl: float, max_variants: int, "
                   "tags: collections.abc.Sequence[str] = ()) -> tuple[bool, int]"),
           "Store a response as the variant of `key` for the request whose values of the Vary "
           "`names` are `secondary`; returns (stored, variants dropped by `max_variants`). The "
           "key is indexed by the tags of every variant it keeps.")
      .def("get_response", &get_response<false>, nb::arg("ns"), nb::arg("key"),
           nb::arg("headers").none() = nb::none(), nb::arg("count") = true,
           nb::sig("def get_response(self, ns: int, key: str, "
                   "headers: collections.abc.Sequence[tuple[bytes, bytes]] | None = None, "
                   "count: bool = True) -> tuple[int, "
                   "tuple[tuple[bytes, bytes], ...], bytes, str | None, str, int, int, "
                   "tuple[float, float, float, bool, bool, bool, bool, float, float]] | None"),
           "(status, headers, body, media_type, etag, etag_index, last_modified, timing) of a "
           "stored response, or None; of a Vary'd key, the variant the request header fields "
           "`headers` select (None: a request without them). `count=False` reads without "
           "counting a hit or miss or touching the eviction policy.")
      .def("get_entry", &get_response<true>, nb::arg("ns"), nb::arg("key"),
           nb::arg("headers").none() = nb::none(), nb::arg("count") = true,
           nb::sig("def get_entry(self, ns: int, key: str, "
                   "headers: collections.abc.Sequence[tuple[bytes, bytes]] | None = None, "
                   "count: bool = True) -> tuple[int, "
                   "tuple[tuple[bytes, bytes], ...], bytes, str | None, str, int, int, "
                   "tuple[float, float, float, bool, bool, bool, bool, float, float], "
                   "tuple[str, ...], tuple[str, ...], str] | None"),
           "get_response() and the response's tags, then the Vary names and the secondary key "
           "of the variant (() and '' for a key stored without Vary).")
      .def("invalidate_tags", &invalidate_tags, nb::arg("ns"), nb::arg("tags"),
           nb::arg("soft") = false, nb::arg("now").none() = nb::none(), nb::arg("keep") = 300.0,
           nb::sig("def invalidate_tags(self, ns: int, tags: collections.abc.Sequence[str], "
                   "soft: bool = False, now: float | None = None, keep: float = 300.0) -> int"),
           "Remove (or, `soft`, mark stale at `now`, Unix time, default the current time) the "
           "entries of namespace `ns` carrying any of `tags`; returns how many responses they "
           "held (each variant of a Vary'd key counts; entries stale already count too). Soft: "
           "each fresh response's freshness ends now, its stale windows kept, and the store "
           "keeps it at most store_ttl(its new timing, now, keep) seconds more. Visits each "
           "shard once, touching only the entries carrying the tags.")
      .def(
          "erase",
          [](PyStore& s, std::uint32_t ns, std::string_view key) {
            Released released;
            return s.engine().erase(ns, key, released);
          },
          nb::arg("ns"), nb::arg("key"),
          "Remove one key; returns the number of entries removed (0 or 1).")
      .def(
          "clear", [](PyStore& s, std::uint32_t ns) { return s.engine().clear(ns); },
          nb::arg("ns"), "Drop a namespace in O(1); returns how many entries it had.")
      .def(
          "clear_all",
          [](PyStore& s) {
            Released released;
            return s.engine().clear_all(released);
          },
          "Drop everything; returns the count removed.")
      .def(
          "sweep",
          [](PyStore& s, std::size_t budget) {
            Released released;
            return s.engine().sweep(budget, released);
          },
          nb::arg("budget"), "Reclaim up to `budget` expired entries per shard.")
      .def("stats", &stats_of, nb::sig("def stats(self) -> dict[str, int]"),
           "Counters and sizes.");
  m.def("stale_timing", &stale_timing, nb::arg("timing"), nb::arg("now"),
        nb::sig("def stale_timing(timing: tuple[float, float, float, bool, bool, bool, bool, "
                "float, float], now: float) -> tuple[float, float, float, bool, bool, bool, bool, "
                "float, float] | None"),
        "The timing of an entry made stale at `now` by a soft tag invalidation (its lifetime "
        "ends at its current age, unbounded no more, stale windows kept), or None when it is "
        "stale already.");
}

}  // namespace fcr::py
