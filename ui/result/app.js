/* Results page: a snapshot from GET /api/results, then live snapshots from
 * the WebSocket /api/results/ws (each text frame is a full JSON snapshot
 * {"options":[{"id","label","votes"}],"total","as_of"}). A dropped socket
 * is reopened with capped exponential backoff and jitter. Uses votingApp
 * (common/common.js). */
(function () {
  'use strict';

  var RECONNECT_BASE_MS = 500;
  var RECONNECT_CAP_MS = 15000;

  var listEl = document.getElementById('results');
  var itemModel = document.getElementById('result-item').content
    .firstElementChild;
  var totalEl = document.getElementById('total');
  var asOfLine = document.getElementById('as-of-line');
  var asOfEl = document.getElementById('as-of');
  var connEl = document.getElementById('conn');
  var connText = document.getElementById('conn-text');

  var ws = null;
  var attempt = 0;          /* failed connections since the last frame */
  var timer = null;
  var frames = 0;           /* WebSocket snapshots rendered so far */

  /* Counts in the reader's locale: 1,234,567 (en), 1.234.567 (de), ... */
  var grouping = typeof Intl === 'object' && Intl.NumberFormat ?
    new Intl.NumberFormat(undefined, {maximumFractionDigits: 0}) : null;

  function plural(n, one, many) {
    var shown = grouping ? grouping.format(n) : String(n);
    return shown + '\u00a0' + (n === 1 ? one : many);
  }

  function count(v) {
    var n = Number(v);
    return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  }

  /* Whole percentages that add up to 100 (largest remainder). */
  function percentages(votes, total) {
    if (!total)
      return votes.map(function () { return 0; });
    var exact = votes.map(function (v) { return v * 100 / total; });
    var pct = exact.map(Math.floor);
    var left = 100 - pct.reduce(function (s, p) { return s + p; }, 0);
    var order = exact.map(function (e, i) { return i; }).sort(function (i, j) {
      return (exact[j] - pct[j]) - (exact[i] - pct[i]);
    });
    for (var k = 0; k < left && k < order.length; k++)
      pct[order[k]]++;
    return pct;
  }

  /* The item of option id, made the first time the snapshot names it. */
  function itemFor(id) {
    var items = listEl.children;
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute('data-option') === id)
        return items[i];
    }
    var li = itemModel.cloneNode(true);
    li.className = 'result option-' + id.replace(/[^a-z0-9_-]/gi, '');
    li.setAttribute('data-option', id);
    listEl.appendChild(li);
    return li;
  }

  /* Items of options the snapshot no longer has go. */
  function dropOthers(ids) {
    var items = Array.prototype.slice.call(listEl.children);
    items.forEach(function (li) {
      if (ids.indexOf(li.getAttribute('data-option')) < 0)
        listEl.removeChild(li);
    });
  }

  function render(snap) {
    if (!snap || !Array.isArray(snap.options))
      return;
    var opts = snap.options.filter(function (o) {
      return o && typeof o.id === 'string' && o.id;
    });
    var votes = opts.map(function (o) { return count(o.votes); });
    var sum = votes.reduce(function (s, v) { return s + v; }, 0);
    var total = snap.total === undefined ? sum : count(snap.total);
    var pct = percentages(votes, sum);
    var top = Math.max.apply(null, votes.concat([0]));
    var leaders = votes.filter(function (v) { return v === top; }).length;
    var labels = opts.map(function (o) {
      return typeof o.label === 'string' && o.label ? o.label : o.id;
    });

    dropOthers(opts.map(function (o) { return o.id; }));
    opts.forEach(function (o, i) {
      var li = itemFor(o.id);
      li.setAttribute('data-votes', String(votes[i]));
      li.classList.toggle('leading',
                          top > 0 && leaders === 1 && votes[i] === top);
      li.querySelector('.result-label').textContent = labels[i];
      li.querySelector('.result-pct').textContent = pct[i] + '%';
      li.querySelector('.result-votes').textContent =
        plural(votes[i], 'vote', 'votes');
      li.querySelector('.bar-fill').style.width = pct[i] + '%';
    });

    totalEl.setAttribute('data-total', String(total));
    totalEl.textContent = total === 0 ? 'No votes yet' :
      plural(total, 'vote', 'votes');

    var when = snap.as_of ? new Date(snap.as_of) : null;
    if (when && !isNaN(when.getTime())) {
      asOfEl.dateTime = snap.as_of;
      asOfEl.textContent = when.toLocaleTimeString();
      asOfLine.hidden = false;
    }
    document.title = labels.map(function (l, i) {
      return l + ' ' + pct[i] + '%';
    }).join(' \u00b7 ') + (labels.length ? ' \u2013 ' : '') + 'Results';
  }

  function setConn(state, text) {
    connEl.setAttribute('data-state', state);
    connText.textContent = text;
  }

  /* A frame that arrived while this fetch was in flight is newer. */
  function fetchSnapshot() {
    var seen = frames;
    return votingApp.getJson('/api/results').then(function (snap) {
      if (frames === seen)
        render(snap);
    }).catch(function () {
      /* The socket (or the next attempt) will bring the numbers. */
    });
  }

  function socketUrl() {
    return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' +
      location.host + '/api/results/ws';
  }

  function schedule() {
    var ms = votingApp.backoffMs(attempt, RECONNECT_BASE_MS,
                                 RECONNECT_CAP_MS);
    attempt++;
    clearTimeout(timer);
    timer = setTimeout(function () {
      timer = null;
      fetchSnapshot();
      connect();
    }, ms);
  }

  function connect() {
    var sock;

    try {
      sock = new WebSocket(socketUrl());
    } catch (e) {
      setConn('reconnecting', 'Reconnecting\u2026');
      schedule();
      return;
    }
    ws = sock;
    sock.onopen = function () {
      setConn('live', 'Live');
    };
    sock.onmessage = function (ev) {
      var snap;
      if (typeof ev.data !== 'string')
        return;
      try {
        snap = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      frames++;
      attempt = 0;          /* only a frame proves the link works */
      setConn('live', 'Live');
      render(snap);
    };
    sock.onclose = function () {
      if (ws !== sock)
        return;
      ws = null;
      setConn('reconnecting', 'Reconnecting\u2026');
      schedule();
    };
  }

  /* Back online or back to the tab: don't wait out a long backoff. */
  function reconnectNow() {
    if (ws || !timer)
      return;
    clearTimeout(timer);
    timer = null;
    attempt = 0;
    fetchSnapshot();
    connect();
  }

  document.documentElement.classList.remove('no-js');
  document.getElementById('vote-link').href =
    votingApp.siblingUrl('result.', 'vote.', '5000');
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible')
      reconnectNow();
  });
  fetchSnapshot();
  connect();
})();
