#!/usr/bin/env bash
# Smoke test for the PouchDB peer driver: starts the server in a temp dir, runs every
# client command once and prints the JSON lines. Needs `npm ci` in this folder first.
set -euo pipefail
cd "$(dirname "$0")"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

node server.mjs --dir "$WORK/server" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q '^listening ' "$WORK/server.out" 2>/dev/null && break
  sleep 0.1
done
BASE=$(sed -n 's/^listening //p' "$WORK/server.out")
[ -n "$BASE" ] || { echo "server did not start" >&2; cat "$WORK/server.err" >&2; exit 1; }
REMOTE="$BASE/fieldnote"
echo "server: $BASE (pid $SERVER_PID)"

# Synthetic data: 1,000 notes with ~800 bytes of narrative, 40 plans, and the edit files.
node --input-type=module - "$WORK" <<'EOF'
import fs from 'node:fs';
const dir = process.argv[2];
const words = 'visit family garden water school clinic follow-up referral harvest rain market child health payment meeting'.split(' ');
let seed = 42;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const text = (n) => { let s = ''; while (s.length < n) s += words[Math.floor(rnd() * words.length)] + ' '; return s.slice(0, n); };
const docs = [];
for (let i = 0; i < 1000; i++) {
  docs.push({ _id: `note-${String(i).padStart(4, '0')}`, kind: 'note', member_id: `member-${i % 200}`,
    created_at: new Date(Date.UTC(2026, 0, 1) + i * 60000).toISOString(), narrative: text(800) });
}
for (let i = 0; i < 40; i++) {
  docs.push({ _id: `plan-${String(i).padStart(2, '0')}`, kind: 'plan', member_id: `member-${i}`,
    summary: text(200), goal: text(80), status: 'active' });
}
fs.writeFileSync(`${dir}/seed.json`, JSON.stringify(docs));
fs.writeFileSync(`${dir}/edit-remote.json`, JSON.stringify({ edit: [0, 1, 2].map((i) =>
  ({ _id: `plan-${String(i).padStart(2, '0')}`, field: 'summary', append: ' supervisor reviewed' })) }));
fs.writeFileSync(`${dir}/reconnect.json`, JSON.stringify({
  edit: Array.from({ length: 20 }, (_, i) => ({ _id: `note-${String(i * 7).padStart(4, '0')}`, field: 'narrative', append: ' offline addendum' })),
  create: Array.from({ length: 5 }, (_, i) => ({ _id: `note-new-${i}`, kind: 'note', member_id: `member-${i}`, narrative: text(800) })),
}));
fs.writeFileSync(`${dir}/conflict.json`, JSON.stringify({
  doc: { _id: 'plan1', summary: 'original summary', goal: 'original goal', status: 'active' },
  a: { summary: 'worker text', status: 'closed' },
  b: { summary: 'supervisor text', goal: 'new goal' },
}));
EOF

run() { local name=$1; shift; printf '%-12s ' "$name"; node client.mjs "$@"; }
run seed        seed        --remote "$REMOTE" --input "$WORK/seed.json"
run first-sync  first-sync  --remote "$REMOTE" --local "$WORK/device"
run edit-remote edit-remote --remote "$REMOTE" --input "$WORK/edit-remote.json"
run reconnect   reconnect   --remote "$REMOTE" --local "$WORK/device" --input "$WORK/reconnect.json"
run conflict    conflict    --remote "$BASE/w6" --local "$WORK/w6" --input "$WORK/conflict.json"
