// The openai SDK over HTTPS on both legs: SDK → ringgate (inbound TLS) → mockllm (https upstream,
// verified against a test CA). `run` generates the CA and a localhost certificate with openssl
// and trusts the CA through NODE_EXTRA_CA_CERTS; without it (no openssl) these tests skip.
//
// Env: RINGGATE_BIN, MOCKLLM_BIN, RINGGATE_TEST_PKI (directory with ca.crt, localhost.{crt,key}).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

const PKI = process.env.RINGGATE_TEST_PKI;
const MESSAGES = [{ role: 'user', content: 'Say hello over TLS.' }];

const procs = [];
// Starts a binary and resolves with the port of its "listening on 127.0.0.1:PORT" line.
function start(bin, args) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start:\n${output}`)), 10_000);
    const onData = (d) => {
      output += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${bin} exited (${code}):\n${output}`)));
  });
}
process.on('exit', () => procs.forEach((p) => p.kill('SIGKILL')));

describe('openai SDK over https', { skip: !PKI && 'no test PKI (openssl missing)' }, () => {
  let mockPort;
  let client;
  before(async () => {
    const cert = join(PKI, 'localhost.crt');
    const key = join(PKI, 'localhost.key');
    mockPort = await start(process.env.MOCKLLM_BIN, ['--listen', '127.0.0.1:0', '--shards', '1',
      '--log-format', 'text', '--tls-cert', cert, '--tls-key', key]);
    const config = join(PKI, 'ringgate.toml');
    writeFileSync(config, `[server]\ntls_cert = "${cert}"\ntls_key = "${key}"\n\n` +
      `[[providers]]\nname = "mock"\nkind = "openai"\n` +
      `base_url = "https://localhost:${mockPort}/v1"\napi_key = "sk-upstream"\n` +
      `tls = { ca_file = "${join(PKI, 'ca.crt')}" }\n\n` +
      `[[models]]\nname = "mock-small"\ntargets = [{ provider = "mock", model = "mock-small" }]\n\n` +
      // The example config's demo key (config/ringgate.toml): the SDK authenticates with it.
      `[[keys]]\nname = "team-a"\n` +
      `sha256 = "3c5614dabcda33134033118cdf9d8c992d373dc5ea78d80de1b39f23309bf0fe"\n`);
    const gwPort = await start(process.env.RINGGATE_BIN, ['--config', config, '--listen',
      '127.0.0.1:0', '--shards', '1', '--log-format', 'text']);
    client = new OpenAI({ baseURL: `https://localhost:${gwPort}/v1`, apiKey: 'sk-ringgate-demo',
      maxRetries: 0, timeout: 10_000 });
  });
  after(() => procs.forEach((p) => p.kill('SIGTERM')));

  test('chat completion over https, upstream saw SNI localhost', async () => {
    const res = await client.chat.completions.create({ model: 'mock-small', messages: MESSAGES });
    assert.equal(res.object, 'chat.completion');
    assert.ok(res.choices[0].message.content.length > 0);
    const stats = await (await fetch(`https://localhost:${mockPort}/mock/stats`)).json();
    assert.equal(stats.last_request.tls.sni, 'localhost');
  });

  test('stream over https to the end', async () => {
    const stream = await client.chat.completions.create({ model: 'mock-small',
      messages: MESSAGES, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0);
  });
});
