// Helpers for the browser tests: the stack's URLs, headless Debian chromium
// through playwright-core (never a downloaded browser), Debian's nginx as a
// child process with the ui/*/nginx.conf files mapped to loopback, and the
// vote -> live results flow shared by the direct and the nginx test.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

export const VOTE_URL = (process.env.VOTE_URL || 'http://127.0.0.1:5000')
  .replace(/\/+$/, '');
export const RESULT_URL = (process.env.RESULT_URL || 'http://127.0.0.1:5001')
  .replace(/\/+$/, '');
// How long the results page may take to show a confirmed vote.
export const LIVE_MS = Number(process.env.LIVE_MS || 1000);
export const OUT_DIR = process.env.TEST_OUTPUT_DIR ||
  path.join(here, 'screenshots');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const NGINX = process.env.NGINX || '/usr/sbin/nginx';

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu',
      '--disable-background-networking', '--disable-quic', '--no-first-run',
      '--disable-component-update', '--disable-sync'],
  });
}

// Throws a clear message when the stack is not up.
export async function requireStack() {
  for (const [name, url] of [['vote', VOTE_URL], ['result', RESULT_URL]]) {
    let status;
    try {
      const res = await fetch(url + '/healthz',
        { signal: AbortSignal.timeout(3000) });
      status = res.status;
    } catch (e) {
      status = e.cause?.code || e.name;
    }
    assert.equal(status, 200, `${name} is not answering ${url}/healthz ` +
      `(${status}): start the local stack with tools/run, or set ` +
      'VOTE_URL and RESULT_URL');
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function hostPort(url) {
  return new URL(url).host;     // "127.0.0.1:5000", "[::1]:5000"
}

function replaceOnce(text, from, to, what) {
  assert.ok(from instanceof RegExp ? from.test(text) : text.includes(from),
    `nginx.conf: ${what} not found`);
  return from instanceof RegExp ? text.replace(from, to) :
    text.split(from).join(to);
}

// A copy of ui/<ui>/nginx.conf that runs here: the upstream name mapped to
// the local service, `listen 8080` to a loopback port (and traefik's 8081
// to a socket in tmp), the html root to the repo's folder, and pid, logs
// and temp files in the temp folder.
export function localNginxConf(ui, upstream, upstreamUrl, port, tmp) {
  let s = fs.readFileSync(path.join(repoRoot, 'ui', ui, 'nginx.conf'), 'utf8');
  s = s.replace(/^\s*user\s+[^;]*;/m, '');
  s = s.replace(/^\s*pid\s+[^;]*;/m, '');        // given with -g
  s = 'user root;\n' + s;
  s = s.replace(/^(\s*)error_log\s+[^;]*;/gm, `$1error_log ${tmp}/error.log info;`);
  s = s.replace(/access_log\s+\/dev\/stdout/g, `access_log ${tmp}/access.log`);
  s = replaceOnce(s, /listen\s+8080\s*;/g, `listen 127.0.0.1:${port};`,
    'listen 8080');
  // traefik's listener (8081), unused here: a socket in tmp, no port taken
  s = replaceOnce(s, /listen\s+8081\s*;/g, `listen unix:${tmp}/traefik.sock;`,
    'listen 8081');
  s = replaceOnce(s, `${upstream}:5000`, hostPort(upstreamUrl),
    `${upstream}:5000`);
  s = replaceOnce(s, '/usr/share/nginx/html', path.join(repoRoot, 'ui', ui),
    'html root');
  s = s.replace(/(_temp_path) \/tmp\//g, `$1 ${tmp}/`);
  return s;
}

async function waitHealthy(url, proc, ms) {
  const end = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`nginx exited (${proc.exitCode ?? proc.signalCode})`);
    try {
      const res = await fetch(url + '/healthz',
        { signal: AbortSignal.timeout(1000) });
      if (res.status === 200)
        return;
    } catch { /* not yet */ }
    if (Date.now() > end)
      throw new Error(`nginx not healthy at ${url} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Debian's nginx as a child on 127.0.0.1:port in its own process group.
// Returns { url, stop(), tmp }; stop() is safe to call twice.
export async function startNginx(ui, upstream, upstreamUrl, port) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `nginx-${ui}-`));
  port = port || await freePort();
  const conf = path.join(tmp, 'nginx.conf');
  fs.writeFileSync(conf, localNginxConf(ui, upstream, upstreamUrl, port, tmp));
  const base = ['-p', tmp, '-e', path.join(tmp, 'error.log'), '-c', conf];
  const check = spawnSync(NGINX, [...base, '-t'], { encoding: 'utf8' });
  if (check.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    assert.fail(`nginx -t failed for ui/${ui}/nginx.conf mapped to ` +
      `loopback:\n${check.stderr}`);
  }
  const proc = spawn(NGINX,
    [...base, '-g', `daemon off; pid ${tmp}/nginx.pid;`],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const killGroup = () => {
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  process.on('exit', killGroup);
  const stop = async () => {
    process.off('exit', killGroup);
    if (proc.exitCode !== null || proc.signalCode !== null) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return;
    }
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');                   // fast shutdown, workers too
    const t = setTimeout(killGroup, 5000);
    await exited;
    clearTimeout(t);
    killGroup();                            // any worker left behind
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await waitHealthy(`http://127.0.0.1:${port}`, proc, 10000);
  } catch (e) {
    const log = fs.existsSync(path.join(tmp, 'error.log')) ?
      fs.readFileSync(path.join(tmp, 'error.log'), 'utf8') : '';
    await stop();
    throw new Error(`${e.message}\n${stderr}\n${log}`);
  }
  return { url: `http://127.0.0.1:${port}`, port, tmp, stop, proc };
}

export async function counts(page) {
  return page.evaluate(() => {
    const n = (sel) => Number(document.querySelector(sel).dataset.votes);
    return {
      a: n('[data-option="a"]'),
      b: n('[data-option="b"]'),
      total: Number(document.getElementById('total').dataset.total),
    };
  });
}

// Waits until the results page shows exactly a, b and total.
export async function waitCounts(page, want, ms) {
  try {
    await page.waitForFunction((w) => {
      const n = (sel) => Number(document.querySelector(sel).dataset.votes);
      return n('[data-option="a"]') === w.a && n('[data-option="b"]') === w.b &&
        Number(document.getElementById('total').dataset.total) === w.total;
    }, want, { timeout: ms, polling: 10 });
  } catch (e) {
    const got = await counts(page);
    assert.fail(`results page shows ${JSON.stringify(got)}, ` +
      `want ${JSON.stringify(want)} within ${ms} ms`);
  }
}

async function waitVoteReady(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
}

async function shot(page, name) {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, name);
  await page.waitForTimeout(600);         // let the bars finish moving
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function pctText(votes, total) {
  return total ? votes * 100 / total : 0;
}

// The flow: vote a, see it live; change to b, see it live; reload
// the vote page and see b. `tag` prefixes the screenshots. Returns facts
// for the caller's own assertions.
export async function voteFlow(browser, voteUrl, resultUrl, tag, log) {
  const ctx = await browser.newContext({ viewport: { width: 900, height: 720 } });
  const errors = [];
  const frames = [];
  const sockets = [];
  try {
    const result = await ctx.newPage();
    result.on('pageerror', (e) => errors.push(`result: ${e.message}`));
    result.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framereceived', (f) => frames.push(f.payload));
    });
    await result.goto(resultUrl + '/');
    await result.waitForSelector('#conn[data-state="live"]', { timeout: 10000 });
    await result.waitForFunction(() =>
      document.getElementById('total').dataset.total !== '', null,
    { timeout: 5000 });
    const before = await counts(result);
    log(`${tag}: results before ${JSON.stringify(before)}`);

    const vote = await ctx.newPage();
    vote.on('pageerror', (e) => errors.push(`vote: ${e.message}`));
    await vote.goto(voteUrl + '/');
    await waitVoteReady(vote);
    const options = await (await ctx.request.get(voteUrl + '/api/options'))
      .json();
    const label = Object.fromEntries(options.options.map((o) => [o.id, o.label]));
    assert.equal(await vote.textContent('#option-a .option-label'), label.a);
    assert.equal(await vote.textContent('#option-b .option-label'), label.b);
    assert.equal(await vote.getAttribute('#option-a', 'aria-pressed'), 'false',
      'a fresh voter has no choice yet');
    const resLink = await vote.getAttribute('#results-link', 'href');
    assert.match(resLink, /^http:\/\/[^/]+:5001\/$|^http:\/\/result\./);

    // The results page must update without a reload: this marker would go.
    await result.evaluate(() => { window.__sameDocument = 1; });

    await vote.click('#option-a');
    await vote.waitForSelector('#option-a[aria-pressed="true"]',
      { timeout: 5000 });
    const t1 = Date.now();
    assert.equal(await vote.getAttribute('#option-b', 'aria-pressed'), 'false');
    assert.match(await vote.textContent('#status'),
      new RegExp(`You voted for ${label.a}`));
    const afterA = { a: before.a + 1, b: before.b, total: before.total + 1 };
    await waitCounts(result, afterA, LIVE_MS);
    const liveA = Date.now() - t1;
    const pctA = Math.round(pctText(afterA.a, afterA.total));
    const shownA = Number((await result.textContent(
      '[data-option="a"] .result-pct')).replace('%', ''));
    assert.ok(Math.abs(shownA - pctA) <= 1, `a shows ${shownA}%, want ~${pctA}%`);
    assert.match(await result.textContent('#total'),
      afterA.total === 1 ? /^1\svote$/ : new RegExp(`^${afterA.total}\\svotes$`));
    log(`${tag}: vote a shown on results after ${liveA} ms`);

    await vote.click('#option-b');
    await vote.waitForSelector('#option-b[aria-pressed="true"]',
      { timeout: 5000 });
    const t2 = Date.now();
    assert.equal(await vote.getAttribute('#option-a', 'aria-pressed'), 'false');
    const afterB = { a: before.a, b: before.b + 1, total: before.total + 1 };
    await waitCounts(result, afterB, LIVE_MS);
    const liveB = Date.now() - t2;
    log(`${tag}: change to b shown on results after ${liveB} ms`);
    assert.equal(await result.evaluate(() => window.__sameDocument), 1,
      'the results page reloaded instead of updating live');
    assert.equal(await result.getAttribute('#conn', 'data-state'), 'live');

    await vote.reload();
    await waitVoteReady(vote);
    assert.equal(await vote.getAttribute('#option-b', 'aria-pressed'), 'true',
      'after a reload the vote page shows b');
    assert.equal(await vote.getAttribute('#option-a', 'aria-pressed'), 'false');
    assert.match(await vote.textContent('#status'),
      new RegExp(`You voted for ${label.b}`));

    const files = [await shot(vote, `${tag}-vote.png`),
      await shot(result, `${tag}-result.png`)];
    assert.ok(sockets.length >= 1, 'the results page opened no WebSocket');
    assert.ok(frames.length >= 2,
      `want >= 2 WebSocket frames (snapshot + update), got ${frames.length}`);
    assert.deepEqual(errors, [], 'page errors');
    return { before, liveA, liveB, sockets, frames, files, ctx, result, label };
  } catch (e) {
    await ctx.close().catch(() => {});
    throw e;
  }
}

// Without JavaScript the form posts to /api/vote and comes back (303).
export async function noScriptVote(browser, voteUrl, choice) {
  const ctx = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await ctx.newPage();
    await page.goto(voteUrl + '/');
    const [resp] = await Promise.all([
      page.waitForNavigation(),
      page.click(`#option-${choice}`),
    ]);
    assert.equal(new URL(page.url()).pathname, '/', 'back on the vote page');
    assert.equal(resp.status(), 200);
    const req = resp.request().redirectedFrom();
    assert.ok(req, 'the form post was answered with a redirect');
    assert.equal(req.method(), 'POST');
    assert.equal((await req.response()).status(), 303);
    const mine = await (await ctx.request.get(voteUrl + '/api/vote')).json();
    assert.equal(mine.vote, choice);
  } finally {
    await ctx.close();
  }
}

export { assert };
