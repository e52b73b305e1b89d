// PouchDB peer driver for baseline (d). Each subcommand prints exactly one JSON line on
// stdout; errors go to stderr with exit code 1. See README.md.
//
//   node client.mjs seed        --remote URL --input FILE
//   node client.mjs first-sync  --remote URL --local DIR
//   node client.mjs reconnect   --remote URL --local DIR --input FILE
//   node client.mjs edit-remote --remote URL --input FILE
//   node client.mjs conflict    --remote URL --local DIR --input FILE
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const PouchDB = require('pouchdb-node');
// node-fetch is pouchdb-node's own HTTP client; resolve it from there so the wrapper
// can hand PouchDB back the same Response class it normally gets.
const requireFromPouch = createRequire(require.resolve('pouchdb-node'));
const { Response } = requireFromPouch('node-fetch');

// ---------------------------------------------------------------- HTTP accounting

// FIELDNOTE_PEER_TRACE=1 logs every HTTP request to stderr ('*' = counted).
const TRACE = !!process.env.FIELDNOTE_PEER_TRACE;
const stats = { counting: false, requests: 0, largestResponse: 0, largestRequest: 0 };

function startCounting() {
  stats.counting = true;
  stats.requests = 0;
  stats.largestResponse = 0;
  stats.largestRequest = 0;
}
function stopCounting() {
  stats.counting = false;
}

function bodyBytes(body) {
  if (body == null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) return body.byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (typeof body.size === 'number') return body.size; // Blob
  return 0;
}

// Wraps PouchDB's default fetch (node-fetch + cookie jar). Every request PouchDB makes to
// the remote goes through here, to exactly the URL it was given (e.g. the proxy).
// Response size = decoded body bytes (after gzip, if the server compressed it).
async function countingFetch(url, opts) {
  const counting = stats.counting;
  if (counting) {
    stats.requests += 1;
    stats.largestRequest = Math.max(stats.largestRequest, bodyBytes(opts && opts.body));
  }
  const res = await PouchDB.fetch(url, opts);
  const buf = await res.buffer();
  if (counting) stats.largestResponse = Math.max(stats.largestResponse, buf.byteLength);
  if (TRACE) {
    process.stderr.write(`${counting ? '*' : ' '} ${(opts && opts.method) || 'GET'} ${url} ` +
      `-> ${res.status} req=${bodyBytes(opts && opts.body)} res=${buf.byteLength}\n`);
  }
  return new Response(buf, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
    url: res.url,
  });
}

function remoteDb(url) {
  return new PouchDB(url, { fetch: countingFetch });
}

function localDb(dir) {
  const abs = path.resolve(dir);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  return new PouchDB(abs, { adapter: 'leveldb' });
}

