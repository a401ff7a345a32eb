// Drives ringgate with the official `openai` npm SDK (pinned in package.json) against tools/mockllm,
// both started here on port 0. Invariant: what a real client sees — parsed responses, streams,
// typed errors — matches what the upstream sent, and the upstream sees only the gateway's
// credentials and the routed model.
//
// ringgate forwards only allowlisted client headers upstream (DESIGN.md §5), so by default
// mockllm's x-mock-* headers cannot come from the client: each scenario is a provider with static
// `headers` in the generated config, and a model routed to it (see `scenarios`). Where the gateway
// accepts a provider's `forward_headers` (checked with --check-config), model `mock-fwd` also
// forwards the client's x-mock-* headers, and the per-request-header test runs; else it skips.
//
// Env: RINGGATE_BIN, MOCKLLM_BIN (paths to the binaries; tests/clients/run sets both).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

const RINGGATE_BIN = process.env.RINGGATE_BIN;
const MOCKLLM_BIN = process.env.MOCKLLM_BIN;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const TEST_TIMEOUT_MS = 10_000;
const UPSTREAM_KEY = 'sk-upstream-test';
// The example config's demo key (config/ringgate.toml, name team-a), as the README's curls use it.
const CLIENT_KEY = 'sk-ringgate-demo';
const CLIENT_KEY_SHA256 = '3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe';
// Keys for the governance tests, hashed here (independently of ringgate).
const TIGHT_KEY = 'sk-sdk-tight-rpm';      // rpm 60: a burst of 4 on 2 shards, then one a second
const NARROW_KEY = 'sk-sdk-narrow-models'; // may use mock-small only
const BROKE_KEY = 'sk-sdk-no-budget-left'; // a budget smaller than any request's reservation
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const MESSAGES = [{ role: 'user', content: 'Say hello to the gateway.' }];

// Public model name → the x-mock-* headers its provider sends upstream (all target mock-small).
const scenarios = {
  'mock-chunks-5': { 'x-mock-chunks': '5' },
  'mock-404': { 'x-mock-status': '404' },
  'mock-422': { 'x-mock-status': '422' },
  'mock-429': { 'x-mock-status': '429', 'x-mock-retry-after': '7' },
  'mock-reset-3': { 'x-mock-fault': 'reset-after:3' },
  'mock-close-3': { 'x-mock-fault': 'close-after:3' },
};

// ---- child processes ---------------------------------------------------------------------------

const children = [];

// Spawns `bin` and resolves once its stderr says `listening on 127.0.0.1:PORT`. Rejects with the
// child's output when it exits first or does not get there within START_TIMEOUT_MS.
function startChild(name, bin, args) {
  const child = { name, output: '', port: 0, exited: null };
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.proc = proc;
  children.push(child);
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not start: ${why}\n--- ${name} output ---\n${child.output}`));
    };
    const timer = setTimeout(() => fail(`no listening line in ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS);
    const onData = (data) => {
      child.output += data;
      const m = !child.port && /listening on 127\.0\.0\.1:(\d+)/.exec(child.output);
      if (m) {
        child.port = Number(m[1]);
        clearTimeout(timer);
        resolve(child);
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('error', (err) => fail(`spawn ${bin}: ${err.message}`));
    proc.on('exit', (code, signal) => {
      child.exited = { code, signal };
      child.output += `[${name} exited: code ${code}, signal ${signal}]\n`;
      if (!child.port) fail(`exited (code ${code}, signal ${signal})`);
    });
  });
}

// SIGTERM, then SIGKILL after STOP_TIMEOUT_MS. Resolves to { code, signal }.
function stopChild(child) {
  if (child.exited) return Promise.resolve(child.exited);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.proc.kill('SIGTERM');
  });
}

// A crash of this process must not leave children behind.
process.on('exit', () => {
  for (const c of children) if (!c.exited) c.proc.kill('SIGKILL');
});

function tail(text, lines = 20) {
  return text.split('\n').slice(-lines).join('\n');
}

// ---- config ------------------------------------------------------------------------------------

function tomlString(s) {
  return JSON.stringify(s);  // a JSON string literal is a valid TOML basic string for ASCII
}

