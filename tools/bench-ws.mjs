// tools/bench-ws.mjs - the WebSocket half of tools/bench (node 20, run with
// --experimental-websocket; no npm packages). Prints one JSON object.
//
//   latency VOTE_URL RESULT_URL RATE SECONDS PREFIX
//     casts RATE votes/s (each a new voter) and measures, for each vote,
//     the time from its 200 to the first frame whose total includes it
//     (the k-th acknowledged vote is in once total >= total_before + k)
//   clients RESULT_URL VOTE_URL N PREFIX
//     opens N WebSockets to one result, waits for each snapshot, casts one
//     vote, and measures how many clients see it and how fast
//   hold RESULT_URL N SECONDS
//     opens N WebSockets, prints {"held":n} once all have their snapshot,
//     keeps them (reading every frame, parsing none) for SECONDS, then
//     closes them: the audience while tools/bench measures P3
import http from 'node:http';

const [mode, ...args] = process.argv.slice(2);

const now = () => performance.now();
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
};
const wsUrl = (u) => u.replace(/^http/, 'ws').replace(/\/$/, '') + '/api/results/ws';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// node's http with a keep-alive pool: fetch() costs too much CPU to pace
// 1,000 requests a second on this machine.
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function vote(base, voter, option) {
  const body = JSON.stringify({ vote: option, voter_id: voter });
  const u = new URL(base.replace(/\/$/, '') + '/api/vote');
  return new Promise((resolve, reject) => {
    const req = http.request(u, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json',
                 'content-length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

function open(url, onFrame) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let first = true;
    ws.onmessage = (e) => {
      const snap = JSON.parse(e.data);
      if (first) { first = false; resolve(ws); }
      onFrame(snap, now());
    };
    ws.onerror = () => reject(new Error('websocket error on ' + url));
    ws.onclose = () => { if (first) reject(new Error('closed before snapshot')); };
  });
}

async function latency(voteUrl, resultUrl, rate, seconds, prefix) {
  const frames = [];
  let before = null;
  const ws = await open(wsUrl(resultUrl), (s, t) => {
    if (before === null) before = s.total;
    frames.push({ t, total: s.total });
  });
  const acks = [];
  let errors = 0, sent = 0;
  const reasons = {};
  const why = (r) => { errors++; reasons[r] = (reasons[r] || 0) + 1; };
  const n = rate * seconds, start = now(), inflight = [];
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    sent++;
    inflight.push(vote(voteUrl, `${prefix}-${i}`, i % 2 ? 'b' : 'a').then(
      (st) => { if (st === 200) acks.push(now()); else why(`http ${st}`); },
      (e) => why(e.code || e.message)));
  }
  await Promise.all(inflight);
  const sendSeconds = (now() - start) / 1000;
  const want = before + acks.length;
  const deadline = now() + 10000;
  while ((frames.length === 0 || frames[frames.length - 1].total < want) && now() < deadline)
    await sleep(20);
  ws.close();
  acks.sort((a, b) => a - b);
  const lat = [];
  let f = 0, missing = 0;
  for (let k = 0; k < acks.length; k++) {
    while (f < frames.length && frames[f].total < before + k + 1) f++;
    if (f === frames.length) { missing++; continue; }
    lat.push(Math.max(0, frames[f].t - acks[k]));
  }
  return {
    mode: 'latency', rate, sent, acked: acks.length, errors, reasons, missing,
    achieved_rate: +(sent / sendSeconds).toFixed(0), frames: frames.length,
    p50_ms: pct(lat, 50), p99_ms: pct(lat, 99), max_ms: pct(lat, 100),
  };
}

async function clients(resultUrl, voteUrl, n, prefix) {
  const sockets = [], seen = new Array(n).fill(null);
  let target = null;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    sockets.push(open(wsUrl(resultUrl), (s, t) => {
      if (target !== null && seen[i] === null && s.total >= target) seen[i] = t;
    }).catch((e) => e));
    if (i % 50 === 49) await sleep(5);
  }
  const opened = await Promise.all(sockets);
  const connected = opened.filter((w) => !(w instanceof Error)).length;
  const connectSeconds = (now() - t0) / 1000;
  const snap = await (await fetch(resultUrl.replace(/\/$/, '') + '/api/results')).json();
  target = snap.total + 1;
  const cast = now();
  const st = await vote(voteUrl, `${prefix}-one`, 'a');
  const deadline = now() + 10000;
  while (seen.filter((x) => x !== null).length < connected && now() < deadline)
    await sleep(10);
  const lat = seen.filter((x) => x !== null).map((t) => t - cast);
  for (const w of opened) if (!(w instanceof Error)) w.close();
  return {
    mode: 'clients', clients: n, connected, connect_seconds: +connectSeconds.toFixed(2),
    vote_status: st, updated: lat.length, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
    max_ms: pct(lat, 100),
  };
}

// A viewer that reads every frame but parses none (the audience's own
// CPU is not what P3 measures): resolves on its first frame.
function openQuiet(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onmessage = () => { ws.onmessage = () => {}; resolve(ws); };
    ws.onerror = () => reject(new Error('websocket error on ' + url));
  });
}

async function hold(resultUrl, n, seconds) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    sockets.push(openQuiet(wsUrl(resultUrl)).catch((e) => e));
    if (i % 50 === 49) await sleep(5);
  }
  const opened = await Promise.all(sockets);
  const held = opened.filter((w) => !(w instanceof Error));
  console.log(JSON.stringify({ held: held.length }));
  await sleep(seconds * 1000);
  for (const w of held) w.close();
  return { mode: 'hold', held: held.length };
}

let out;
if (mode === 'hold')
  out = await hold(args[0], +args[1], +args[2]);
else if (mode === 'latency')
  out = await latency(args[0], args[1], +args[2], +args[3], args[4]);
else if (mode === 'clients')
  out = await clients(args[0], args[1], +args[2], args[3]);
else {
  console.error('usage: bench-ws.mjs latency|clients ...');
  process.exit(2);
}
console.log(JSON.stringify(out));
process.exit(0);
