// Browser tests of ui/vote and ui/result against the running local stack
// (tools/run): first straight at the services (they serve the pages too),
// then through Debian's nginx with the two ui/*/nginx.conf files.
// One file, so the tests run one after another on the shared stack.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  assert, counts, launchBrowser, LIVE_MS, noScriptVote, repoRoot,
  requireStack, RESULT_URL, startNginx, VOTE_URL, voteFlow, waitCounts,
} from './lib.mjs';

let browser;

before(async () => {
  await requireStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

// The files both pages share (ui/common; each page's common/ is a link to
// it) are served as they are in the repo, and no folder is listed.
async function sharedFilesServed(url) {
  for (const [name, type] of [['common.css', /^text\/css/],
    ['common.js', /javascript/]]) {
    const res = await fetch(`${url}/common/${name}`);
    assert.equal(res.status, 200, `${url}/common/${name}`);
    assert.match(res.headers.get('content-type'), type, name);
    assert.equal(await res.text(), fs.readFileSync(
      path.join(repoRoot, 'ui', 'common', name), 'utf8'), name);
  }
  const dir = await fetch(url + '/common/');
  assert.equal(dir.status, 403, `${url}/common/ is not listed`);
  assert.match(dir.headers.get('content-type'), /^application\/json/,
    `${url}/common/ answers a JSON error`);
}

test('direct: both pages serve the shared files, list no folder', async () => {
  await sharedFilesServed(VOTE_URL);
  await sharedFilesServed(RESULT_URL);
});

test('direct: vote a, live result, change to b, reload keeps b', async (t) => {
  const r = await voteFlow(browser, VOTE_URL, RESULT_URL, 'direct',
    (m) => t.diagnostic(m));
  t.diagnostic(`screenshots: ${r.files.join(' ')}`);
  await r.ctx.close();
});

test('direct: without JavaScript the form votes and comes back', async () => {
  await noScriptVote(browser, VOTE_URL, 'a');
});

test('direct: a 503 says "try again" and is retried by itself', async () => {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    let posts = 0;
    await page.route('**/api/vote', (route) => {
      if (route.request().method() !== 'POST')
        return route.continue();
      if (posts++ === 0) {
        return route.fulfill({
          status: 503, headers: { 'Retry-After': '1' },
          contentType: 'application/json', body: '{"error":"unavailable"}',
        });
      }
      return route.continue();
    });
    await page.goto(VOTE_URL + '/');
    await page.waitForSelector('body[data-ready="true"]');
    await page.click('#option-a');
    await page.waitForFunction(() =>
      /try again/i.test(document.getElementById('status').textContent),
    null, { timeout: 3000 });
    assert.equal(await page.getAttribute('#status', 'data-kind'), 'retry');
    await page.waitForSelector('#option-a[aria-pressed="true"]',
      { timeout: 5000 });
    assert.match(await page.textContent('#status'), /You voted for/);
    assert.equal(posts, 2, 'one failed POST, one retry');
  } finally {
    await ctx.close();
  }
});

test('nginx: the same flow through both nginx.conf, WebSocket included',
  async (t) => {
    const voteNginx = await startNginx('vote', 'vote', VOTE_URL);
    let resultNginx;
    let r;
    try {
      resultNginx = await startNginx('result', 'result', RESULT_URL);
      t.diagnostic(`vote-ui ${voteNginx.url}, result-ui ${resultNginx.url}`);

      // Files, health, caching, gzip, and build files kept private.
      for (const ui of [voteNginx, resultNginx]) {
        const health = await fetch(ui.url + '/healthz');
        assert.equal(health.status, 200);
        assert.equal((await health.text()).trim(), 'ok');
        const page = await fetch(ui.url + '/');
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('cache-control'), 'no-cache');
        const js = await fetch(ui.url + '/app.js',
          { headers: { 'Accept-Encoding': 'gzip' } });
        assert.equal(js.status, 200);
        assert.match(js.headers.get('cache-control'), /max-age=\d+/);
        assert.equal(js.headers.get('content-encoding'), 'gzip');
        assert.ok(js.headers.get('etag'), 'css/js revalidate by ETag');
        for (const p of ['/nginx.conf', '/Dockerfile', '/.dockerignore'])
          assert.equal((await fetch(ui.url + p)).status, 404, p);
        await sharedFilesServed(ui.url);
      }
      const opts = await fetch(voteNginx.url + '/api/options');
      const direct = await fetch(VOTE_URL + '/api/options');
      assert.equal(opts.status, 200);
      assert.equal(opts.headers.get('cache-control'),
        direct.headers.get('cache-control'),
        'nginx passes /api/ Cache-Control through and adds none');

      r = await voteFlow(browser, voteNginx.url, resultNginx.url, 'nginx',
        (m) => t.diagnostic(m));
      t.diagnostic(`screenshots: ${r.files.join(' ')}`);
      const wsPrefix = resultNginx.url.replace(/^http/, 'ws') +
        '/api/results/ws';
      assert.ok(r.sockets.every((u) => u === wsPrefix),
        `the WebSocket went through nginx: ${r.sockets}`);

      await noScriptVote(browser, voteNginx.url, 'b');

      // Drop the socket: stop result-ui's nginx, see "reconnecting",
      // start it again on the same port, see "live" and live numbers.
      await resultNginx.stop();
      await r.result.waitForSelector('#conn[data-state="reconnecting"]',
        { timeout: 5000 });
      resultNginx = await startNginx('result', 'result', RESULT_URL,
        resultNginx.port);
      await r.result.waitForSelector('#conn[data-state="live"]',
        { timeout: 20000 });
      const now = await counts(r.result);
      const page = await r.ctx.browser().newPage();   // a fresh voter
      try {
        await page.goto(voteNginx.url + '/');
        await page.waitForSelector('body[data-ready="true"]');
        await page.click('#option-a');
        await page.waitForSelector('#option-a[aria-pressed="true"]');
      } finally {
        await page.close();
      }
      await waitCounts(r.result,
        { a: now.a + 1, b: now.b, total: now.total + 1 }, LIVE_MS);
      assert.ok(r.sockets.length >= 2, 'the page opened a new WebSocket');
    } finally {
      await r?.ctx.close().catch(() => {});
      await resultNginx?.stop();
      await voteNginx.stop();
    }
  });

