// The proxy path for OpenAI-compatible endpoints: validate and route the request, rewrite only the
// bytes that must change, send it upstream over a pooled connection, and relay the answer —
// buffered for JSON, event by event without copying for SSE streams (see relay.cpp).
#pragma once

#include <cstdint>

#include <ringgate/httpd/exchange.hpp>
#include <ringgate/runtime/task.hpp>

namespace rg::gateway {

class shard_handler;
struct exchange_note;

enum class api : uint8_t { chat, embeddings };

runtime::task<void> proxy(shard_handler& h, httpd::exchange& ex, api kind, exchange_note& note);

}  // namespace rg::gateway
