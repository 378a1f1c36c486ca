// The store as the binding holds it, shared by the store and hit-path bindings.
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fcr/freshness.hpp"
#include "fcr/key.hpp"
#include "fcr/store.hpp"
#include "fcr/vary.hpp"

namespace fcr::py {

// Any Python object (the generic store API).
struct ObjectPayload final : Payload {
  explicit ObjectPayload(nanobind::object v) : value(std::move(v)) {}
  nanobind::object value;
};

// A stored HTTP response kept compact: the endpoint's own body object, a header
// tuple shared between entries whose fields are equal (so it holds no ETag),
// and the metadata the hit path needs, in C++. Copied only by a soft tag
// invalidation (the copy shares every object).
struct ResponsePayload final : Payload {
  nanobind::object body;        // bytes, handed out as is
  nanobind::object headers;     // tuple[tuple[bytes, bytes], ...] without ETag and Age
  nanobind::object media_type;  // str | None
  nanobind::object tags;        // tuple[str, ...]: what the store indexes the entry by
  std::string etag;             // sent as an ETag field when not empty ...
  std::uint16_t etag_index = 0; // ... at this position of the header list
  http::EntryTiming timing;     // freshness (stored_at is Unix time)
  std::int64_t last_modified = -1;
  std::uint16_t status = 200;
};

// EntryTiming from its Python form, the tuple (stored_at, initial_age,
// lifetime, unbounded, heuristic, no_cache, must_revalidate,
// stale_while_revalidate, stale_if_error), and back.
http::EntryTiming timing_from(nanobind::handle timing);
nanobind::tuple timing_tuple(const http::EntryTiming& timing);

// The stored response answering a request: the payload itself, or the variant
// of a Vary'd set that the request's header fields select (nullptr: none).
// `headers` is only read for a variant set, whose set and chosen variant go to
// `set_out` and `variant_out` when given.
const ResponsePayload* response_for(const PayloadPtr& found, const std::vector<HeaderView>* headers,
                                    double now, const vary::VariantSet** set_out = nullptr,
                                    const vary::Variant** variant_out = nullptr);

// Wall-clock seconds (what Python's time.time() returns).
double wall_clock_now() noexcept;

// Throws TypeError unless `headers` is a tuple of (bytes, bytes) tuples: the
// hit path reads stored header fields without further checks.
void require_header_fields(nanobind::handle headers);

// Releasing payloads drops Python references, which needs the GIL; every
// binding call holds it, and the engine hands released payloads back only
// after its shard locks are gone.
class PyStore {
 public:
  PyStore(std::size_t max_bytes, std::size_t max_entries, std::size_t shards,
          std::string_view policy);

  std::uint32_t namespace_id(std::string_view name) { return store_.namespace_id(name); }
  bool put(std::uint32_t ns, std::string_view key, PayloadPtr payload, std::size_t charge,
           double ttl, std::span<const std::string> tags = {});
  PayloadPtr get(std::uint32_t ns, std::string_view key);
  Store& engine() noexcept { return store_; }

 private:
  Store store_;
};

}  // namespace fcr::py