// Behind traefik the pages are vote.<domain> and result.<domain>; each links
// to the other. Served from the repo by request interception: no network.
test('links: vote.<domain> <-> result.<domain>, else ports 5000/5001',
  async () => {
    const ctx = await browser.newContext();
    try {
      await ctx.route('**/*', (route) => {
        const u = new URL(route.request().url());
        const ui = u.hostname.startsWith('result.') || u.port === '5001' ?
          'result' : 'vote';
        if (u.pathname.startsWith('/api/')) {
          return route.fulfill({ status: 503, contentType: 'application/json',
            body: '{"error":"unavailable"}' });
        }
        const file = path.join(repoRoot, 'ui', ui,
          u.pathname === '/' ? 'index.html' : u.pathname.slice(1));
        if (!fs.existsSync(file))
          return route.fulfill({ status: 404, body: 'not found' });
        return route.fulfill({ path: file });
      });
      const page = await ctx.newPage();
      const cases = [
        ['http://vote.traefik.me/', '#results-link', 'http://result.traefik.me/'],
        ['http://result.traefik.me/', '#vote-link', 'http://vote.traefik.me/'],
        ['http://vote.example.test:8000/index.html?y=1#z', '#results-link',
          'http://result.example.test:8000/'],
        ['http://10.1.2.3:5000/', '#results-link', 'http://10.1.2.3:5001/'],
        ['http://[::1]:5001/', '#vote-link', 'http://[::1]:5000/'],
        ['http://localhost:5001/', '#vote-link', 'http://localhost:5000/'],
      ];
      for (const [url, sel, want] of cases) {
        await page.goto(url);
        await page.waitForFunction(([s, w]) =>
          document.querySelector(s).href === w, [sel, want],
        { timeout: 3000 }).catch(async () => {
          assert.fail(`${url}: ${sel} is ` +
            `${await page.getAttribute(sel, 'href')}, want ${want}`);
        });
      }
    } finally {
      await ctx.close();
    }
  });

// Large counts are grouped the way the reader's locale writes numbers.
// The snapshot comes from request interception: no network, no votes cast.
test('results: large counts with digit grouping in the reader\'s locale',
  async () => {
    const snap = JSON.stringify({
      options: [{ id: 'a', label: 'Cats', votes: 1234567 },
        { id: 'b', label: 'Dogs', votes: 1 }],
      total: 1234568, as_of: new Date().toISOString(),
    });
    const cases = [
      ['en-US', '1,234,567\u00a0votes', '1,234,568\u00a0votes'],
      ['de-DE', '1.234.567\u00a0votes', '1.234.568\u00a0votes'],
      ['fr-FR', '1\u202f234\u202f567\u00a0votes',
        '1\u202f234\u202f568\u00a0votes'],
    ];
    for (const [locale, wantA, wantTotal] of cases) {
      const ctx = await browser.newContext({ locale });
      try {
        await ctx.route('**/*', (route) => {
          const u = new URL(route.request().url());
          if (u.pathname === '/api/results') {
            return route.fulfill({ status: 200,
              contentType: 'application/json', body: snap });
          }
          if (u.pathname.startsWith('/api/'))
            return route.fulfill({ status: 503, body: '{}' });
          const file = path.join(repoRoot, 'ui', 'result',
            u.pathname === '/' ? 'index.html' : u.pathname.slice(1));
          if (!fs.existsSync(file))
            return route.fulfill({ status: 404, body: 'not found' });
          return route.fulfill({ path: file });
        });
        const page = await ctx.newPage();
        await page.goto('http://result.example.test/');
        await page.waitForSelector('#total[data-total="1234568"]',
          { timeout: 5000 });
        assert.equal(await page.textContent(
          '[data-option="a"] .result-votes'), wantA, locale);
        assert.equal(await page.textContent(
          '[data-option="b"] .result-votes'), '1\u00a0vote', locale);
        assert.equal(await page.textContent('#total'), wantTotal, locale);
      } finally {
        await ctx.close();
      }
    }
  });

