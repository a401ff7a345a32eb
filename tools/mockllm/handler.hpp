// mockllm's per-shard request handler: routes the OpenAI and Anthropic endpoints and the /mock/*
// control endpoints (stats, reset, arm). Each shard has its own JSON parser and block pool, so a
// request shares nothing with other shards but the stats counters and the armed faults.
#pragma once

#include <cstdint>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/block_pool.hpp>

#include "arm.hpp"
#include "mock.hpp"
#include "request.hpp"
#include "stats.hpp"

namespace rg::mockllm {

class shard_handler final : public httpd::handler {
 public:
  shard_handler(const options& opts, stats& st, arming& armed, uint32_t shard_index,
                uint32_t shard_count);
  runtime::task<void> handle(httpd::exchange& ex) override;

 private:
  runtime::task<void> serve_api(httpd::exchange& ex, route r);
  runtime::task<void> serve_control(httpd::exchange& ex, std::string_view path);
  runtime::task<void> arm(httpd::exchange& ex);

  const options& _opts;
  stats& _stats;
  arming& _armed;
  uint32_t _index;
  uint32_t _count;
  uint64_t _served = 0;  // ids: _served * _count + _index + 1 is unique across shards
  json_reader _json;
  runtime::block_pool _blocks;
};

}  // namespace rg::mockllm
