// The gateway's governance phases (DESIGN §2): authenticate (before the body is routed), admit
// (after routing: the key's models, limits and budget), and settle (once, however the call ends:
// answered, failed, cut mid-stream or abandoned by the client). Errors are written in the error
// shape of the endpoint's protocol (today OpenAI's; the hook takes a protocol so the Anthropic
// endpoint can add its own). Never logs, echoes or stores the presented key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <ringgate/governance/governor.hpp>
#include <ringgate/http/request.hpp>
#include <ringgate/httpd/exchange.hpp>

namespace rg::gateway {

struct call_state;
struct exchange_note;
class shard_handler;

// The wire protocol whose error shape a refusal uses.
enum class protocol : uint8_t { openai };

// The governance part of one proxied call (a member of call_state).
struct call_governance {
  int32_t key = -1;  // -1: anonymous
  governance::ticket ticket;
  bool admitted = false;
  bool ended = false;
  uint32_t events = 0;  // SSE events relayed to the client (the usage estimate of last resort)
  int64_t prompt_estimate = 0;
  int64_t max_output = 0;
};

// The outcome of checking a request's credentials.
struct auth_outcome {
  int32_t key = -1;   // the key's index; -1 = anonymous (allowed when auth is not required)
  bool ok = false;
  bool missing = false;  // refused: no credentials at all (else: unknown key)
};

// Looks the presented key up (Authorization: Bearer … or x-api-key: …).
auth_outcome check_credentials(governance::shard_governor& g,
                               const http::request_head& head) noexcept;
// Answers a refused authentication with 401 in `p`'s shape; notes the refusal.
void refuse_credentials(httpd::exchange& ex, protocol p, const auth_outcome& a,
                        std::string_view extra_headers, exchange_note& note) noexcept;

// Phase hooks of the proxy path. False: the client was answered (401, 403 or 429).
bool authenticate(call_state& c, exchange_note& note);
bool admit(call_state& c, exchange_note& note);
// Runs once when the call ends, however it ends: settles the ticket to what is billed (actual
// usage, an estimate when the upstream reported none but the client got an answer, else
// nothing), queues the ledger row and fills the note's governance fields.
void end_call(call_state& c, exchange_note& note) noexcept;
// "x-ringgate-cost-usd: 0.000012345\r\n" when the cost is known before the head is sent
// (buffered answers with usage and a priced model); 0 bytes otherwise.
size_t cost_header(const call_state& c, char* buf, size_t cap) noexcept;

}  // namespace rg::gateway