function configToml(mockPort, withForward) {
  const baseUrl = `http://127.0.0.1:${mockPort}/v1`;
  const provider = (name, headers) => {
    let out = `[[providers]]\nname = ${tomlString(name)}\nkind = "openai"\n` +
      `base_url = ${tomlString(baseUrl)}\napi_key = ${tomlString(UPSTREAM_KEY)}\n`;
    if (headers) {
      const pairs = Object.entries(headers).map(([k, v]) => `${tomlString(k)} = ${tomlString(v)}`);
      out += `headers = { ${pairs.join(', ')} }\n`;
    }
    return out + '\n';
  };
  const model = (name, providerName, upstreamModel) =>
    `[[models]]\nname = ${tomlString(name)}\n` +
    `targets = [{ provider = ${tomlString(providerName)}, model = ${tomlString(upstreamModel)},` +
    ` weight = 1 }]\nprice = { input_per_mtok = 0.15, output_per_mtok = 0.60 }\n\n`;

  let toml = provider('mock');
  for (const [name, headers] of Object.entries(scenarios)) toml += provider(`p-${name}`, headers);
  toml += model('mock-small', 'mock', 'mock-small');
  toml += model('alias-model', 'mock', 'mock-large');
  for (const name of Object.keys(scenarios)) toml += model(name, `p-${name}`, 'mock-small');
  if (withForward) {
    toml += provider('p-mock-fwd').replace(/\n\n$/, '\nforward_headers = ["x-mock-*"]\n\n');
    toml += model('mock-fwd', 'p-mock-fwd', 'mock-small');
  }
  const key = (name, sha, extra = '') =>
    `[[keys]]\nname = ${tomlString(name)}\nsha256 = ${tomlString(sha)}\n${extra}\n`;
  toml += key('team-a', CLIENT_KEY_SHA256);
  toml += key('tight', sha256(TIGHT_KEY), 'rpm = 60\n');
  toml += key('narrow', sha256(NARROW_KEY), 'models = ["mock-small"]\n');
  toml += key('broke', sha256(BROKE_KEY), 'budget_usd = 0.000000001\nbudget_period = "daily"\n');
  return toml;
}

