// bench/compare.d/portkey.mjs: starts the Portkey gateway (@portkey-ai/gateway's
// build/start-server.js, resolved from the current directory's node_modules) listening on
// 127.0.0.1 only. start-server.js calls @hono/node-server's serve({port}) without a hostname,
// which would listen on every interface; this wrapper fills in 127.0.0.1 before it loads.
//   cd CACHE/portkey && node /path/to/portkey.mjs --port=PORT --headless
import net from 'node:net';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length < 2 || args[1] === undefined || typeof args[1] === 'function')) {
    if (args[1] === undefined) args.splice(1, 1);
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
console.clear = () => {};  // keep its log readable

const require = createRequire(path.join(process.cwd(), 'package.json'));
const pkg = require.resolve('@portkey-ai/gateway/package.json');
await import(pathToFileURL(path.join(path.dirname(pkg), 'build', 'start-server.js')).href);
