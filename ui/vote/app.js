/* Vote page: labels from GET /api/options, this voter's choice from
 * GET /api/vote, one click votes with POST /api/vote (voter_id cookie).
 * A 503 (or a lost connection) is retried with capped exponential backoff.
 * Without JavaScript the <form> posts to /api/vote and gets a 303 back.
 * Uses votingApp (common/common.js). */
(function () {
  'use strict';

  var RETRY_BASE_MS = 500;
  var RETRY_CAP_MS = 8000;
  var RETRY_MAX = 12;

  var labels = { a: 'Cats', b: 'Dogs' };
  var current = null;      /* option id this voter has, as last confirmed */
  var attemptSeq = 0;      /* a newer click supersedes a pending retry */

  var form = document.getElementById('vote-form');
  var statusEl = document.getElementById('status');
  var buttons = {
    a: document.getElementById('option-a'),
    b: document.getElementById('option-b')
  };

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function backoff(attempt) {
    return votingApp.backoffMs(attempt, RETRY_BASE_MS, RETRY_CAP_MS);
  }

  /* Retry-After in seconds (delta form only); null when absent or bad. */
  function retryAfterMs(res) {
    var v = res && res.headers.get('Retry-After');
    if (!v || !/^\d+$/.test(v.trim()))
      return null;
    return Math.min(RETRY_CAP_MS * 4, parseInt(v, 10) * 1000);
  }

  /* text may be a function, so a message naming an option follows the
   * labels when they arrive after it. */
  var lastSay = null;
  function say(text, kind) {
    lastSay = { text: text, kind: kind };
    statusEl.textContent = typeof text === 'function' ? text() : text;
    if (kind)
      statusEl.setAttribute('data-kind', kind);
    else
      statusEl.removeAttribute('data-kind');
  }

  function labelOf(id) {
    return labels[id] || id;
  }

  function showLabels() {
    var nodes = document.querySelectorAll('[data-label]');
    for (var i = 0; i < nodes.length; i++) {
      var id = nodes[i].getAttribute('data-label');
      if (labels[id])
        nodes[i].textContent = labels[id];
    }
    document.title = labels.a + ' or ' + labels.b + '? \u2013 Vote';
    if (lastSay)
      say(lastSay.text, lastSay.kind);
  }

  function showChoice(id) {
    current = id === 'a' || id === 'b' ? id : null;
    Object.keys(buttons).forEach(function (k) {
      buttons[k].setAttribute('aria-pressed', String(k === current));
      buttons[k].removeAttribute('aria-busy');
    });
    document.body.setAttribute('data-choice', current || '');
  }

  function setBusy(id) {
    Object.keys(buttons).forEach(function (k) {
      if (k === id)
        buttons[k].setAttribute('aria-busy', 'true');
      else
        buttons[k].removeAttribute('aria-busy');
    });
  }

  /* Options rarely fail, but the page may load before vote is up. */
  function loadOptions(attempt) {
    return votingApp.getJson('/api/options').then(function (body) {
      (body.options || []).forEach(function (o) {
        if ((o.id === 'a' || o.id === 'b') && typeof o.label === 'string' &&
            o.label)
          labels[o.id] = o.label;
      });
      showLabels();
    }).catch(function () {
      if (attempt >= RETRY_MAX)
        return;
      return sleep(backoff(attempt)).then(function () {
        return loadOptions(attempt + 1);
      });
    });
  }

  function loadChoice() {
    return votingApp.getJson('/api/vote').then(function (body) {
      if (attemptSeq > 0)
        return;                 /* a click already decided */
      showChoice(body.vote);
      if (current)
        say(function () {
          return 'You voted for ' + labelOf(current) + '.';
        }, 'ok');
    }).catch(function () {
      /* No choice shown; voting still works. */
    });
  }

  async function castVote(id) {
    var seq = ++attemptSeq;
    var res;

    setBusy(id);
    say('Saving your vote for ' + labelOf(id) + '\u2026');
    for (var attempt = 0; ; attempt++) {
      res = null;
      try {
        res = await fetch('/api/vote', {
          method: 'POST',
          credentials: 'same-origin',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json'
          },
          body: JSON.stringify({ vote: id })
        });
      } catch (e) {
        res = null;             /* network error: retry like a 503 */
      }
      if (seq !== attemptSeq)
        return;                 /* the voter clicked again meanwhile */
      if (res && res.ok) {
        var body = await res.json().catch(function () { return {}; });
        if (seq !== attemptSeq)
          return;
        showChoice(body.vote || id);
        say(function () {
          return 'Thanks! You voted for ' + labelOf(current) + '.';
        }, 'ok');
        return;
      }
      if (res && res.status < 500 && res.status !== 429) {
        showChoice(current);
        say('Your vote was not accepted (HTTP ' + res.status +
            '). Please reload the page.', 'error');
        return;
      }
      if (attempt >= RETRY_MAX) {
        showChoice(current);
        say('Your vote could not be saved. Please try again.', 'error');
        return;
      }
      var wait = retryAfterMs(res);
      if (wait === null)
        wait = backoff(attempt);
      say('Your vote was not saved yet \u2013 try again in a moment. ' +
          'Retrying in ' + Math.max(1, Math.round(wait / 1000)) +
          '\u00a0s\u2026', 'retry');
      await sleep(wait);
      if (seq !== attemptSeq)
        return;
    }
  }

  function onSubmit(ev) {
    var btn = ev.submitter || document.activeElement;
    var id = btn && btn.value;

    if (id !== 'a' && id !== 'b')
      return;                   /* let the plain form post go through */
    ev.preventDefault();
    castVote(id);
  }

  document.getElementById('results-link').href =
    votingApp.siblingUrl('vote.', 'result.', '5001');
  showChoice(null);
  form.addEventListener('submit', onSubmit);
  loadOptions(0);
  loadChoice().then(function () {
    document.body.setAttribute('data-ready', 'true');
  });
})();
