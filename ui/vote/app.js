/* Vote page: the options (ids, labels, one button each) from GET
 * /api/options, this voter's choice from GET /api/vote, one click votes
 * with POST /api/vote (voter_id cookie). A 503 (or a lost connection) is
 * retried with capped exponential backoff. Without JavaScript the <form>
 * posts to /api/vote and gets a 303 back; its buttons are the ones shown
 * until /api/options answers. Uses votingApp (common/common.js). */
(function () {
  'use strict';

  var RETRY_BASE_MS = 500;
  var RETRY_CAP_MS = 8000;
  var RETRY_MAX = 12;

  var current = null;      /* option id this voter has, as last confirmed */
  var attemptSeq = 0;      /* a newer click supersedes a pending retry */

  var form = document.getElementById('vote-form');
  var optionsEl = form.querySelector('.options');
  var statusEl = document.getElementById('status');
  var options = [];        /* [{id, label}], in the order shown */
  var buttons = {};        /* option id -> its button */

  /* Until /api/options answers: the form's own buttons. */
  (function readForm() {
    var list = optionsEl.querySelectorAll('button[name="vote"]');
    for (var i = 0; i < list.length; i++) {
      buttons[list[i].value] = list[i];
      options.push({ id: list[i].value,
        label: list[i].querySelector('.option-label').textContent });
    }
  })();

  function isOption(id) {
    return typeof id === 'string' &&
      Object.prototype.hasOwnProperty.call(buttons, id);
  }

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
    for (var i = 0; i < options.length; i++) {
      if (options[i].id === id)
        return options[i].label;
    }
    return id;
  }

  /* One button per option, in the order given, each with its id as the
   * value the form posts and its label; a button whose option is gone is
   * removed. The first button is the model of a new one. */
  function showOptions(list) {
    var model = optionsEl.querySelector('button[name="vote"]');
    var next = {};

    list.forEach(function (o, i) {
      var b = buttons[o.id];
      if (!b) {
        b = model.cloneNode(true);
        b.removeAttribute('aria-busy');
      }
      b.setAttribute('aria-pressed', String(o.id === current));
      b.id = 'option-' + o.id;
      b.value = o.id;
      b.className = 'option option-' + o.id.replace(/[^a-z0-9_-]/gi, '');
      b.querySelector('.option-letter').textContent =
        String.fromCharCode(65 + i % 26);
      b.querySelector('.option-label').textContent = o.label;
      if (optionsEl.children[i] !== b)
        optionsEl.insertBefore(b, optionsEl.children[i] || null);
      next[o.id] = b;
    });
    Object.keys(buttons).forEach(function (id) {
      if (!next[id])
        optionsEl.removeChild(buttons[id]);
    });
    buttons = next;
    options = list;
    var question = list.map(function (o) { return o.label; }).join(' or ');
    document.getElementById('question').textContent = question + '?';
    document.title = question + '? \u2013 Vote';
    if (lastSay)
      say(lastSay.text, lastSay.kind);
  }

  /* The page may learn the voter's choice before the options. */
  function showChoice(id) {
    current = typeof id === 'string' && id ? id : null;
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
      var list = (Array.isArray(body.options) ? body.options : [])
        .filter(function (o) {
          return o && typeof o.id === 'string' && /^[A-Za-z0-9_-]+$/.test(o.id);
        }).map(function (o) {
          return { id: o.id,
            label: typeof o.label === 'string' && o.label ? o.label : o.id };
        });
      if (list.length)
        showOptions(list);
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

    if (!isOption(id))
      return;                   /* let the plain form post go through */
    ev.preventDefault();
    castVote(id);
  }

  document.getElementById('results-link').href =
    votingApp.siblingUrl('vote.', 'result.', '5001');
  showChoice(null);
  form.addEventListener('submit', onSubmit);
  Promise.all([loadOptions(0), loadChoice()]).then(function () {
    document.body.setAttribute('data-ready', 'true');
  });
})();