// WCAG 2 A/AA checks by axe-core on both pages, light and dark, with a
// choice made (pressed button) and live numbers shown.
test('accessibility: axe-core finds no WCAG A/AA violations', async () => {
  const axe = fs.readFileSync(
    path.join(repoRoot, 'tests', 'browser', 'node_modules', 'axe-core',
      'axe.min.js'), 'utf8');
  const problems = [];
  for (const colorScheme of ['light', 'dark']) {
    const ctx = await browser.newContext({ colorScheme });
    try {
      const vote = await ctx.newPage();
      await vote.goto(VOTE_URL + '/');
      await vote.waitForSelector('body[data-ready="true"]');
      await vote.click('#option-b');
      await vote.waitForSelector('#option-b[aria-pressed="true"]');
      const result = await ctx.newPage();
      await result.goto(RESULT_URL + '/');
      await result.waitForSelector('#conn[data-state="live"]');
      for (const [name, page] of [['vote', vote], ['result', result]]) {
        await page.waitForTimeout(600);     // transitions done
        await page.addScriptTag({ content: axe });
        const res = await page.evaluate(() => window.axe.run(document, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] },
        }));
        for (const v of res.violations) {
          problems.push(`${name}/${colorScheme}: ${v.id} (${v.impact}): ` +
            v.nodes.map((n) => n.target.join(' ')).join(', '));
        }
      }
    } finally {
      await ctx.close();
    }
  }
  assert.deepEqual(problems, []);
});

// The pages show what the services say, not what their HTML says: labels
// other than the HTML's (and an option only the API names) through
// request interception, no network, no vote cast.
test('pages: options and labels come from /api/options and the snapshots',
  async () => {
    const options = [{ id: 'a', label: 'Tea' }, { id: 'b', label: 'Coffee' },
      { id: 'c', label: 'Water' }];
    const snap = JSON.stringify({
      options: options.map((o, i) => ({ ...o, votes: i + 1 })),
      total: 6, as_of: new Date().toISOString(),
    });
    const ctx = await browser.newContext();
    try {
      await ctx.route('**/*', (route) => {
        const u = new URL(route.request().url());
        const ui = u.hostname.startsWith('result.') ? 'result' : 'vote';
        const json = (body) => route.fulfill({ status: 200,
          contentType: 'application/json', body });
        if (u.pathname === '/api/options')
          return json(JSON.stringify({ options }));
        if (u.pathname === '/api/vote')
          return json('{"vote":"c"}');
        if (u.pathname === '/api/results')
          return json(snap);
        if (u.pathname.startsWith('/api/'))
          return route.fulfill({ status: 503, body: '{}' });
        const file = path.join(repoRoot, 'ui', ui,
          u.pathname === '/' ? 'index.html' : u.pathname.slice(1));
        if (!fs.existsSync(file))
          return route.fulfill({ status: 404, body: 'not found' });
        return route.fulfill({ path: file });
      });
      const vote = await ctx.newPage();
      await vote.goto('http://vote.example.test/');
      await vote.waitForSelector('body[data-ready="true"]', { timeout: 5000 });
      const buttons = await vote.$$eval('#vote-form button[name="vote"]',
        (bs) => bs.map((b) => [b.id, b.value,
          b.querySelector('.option-label').textContent,
          b.getAttribute('aria-pressed')]));
      assert.deepEqual(buttons, [['option-a', 'a', 'Tea', 'false'],
        ['option-b', 'b', 'Coffee', 'false'],
        ['option-c', 'c', 'Water', 'true']]);
      assert.equal(await vote.textContent('#question'),
        'Tea or Coffee or Water?');
      assert.match(await vote.textContent('#status'), /You voted for Water/);
      const result = await ctx.newPage();
      await result.goto('http://result.example.test/');
      await result.waitForSelector('#total[data-total="6"]', { timeout: 5000 });
      assert.deepEqual(await result.$$eval('#results > li', (ls) => ls.map(
        (l) => [l.dataset.option, l.querySelector('.result-label').textContent,
          l.dataset.votes])),
      [['a', 'Tea', '1'], ['b', 'Coffee', '2'], ['c', 'Water', '3']]);
      assert.match(await result.title(), /^Tea 17% · Coffee 33% · Water 50%/);
    } finally {
      await ctx.close();
    }
  });
