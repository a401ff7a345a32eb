// The routing table's pools: a target's weight split over its provider's endpoints, weight-0
// targets listed but never picked, fallbacks by index, the provider/model form balancing over a
// provider's endpoints, and per-pool slices of the shards' smooth-WRR state.
#include <gtest/gtest.h>

#include <ringgate/config/config.hpp>

#include "routes.hpp"

using namespace rg;
using namespace rg::gateway;

namespace {

config::config load(std::string_view toml) {
  auto c = config::load_string(toml, "t.toml", [](std::string_view) { return std::nullopt; });
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  return c ? std::move(*c) : config::config{};
}

std::unique_ptr<route_table> build(std::string_view toml, uint32_t shards = 2) {
  auto t = route_table::build(load(toml), shards);
  EXPECT_TRUE(t) << (t ? "" : t.error());
  return t ? std::move(*t) : nullptr;
}

constexpr std::string_view two_providers = R"(
[[providers]]
name = "a"
kind = "openai"
base_urls = ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", "http://127.0.0.1:3/v1"]
max_concurrent = 9
[[providers]]
name = "b"
kind = "openai"
base_url = "http://127.0.0.1:4/v1"
[[models]]
name = "m"
targets = [{ provider = "a", model = "ma", weight = 2 }, { provider = "b", model = "m", weight = 1 },
           { provider = "b", model = "off", weight = 0 }]
fallbacks = ["n"]
balancer = "p2c_ewma"
hedge_after_ms = 25
[[models]]
name = "n"
targets = [{ provider = "b", model = "nb" }]
)";

TEST(routes, a_targets_weight_is_split_over_its_endpoints) {
  auto t = build(two_providers);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->endpoints().size(), 4u);
  EXPECT_EQ(t->endpoints()[2].label, "http://127.0.0.1:3/v1");
  EXPECT_EQ(t->endpoints()[3].provider, 1u);
  const model_route& m = t->models()[0];
  EXPECT_EQ(m.pool.balancer, resilience::balancer_kind::p2c_ewma);
  EXPECT_EQ(m.hedge_after_ns, 25'000'000u);
  ASSERT_EQ(m.pool.members.size(), 4u);  // 3 endpoints of a, 1 of b; the weight-0 target none
  // lcm(3, 1) = 3: a's 2 becomes 2 per endpoint (6 in all), b's 1 becomes 3.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(m.pool.members[i].weight, 2u);
    EXPECT_EQ(m.pool.slots[i].endpoint, uint32_t(i));
    EXPECT_EQ(m.pool.targets[m.pool.slots[i].target].upstream_model, "ma");
  }
  EXPECT_EQ(m.pool.members[3].weight, 3u);
  EXPECT_EQ(m.pool.members[3].state, t->endpoints()[3].state.get());
  ASSERT_EQ(m.pool.targets.size(), 3u);
  EXPECT_TRUE(m.pool.targets[0].rewrite);
  EXPECT_FALSE(m.pool.targets[1].rewrite);  // "m" upstream is the public name
  EXPECT_EQ(m.pool.targets[0].quoted_upstream, "\"ma\"");
  EXPECT_EQ(m.fallbacks, std::vector<uint32_t>{1});
  EXPECT_EQ(m.provider, 0u);
  EXPECT_EQ(t->providers()[0].gate->slots().max(), 9u);
}

TEST(routes, pools_take_disjoint_slices_of_the_wrr_state) {
  auto t = build(two_providers);
  ASSERT_TRUE(t);
  // Models 4 + 1 members, then the providers' own pools 3 + 1.
  EXPECT_EQ(t->wrr_slots(), 9u);
  EXPECT_EQ(t->models()[0].pool.wrr_offset, 0u);
  EXPECT_EQ(t->models()[1].pool.wrr_offset, 4u);
}

TEST(routes, resolve_public_names_and_the_provider_form) {
  auto t = build(two_providers);
  ASSERT_TRUE(t);
  char scratch[300];
  resolved_model r = t->resolve("m", scratch);
  EXPECT_EQ(r.model, &t->models()[0]);
  EXPECT_EQ(r.pool, &t->models()[0].pool);
  EXPECT_EQ(r.provider, &t->providers()[0]);
  r = t->resolve("a/some-model", scratch);
  EXPECT_EQ(r.model, nullptr);
  EXPECT_EQ(r.provider, &t->providers()[0]);
  EXPECT_EQ(r.upstream_model, "some-model");
  EXPECT_EQ(r.quoted_upstream, "\"some-model\"");
  ASSERT_NE(r.pool, nullptr);
  EXPECT_EQ(r.pool->members.size(), 3u);  // every endpoint of a, by load
  EXPECT_EQ(r.pool->balancer, resilience::balancer_kind::least_outstanding);
  EXPECT_EQ(t->resolve("nope", scratch).provider, nullptr);
  EXPECT_EQ(t->resolve("zz/x", scratch).provider, nullptr);
}

TEST(routes, endpoint_state_carries_the_providers_limits_and_circuit) {
  auto t = build(R"(
[[providers]]
name = "a"
kind = "openai"
base_url = "http://127.0.0.1:1/v1"
max_concurrent_per_endpoint = 4
queue_max = 7
on_full = "failover"
circuit = { failures = 2, cooldown_ms = 1234, half_open_probes = 3 }
)");
  ASSERT_TRUE(t);
  const auto& st = *t->endpoints()[0].state;
  EXPECT_EQ(st.in_flight.max(), 4u);
  EXPECT_EQ(st.breaker.options().failures, 2u);
  EXPECT_EQ(st.breaker.options().cooldown_ns, 1234'000'000u);
  EXPECT_EQ(st.breaker.options().probes, 3u);
  EXPECT_EQ(t->providers()[0].gate->queue_max(), 7u);
  EXPECT_EQ(t->providers()[0].on_full, full_policy::failover);
}

}  // namespace
