// SHA-256 (mbedTLS), hex, globs and the key table's open-addressing lookup by digest.
#include <ringgate/governance/keys.hpp>

#include <mbedtls/sha256.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace rg::governance {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint64_t slot_hash(const digest& d) noexcept {
  uint64_t h;
  std::memcpy(&h, d.data(), sizeof h);  // SHA-256 output is uniform: its bytes are the hash
  return h;
}

}  // namespace

digest sha256(std::string_view data) noexcept {
  digest out{};
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
                     0);
  return out;
}

std::string to_hex(const digest& d) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 0xf];
  }
  return out;
}

bool from_hex(std::string_view hex, digest& out) noexcept {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

bool equal_constant_time(const digest& a, const digest& b) noexcept {
  // volatile keeps the compiler from turning the accumulation back into an early exit.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | uint8_t(a[i] ^ b[i]);
  return diff == 0;
}

namespace {

uint64_t rotl(uint64_t x, int b) noexcept { return (x << b) | (x >> (64 - b)); }

struct sip_state {
  uint64_t v0, v1, v2, v3;
  void round() noexcept {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t squeeze() noexcept {
    for (int i = 0; i < 4; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace

mac128 siphash128(const std::array<uint64_t, 2>& key, std::string_view data) noexcept {
  sip_state s{key[0] ^ 0x736f6d6570736575ull, key[1] ^ 0x646f72616e646f6dull ^ 0xee,
              key[0] ^ 0x6c7967656e657261ull, key[1] ^ 0x7465646279746573ull};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t m;
    std::memcpy(&m, p + i, 8);  // little-endian host (x86-64, aarch64)
    s.absorb(m);
  }
  uint64_t last = uint64_t(n & 0xff) << 56;
  for (size_t j = 0; i + j < n; ++j) last |= uint64_t(p[i + j]) << (8 * j);
  s.absorb(last);
  s.v2 ^= 0xee;
  mac128 out;
  out.lo = s.squeeze();
  s.v1 ^= 0xdd;
  out.hi = s.squeeze();
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative match with one backtrack point (the last '*'): linear in practice, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool key_entry::allows(std::string_view model) const noexcept {
  if (all_models) return true;
  for (const auto& m : models) {
    if (glob_match(m, model)) return true;
  }
  return false;
}

key_table key_table::build(const std::vector<config::key_config>& keys) {
  key_table t;
  t._keys.reserve(keys.size());
  for (const auto& k : keys) {
    key_entry e;
    e.name = k.name;
    from_hex(k.sha256, e.hash);
    e.models = k.models;
    for (const auto& m : k.models) e.all_models = e.all_models || m == "*";
    e.rpm = k.rpm;
    e.tpm = k.tpm;
    e.max_concurrent = k.max_concurrent;
    e.budget = nano_usd(k.budget_usd * double(nano_per_usd) + 0.5);
    e.budget_period = parse_period(k.budget_period);
    e.tags = k.tags;
    t._keys.push_back(std::move(e));
  }
  size_t slots = std::bit_ceil(std::max<size_t>(2 * keys.size(), 8));
  t._slots.assign(slots, -1);
  t._mask = slots - 1;
  for (size_t i = 0; i < t._keys.size(); ++i) {
    uint64_t at = slot_hash(t._keys[i].hash) & t._mask;
    while (t._slots[at] >= 0) at = (at + 1) & t._mask;
    t._slots[at] = int32_t(i);
  }
  return t;
}

int32_t key_table::find(std::string_view presented) const noexcept {
  if (_keys.empty() || presented.empty() || presented.size() > presented_key_bytes_max) return -1;
  return find_digest(sha256(presented));
}

int32_t key_table::find_digest(const digest& d) const noexcept {
  if (_keys.empty()) return -1;
  for (uint64_t at = slot_hash(d) & _mask;; at = (at + 1) & _mask) {
    int32_t i = _slots[at];
    if (i < 0) return -1;  // the table is at most half full: an empty slot always ends the probe
    if (equal_constant_time(_keys[size_t(i)].hash, d)) return i;
  }
}

int32_t key_table::find_name(std::string_view name) const noexcept {
  for (size_t i = 0; i < _keys.size(); ++i) {
    if (_keys[i].name == name) return int32_t(i);
  }
  return -1;
}

key_cache::key_cache(const key_table& table, const std::array<uint64_t, 2>& secret)
    : _table(table), _secret(secret), _entries(slots) {}

int32_t key_cache::find(std::string_view presented) noexcept {
  if (_table.empty() || presented.empty() || presented.size() > presented_key_bytes_max) {
    return -1;
  }
  const mac128 mac = siphash128(_secret, presented);
  entry& e = _entries[mac.lo & (slots - 1)];
  // Both halves compared without an early exit.
  if (e.key >= 0 && ((e.mac.lo ^ mac.lo) | (e.mac.hi ^ mac.hi)) == 0) return e.key;
  const int32_t key = _table.find(presented);
  if (key >= 0) e = {mac, key};
  return key;
}

}  // namespace rg::governance
