// Virtual keys: the table built once from [[keys]] (each key known only by its SHA-256), and the
// lookup of a presented key. Invariant: a lookup hashes the presented key first and then probes by
// that digest, comparing a candidate's 32 bytes in constant time, so how long it takes never
// depends on how much of a configured key the presented one matches. The key itself is never
// stored, copied or logged.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <ringgate/config/config.hpp>
#include <ringgate/governance/budget.hpp>

namespace rg::governance {

using digest = std::array<uint8_t, 32>;

digest sha256(std::string_view data) noexcept;
std::string to_hex(const digest& d);
// 64 hex digits (either case) → digest; false when malformed.
bool from_hex(std::string_view hex, digest& out) noexcept;
// 32 bytes compared without an early exit.
bool equal_constant_time(const digest& a, const digest& b) noexcept;

// SipHash-2-4 with a 128-bit output (Aumasson and Bernstein): a keyed PRF, fast on short inputs.
struct mac128 {
  uint64_t lo = 0, hi = 0;
};
mac128 siphash128(const std::array<uint64_t, 2>& key, std::string_view data) noexcept;

// Shell-style pattern: '*' matches any run of characters (also none); everything else matches
// itself. Patterns name the model as the client sends it ("gpt-4o*", "openai/*", "*").
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

struct key_entry {
  std::string name;
  digest hash{};
  std::vector<std::string> models;  // patterns
  bool all_models = false;          // one of them is "*"
  uint32_t rpm = 0, tpm = 0, max_concurrent = 0;  // 0 = unlimited
  nano_usd budget = 0;                            // 0 = none
  period budget_period = period::monthly;
  std::vector<std::string> tags;

  bool allows(std::string_view model) const noexcept;
};

// Keys longer than this are refused without hashing (no configured key can be that long in
// practice, and it bounds the work an unauthenticated request can cause).
inline constexpr size_t presented_key_bytes_max = 1024;

class key_table {
 public:
  // Expects a validated config (unique names and hashes, 64 lowercase hex digits).
  static key_table build(const std::vector<config::key_config>& keys);

  // Index of the key whose SHA-256 matches `presented`, or -1.
  int32_t find(std::string_view presented) const noexcept;
  int32_t find_digest(const digest& d) const noexcept;
  int32_t find_name(std::string_view name) const noexcept;

  size_t size() const noexcept { return _keys.size(); }
  bool empty() const noexcept { return _keys.empty(); }
  const key_entry& operator[](size_t i) const noexcept { return _keys[i]; }
  const std::vector<key_entry>& entries() const noexcept { return _keys; }

 private:
  std::vector<key_entry> _keys;
  std::vector<int32_t> _slots;  // open addressing on the digest's first 8 bytes; -1 = empty
  uint64_t _mask = 0;
};

// One shard's memo of the keys it has already verified, so a client that keeps presenting the
// same key skips SHA-256 (most of the cost of a lookup). Entries are SipHash-128 MACs of the
// presented key under a random per-process secret, never the key: without the secret a MAC
// says nothing about the key, and a hit needs all 128 bits to match, so timing still does not
// depend on how much of a key matches. A miss (unknown, new or evicted key) takes the SHA-256
// way. Direct-mapped and fixed in size: no allocation after construction.
class key_cache {
 public:
  static constexpr size_t slots = 256;
  key_cache(const key_table& table, const std::array<uint64_t, 2>& secret);
  int32_t find(std::string_view presented) noexcept;

 private:
  struct entry {
    mac128 mac;
    int32_t key = -1;
  };
  const key_table& _table;
  std::array<uint64_t, 2> _secret;
  std::vector<entry> _entries;
};

}  // namespace rg::governance
