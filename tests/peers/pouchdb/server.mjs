// CouchDB-protocol server for baseline (d): express-pouchdb over on-disk LevelDB PouchDB.
//
//   node server.mjs --dir DIR
//
// Listens on 127.0.0.1 with an OS-chosen port and prints exactly one line,
// `listening http://127.0.0.1:PORT`, on stdout once ready. Serves until killed.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const PouchDB = require('pouchdb-node');
const expressPouchDB = require('express-pouchdb');

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node server.mjs --dir DIR\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let dir = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dir') dir = args[++i];
  else usage(`unknown argument: ${args[i]}`);
}
if (!dir) usage('missing --dir');

dir = path.resolve(dir);
fs.mkdirSync(dir, { recursive: true });

// Every database (and express-pouchdb's pouch__all_dbs__ index) is a LevelDB folder under DIR.
const ServerPouchDB = PouchDB.defaults({ prefix: dir + path.sep });

// 'minimumForPouchDB' = the routes PouchDB replication needs (changes, revs_diff,
// bulk_get, bulk_docs, all_docs, ...), gzip response compression, no config
// file, no log file, no Fauxton, no request logging.
const app = expressPouchDB(ServerPouchDB, { mode: 'minimumForPouchDB' });

const server = http.createServer(app);
server.keepAliveTimeout = 5000;
server.on('error', (err) => {
  process.stderr.write(`server error: ${err && err.stack || err}\n`);
  process.exit(1);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`listening http://127.0.0.1:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