// Whether `ringgate --check-config` accepts the file (exit 0 within START_TIMEOUT_MS).
function configAccepted(path) {
  return new Promise((resolve) => {
    const proc = spawn(RINGGATE_BIN, ['--check-config', path], { stdio: 'ignore' });
    const timer = setTimeout(() => proc.kill('SIGKILL'), START_TIMEOUT_MS);
    proc.on('error', () => resolve(false));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

// ---- fixture -----------------------------------------------------------------------------------

let mock;
let gateway;
let client;
let tempDir;
let forwardSupported = false;  // provider forward_headers accepted by this ringgate

async function mockGet(path) {
  const res = await fetch(`http://127.0.0.1:${mock.port}${path}`);
  assert.equal(res.status, 200, `GET ${path} on mockllm`);
  return res.json();
}

async function mockReset() {
  const res = await fetch(`http://127.0.0.1:${mock.port}/mock/reset`, { method: 'POST' });
  await res.arrayBuffer();
  assert.equal(res.status, 200, 'POST /mock/reset on mockllm');
}

// The last request mockllm saw, with its headers as a lowercase-name → [values] map.
async function lastUpstreamRequest() {
  const stats = await mockGet('/mock/stats');
  const last = stats.last_request;
  assert.ok(last, `mockllm recorded no request: ${JSON.stringify(stats)}`);
  const headers = new Map();
  for (const [name, value] of last.headers) {
    const key = name.toLowerCase();
    headers.set(key, [...(headers.get(key) ?? []), value]);
  }
  return { ...last, headerMap: headers };
}

// A test whose failure message carries the tail of both children's output.
function gwTest(name, fn, options = {}) {
  return test(name, { timeout: TEST_TIMEOUT_MS, ...options }, async (t) => {
    try {
      for (const c of [mock, gateway]) {
        assert.ok(c && !c.exited, `${c?.name ?? 'a child'} is not running`);
      }
      await fn(t);
    } catch (err) {
      const logs = [gateway, mock].filter(Boolean)
        .map((c) => `--- ${c.name} output (tail) ---\n${tail(c.output)}`).join('\n');
      if (err && typeof err === 'object' && typeof err.message === 'string') {
        err.message += `\n${logs}`;
      }
      throw err;
    }
  });
}

// Iterates a stream to its end (or its error); returns the chunks and the error, if any.
async function drain(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks, error: null };
}

const contentOf = (chunks) => chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
const contentChunks = (chunks) => chunks.filter((c) => c.choices[0]?.delta?.content);

// ---- tests -------------------------------------------------------------------------------------

describe('openai SDK through ringgate', { timeout: 60_000 }, () => {
  before(async () => {
    assert.ok(RINGGATE_BIN, 'RINGGATE_BIN is not set (tests/clients/run sets it)');
    assert.ok(MOCKLLM_BIN, 'MOCKLLM_BIN is not set (tests/clients/run sets it)');
    tempDir = mkdtempSync(join(tmpdir(), 'ringgate-clients-'));
    mock = await startChild('mockllm', MOCKLLM_BIN,
      ['--listen', '127.0.0.1:0', '--shards', '1', '--log-format', 'text']);
    const configPath = join(tempDir, 'ringgate.toml');
    writeFileSync(configPath, configToml(mock.port, true));
    forwardSupported = await configAccepted(configPath);
    if (!forwardSupported) writeFileSync(configPath, configToml(mock.port, false));
    gateway = await startChild('ringgate', RINGGATE_BIN,
      ['--config', configPath, '--listen', '127.0.0.1:0', '--shards', '2', '--log-format', 'text']);
    client = new OpenAI({
      baseURL: `http://127.0.0.1:${gateway.port}/v1`,
      apiKey: CLIENT_KEY,
      maxRetries: 0,
      timeout: TEST_TIMEOUT_MS,
    });
  }, { timeout: 2 * START_TIMEOUT_MS + 1_000 });

  after(async () => {
    await Promise.all(children.map(stopChild));
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }, { timeout: 2 * STOP_TIMEOUT_MS + 1_000 });

  gwTest('chat completion (non-stream): content, usage, model as the upstream saw it', async () => {
    const res = await client.chat.completions.create({ model: 'mock-small', messages: MESSAGES });
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'mock-small');
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.ok(res.choices[0].message.content.length > 0, 'empty content');
    assert.ok(res.usage.prompt_tokens > 0, `usage: ${JSON.stringify(res.usage)}`);
    assert.ok(res.usage.completion_tokens > 0, `usage: ${JSON.stringify(res.usage)}`);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
  });

  gwTest('stream with include_usage: chunk count, concatenated text, usage last', async () => {
    const chunksAsked = Number(scenarios['mock-chunks-5']['x-mock-chunks']);
    const stream = await client.chat.completions.create({
      model: 'mock-chunks-5',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `stream failed: ${error}`);
    assert.equal(contentChunks(chunks).length, chunksAsked, 'content chunks');
    // role chunk + content chunks + finish chunk + usage chunk
    assert.equal(chunks.length, chunksAsked + 3, 'all chunks');
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage, 'last chunk has no usage');
    assert.ok(last.usage.prompt_tokens > 0, `usage: ${JSON.stringify(last.usage)}`);
    assert.ok(last.usage.completion_tokens > 0, `usage: ${JSON.stringify(last.usage)}`);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage ?? null, null, 'usage before last');
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
    const text = contentOf(chunks);
    assert.ok(text.length > 0, 'empty text');
    // The same request without streaming yields the same text: the deltas are the whole answer.
    const whole = await client.chat.completions.create({ model: 'mock-chunks-5', messages: MESSAGES });
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(last.usage.completion_tokens, whole.usage.completion_tokens);
  });

  gwTest('stream without include_usage: no chunk carries usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-small',
      messages: MESSAGES,
      stream: true,
    });
    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `stream failed: ${error}`);
    assert.ok(contentChunks(chunks).length > 0, 'no content chunks');
    for (const c of chunks) {
      assert.equal(c.usage ?? null, null, `chunk with usage: ${JSON.stringify(c)}`);
      assert.equal(c.choices.length, 1, `chunk without a choice: ${JSON.stringify(c)}`);
    }
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  gwTest('embeddings: one vector per input (SDK default base64, decoded)', async () => {
    const input = ['alpha', 'beta', 'gamma'];
    const res = await client.embeddings.create({ model: 'mock-small', input });
    assert.equal(res.data.length, input.length);
    res.data.forEach((item, i) => {
      assert.equal(item.index, i);
      assert.ok(Array.isArray(item.embedding), `embedding ${i} is not an array`);
      assert.equal(item.embedding.length, 8);
      // mockllm's deterministic values: (j - 4) / 8 + ((index + j) % 16) / 256, as float32
      assert.ok(Math.abs(item.embedding[0] - (-0.5 + i / 256)) < 1e-6, `embedding ${i}[0]`);
    });
    const floats = await client.embeddings.create({
      model: 'mock-small', input: 'one', encoding_format: 'float',
    });
    assert.equal(floats.data.length, 1);
    assert.equal(floats.data[0].embedding.length, 8);
  });

  gwTest('models list contains the configured public names', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.ok(ids.includes('mock-small'), `models: ${ids}`);
    assert.ok(ids.includes('alias-model'), `models: ${ids}`);
  });

  gwTest('alias: upstream gets the target model and the provider key, never the client key',
    async () => {
      await mockReset();
      const res = await client.chat.completions.create({ model: 'alias-model', messages: MESSAGES });
      assert.equal(res.model, 'mock-large');
      const last = await lastUpstreamRequest();
      assert.equal(last.path, '/v1/chat/completions');
      assert.equal(JSON.parse(last.body).model, 'mock-large');
      assert.deepEqual(last.headerMap.get('authorization'), [`Bearer ${UPSTREAM_KEY}`]);
      for (const [name, value] of last.headers) {
        assert.ok(!value.includes(CLIENT_KEY), `client key leaked upstream in ${name}`);
      }
    });

  gwTest('client x-mock-* headers stay behind (upstream headers are allowlisted)', async () => {
    await mockReset();
    const res = await client.chat.completions.create(
      { model: 'mock-small', messages: MESSAGES },
      { headers: { 'x-mock-status': '500', 'x-mock-chunks': '2' } },
    );
    assert.equal(res.object, 'chat.completion');
    const last = await lastUpstreamRequest();
    for (const [name] of last.headers) {
      assert.ok(!name.toLowerCase().startsWith('x-mock-'), `${name} reached the upstream`);
    }
  });

  gwTest('SDK per-request x-mock-chunks reaches the upstream via forward_headers', async (t) => {
    if (!forwardSupported) {
      t.skip('this ringgate rejects providers.forward_headers');
      return;
    }
    await mockReset();
    const stream = await client.chat.completions.create(
      { model: 'mock-fwd', messages: MESSAGES, stream: true },
      { headers: { 'x-mock-chunks': '7', 'x-mock-words': '14' } },
    );
    const { chunks, error } = await drain(stream);
    assert.equal(error, null, `stream failed: ${error}`);
    assert.equal(contentChunks(chunks).length, 7, 'content chunks');
    assert.equal(contentOf(chunks).trim().split(/\s+/).length, 14, 'words');
    const last = await lastUpstreamRequest();
    assert.deepEqual(last.headerMap.get('x-mock-chunks'), ['7']);
    assert.deepEqual(last.headerMap.get('authorization'), [`Bearer ${UPSTREAM_KEY}`]);
  });

  for (const [model, status, ErrorClass] of [
    ['mock-404', 404, OpenAI.NotFoundError],
    ['mock-422', 422, OpenAI.UnprocessableEntityError],
  ]) {
    gwTest(`upstream ${status} surfaces as ${ErrorClass.name} with status ${status}`, async () => {
      const err = await client.chat.completions
        .create({ model, messages: MESSAGES })
        .then((r) => assert.fail(`expected ${status}, got ${JSON.stringify(r)}`), (e) => e);
      assert.ok(err instanceof OpenAI.APIError, `not an APIError: ${err}`);
      assert.ok(err instanceof ErrorClass, `not a ${ErrorClass.name}: ${err}`);
      assert.equal(err.status, status);
      assert.equal(typeof err.error?.message, 'string', `error body: ${JSON.stringify(err.error)}`);
      assert.ok(!JSON.stringify(err.error).includes(UPSTREAM_KEY), 'provider key in error body');
    });
  }

  gwTest('upstream 429 with retry-after surfaces as RateLimitError', async () => {
    const err = await client.chat.completions
      .create({ model: 'mock-429', messages: MESSAGES })
      .then((r) => assert.fail(`expected 429, got ${JSON.stringify(r)}`), (e) => e);
    assert.ok(err instanceof OpenAI.RateLimitError, `not a RateLimitError: ${err}`);
    assert.equal(err.status, 429);
    assert.equal(err.headers?.get('retry-after'), scenarios['mock-429']['x-mock-retry-after']);
  });

  // Governance: what the SDK makes of ringgate's own refusals.
  const sdkWith = (apiKey) => new OpenAI({
    baseURL: `http://127.0.0.1:${gateway.port}/v1`, apiKey, maxRetries: 0, timeout: TEST_TIMEOUT_MS,
  });
  const refusal = (promise) =>
    promise.then((r) => assert.fail(`expected a refusal, got ${JSON.stringify(r)}`), (e) => e);

  gwTest('unknown key: AuthenticationError (401, invalid_api_key), nothing sent upstream',
    async () => {
      await mockReset();
      const err = await refusal(sdkWith('sk-not-a-ringgate-key').chat.completions
        .create({ model: 'mock-small', messages: MESSAGES }));
      assert.ok(err instanceof OpenAI.AuthenticationError, `not an AuthenticationError: ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_api_key');
      const stats = await mockGet('/mock/stats');
      assert.equal(stats.last_request ?? null, null, 'a refused request reached the upstream');
    });

  gwTest('model outside the key\'s list: PermissionDeniedError (403)', async () => {
    const narrow = sdkWith(NARROW_KEY);
    const ok = await narrow.chat.completions.create({ model: 'mock-small', messages: MESSAGES });
    assert.equal(ok.object, 'chat.completion');
    const err = await refusal(narrow.chat.completions
      .create({ model: 'alias-model', messages: MESSAGES }));
    assert.ok(err instanceof OpenAI.PermissionDeniedError, `not a PermissionDeniedError: ${err}`);
    assert.equal(err.code, 'model_not_allowed');
  });

  gwTest('rpm exceeded: RateLimitError with retry-after and x-ratelimit-* headers', async () => {
    const tight = sdkWith(TIGHT_KEY);
    let err = null;
    for (let i = 0; i < 10 && !err; ++i) {
      err = await tight.chat.completions.create({ model: 'mock-small', messages: MESSAGES })
        .then(() => null, (e) => e);
    }
    assert.ok(err, 'ten requests at rpm 60 were never limited');
    assert.ok(err instanceof OpenAI.RateLimitError, `not a RateLimitError: ${err}`);
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.equal(err.headers?.get('x-ratelimit-limit-requests'), '60');
    assert.equal(err.headers?.get('x-ratelimit-remaining-requests'), '0');
    assert.ok(Number(err.headers?.get('retry-after')) >= 1, 'retry-after');
    assert.ok(Number(err.headers?.get('retry-after-ms')) > 0, 'retry-after-ms');
  });

  gwTest('budget spent: RateLimitError with insufficient_quota', async () => {
    const err = await refusal(sdkWith(BROKE_KEY).chat.completions
      .create({ model: 'mock-small', messages: MESSAGES, max_tokens: 5 }));
    assert.ok(err instanceof OpenAI.RateLimitError, `not a RateLimitError: ${err}`);
    assert.equal(err.code, 'insufficient_quota');
    assert.equal(err.type, 'insufficient_quota');
  });

  // DESIGN.md §5: the gateway ends the stream with an error event and no [DONE], so the SDK throws
  // an APIError. After a FIN every streamed chunk arrives; after a reset the kernel may drop some.
  for (const [model, streamedMin] of [['mock-reset-3', 0], ['mock-close-3', 3]]) {
    const fault = scenarios[model]['x-mock-fault'];
    gwTest(`mid-stream upstream failure (${fault}) makes stream iteration throw`, async (t) => {
      const stream = await client.chat.completions.create({
        model,
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      });
      const { chunks, error } = await drain(stream);
      assert.ok(error, `stream ended cleanly after ${chunks.length} chunks`);
      t.diagnostic(`threw ${error.constructor?.name}: ${error.message} ` +
        `after ${contentChunks(chunks).length} content chunks`);
      assert.ok(error instanceof OpenAI.APIError, `not an APIError: ${error}`);
      const streamed = contentChunks(chunks).length;
      assert.ok(streamed >= streamedMin && streamed <= 3, `${streamed} content chunks, upstream sent 3`);
      assert.ok(!chunks.some((c) => c.usage), 'a truncated stream must not end with usage');
    });
  }

  gwTest('gateway still serves after the faults', async () => {
    const res = await client.chat.completions.create({ model: 'mock-small', messages: MESSAGES });
    assert.ok(res.choices[0].message.content.length > 0);
  });

  // Last: the SDK's idle keep-alive connections are still open, and draining must not wait on them.
  gwTest('ringgate drains and exits 0 on SIGTERM', async () => {
    const started = Date.now();
    const { code, signal } = await stopChild(gateway);
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'ringgate exit status');
    assert.ok(Date.now() - started < STOP_TIMEOUT_MS, 'drain took too long');
  });
});