// ---------------------------------------------------------------- helpers

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${a}`);
    out[a.slice(2)] = v;
    i++;
  }
  return out;
}

function need(args, ...names) {
  for (const n of names) if (!args[n]) throw new Error(`missing --${n}`);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

async function bulkInBatches(db, docs, size = 500) {
  let n = 0;
  for (let i = 0; i < docs.length; i += size) {
    const res = await db.bulkDocs(docs.slice(i, i + size));
    for (const r of res) {
      if (r.error) throw new Error(`bulkDocs ${r.id}: ${r.error} ${r.reason || ''}`);
      n++;
    }
  }
  return n;
}

// edits: [{_id, field, append}] -> get, append text to the string field, put. `field` may
// be a dotted path into nested objects ("body.narrative").
async function applyEdits(db, edits) {
  let n = 0;
  for (const e of edits || []) {
    const doc = await db.get(e._id);
    const path = e.field.split('.');
    const last = path.pop();
    let obj = doc;
    for (const key of path) {
      if (typeof obj[key] !== 'object' || obj[key] === null) {
        throw new Error(`${e._id}.${e.field}: ${key} is not an object`);
      }
      obj = obj[key];
    }
    const cur = obj[last];
    if (cur !== undefined && typeof cur !== 'string') {
      throw new Error(`${e._id}.${e.field} is not a string`);
    }
    obj[last] = (cur || '') + e.append;
    await db.put(doc);
    n++;
  }
  return n;
}

function round(ms) {
  return Math.round(ms * 1000) / 1000;
}

function syncResult(ms) {
  return {
    ms: round(ms),
    requests: stats.requests,
    largest_response: stats.largestResponse,
    largest_request: stats.largestRequest,
  };
}

async function closeAll(...dbs) {
  for (const db of dbs) {
    try { await db.close(); } catch { /* already closed */ }
  }
}

// ---------------------------------------------------------------- commands

async function seed(args) {
  need(args, 'remote', 'input');
  const docs = readJson(args.input);
  if (!Array.isArray(docs)) throw new Error('input must be a JSON array of documents');
  const remote = remoteDb(args.remote); // created on first use if missing
  const n = await bulkInBatches(remote, docs, 500);
  await closeAll(remote);
  return { docs: n };
}

async function firstSync(args) {
  need(args, 'remote', 'local');
  // An existing --local is a first sync that was cut short: replication resumes from its
  // checkpoint, as the app would on its next attempt.
  const local = localDb(args.local);
  const remote = remoteDb(args.remote);
  await local.info(); // open the LevelDB store before the clock starts

  startCounting();
  const t0 = performance.now();
  // 1. One-shot pull with PouchDB defaults (batch_size 100, batches_limit 10).
  const pull = await PouchDB.replicate(remote, local);
  const tPull = performance.now();
  const pullRequests = stats.requests;
  // 2. One-shot push. Nothing new is sent, but PouchDB's first push from a device walks
  //    its whole local changes feed and asks the server (_revs_diff) about every pulled
  //    revision, then records a push checkpoint. A real app using db.sync() pays this
  //    during its first sync; doing it here leaves the device in the steady state that
  //    `reconnect` measures (otherwise the echo would land in the first reconnect).
  await PouchDB.replicate(local, remote);
  const ms = performance.now() - t0;
  stopCounting();

  const docs = (await local.info()).doc_count;
  await closeAll(local, remote);
  return {
    ...syncResult(ms),
    docs,
    pull_ms: round(tPull - t0),
    pull_requests: pullRequests,
  };
}

async function reconnect(args) {
  need(args, 'remote', 'local', 'input');
  if (!fs.existsSync(args.local)) throw new Error(`--local ${args.local} does not exist`);
  const input = readJson(args.input);
  const local = localDb(args.local);
  const remote = remoteDb(args.remote);

  // Offline work (not timed, no network).
  await applyEdits(local, input.edit);
  if (input.create && input.create.length) await bulkInBatches(local, input.create, 500);

  startCounting();
  const t0 = performance.now();
  // Standard two-way one-shot sync: push and pull run concurrently, each with its own
  // checkpoint (PouchDB defaults: batch_size 100, batches_limit 10).
  const res = await PouchDB.sync(local, remote);
  const ms = performance.now() - t0;
  stopCounting();

  await closeAll(local, remote);
  return {
    ...syncResult(ms),
    docs: res.pull.docs_written,
    pushed: res.push.docs_written,
    pulled: res.pull.docs_written,
  };
}

async function editRemote(args) {
  need(args, 'remote', 'input');
  const input = readJson(args.input);
  const edits = Array.isArray(input) ? input : input.edit;
  const remote = remoteDb(args.remote);
  const n = await applyEdits(remote, edits);
  await closeAll(remote);
  return { docs: n };
}

function same(x, y) {
  return JSON.stringify(x) === JSON.stringify(y);
}

async function conflict(args) {
  need(args, 'remote', 'local', 'input');
  const input = readJson(args.input);
  const id = input.doc._id;
  const remote = remoteDb(args.remote);

  // Setup (not timed): seed the plan on the remote, both devices pull it.
  await remote.put(input.doc);
  const a = localDb(path.join(args.local, 'a'));
  const b = localDb(path.join(args.local, 'b'));
  await PouchDB.replicate(remote, a);
  await PouchDB.replicate(remote, b);

  // Offline edits on each device.
  const edits = [];
  for (const [side, db] of [['a', a], ['b', b]]) {
    const doc = await db.get(id);
    for (const [field, value] of Object.entries(input[side] || {})) {
      doc[field] = value;
      edits.push({ label: `${side}.${field}`, field, value });
    }
    await db.put(doc);
  }

  // Timed: a syncs, b syncs, a syncs again (each a two-way one-shot PouchDB.sync).
  startCounting();
  const t0 = performance.now();
  await PouchDB.sync(a, remote);
  await PouchDB.sync(b, remote);
  await PouchDB.sync(a, remote);
  const ms = performance.now() - t0;
  stopCounting();
  const timed = syncResult(ms);

  // What an app sees: plain get() (winner only), and get({conflicts: true}).
  const winA = await a.get(id);
  const winB = await b.get(id);
  const withConflicts = await a.get(id, { conflicts: true });
  const losers = [];
  for (const rev of withConflicts._conflicts || []) losers.push(await a.get(id, { rev }));
  const converged = winA._rev === winB._rev && same(winA, winB);

  const winner_has = [];
  const hidden_in_conflicts = [];
  const lost = [];
  for (const e of edits) {
    const visible = same(winA[e.field], e.value) && (converged || same(winB[e.field], e.value));
    if (visible) winner_has.push(e.label);
    else if (losers.some((d) => same(d[e.field], e.value))) hidden_in_conflicts.push(e.label);
    else lost.push(e.label);
  }

  await closeAll(a, b, remote);
  return {
    ms: timed.ms,
    requests: timed.requests,
    largest_response: timed.largest_response,
    largest_request: timed.largest_request,
    winner_has,
    hidden_in_conflicts,
    lost,
    converged,
    conflict_revisions: (withConflicts._conflicts || []).length,
  };
}

const commands = {
  seed,
  'first-sync': firstSync,
  reconnect,
  'edit-remote': editRemote,
  conflict,
};

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const fn = commands[cmd];
  if (!fn) throw new Error(`usage: node client.mjs <${Object.keys(commands).join('|')}> --remote URL ...`);
  const out = await fn(parseArgs(rest));
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(`client error: ${err && (err.stack || err.message) || err}\n`);
  process.exitCode = 1;
  setImmediate(() => process.exit(1));
});
