/* What the vote and results pages share, as the global `votingApp`. Each
 * page loads it as common/common.js (its common/ links to this folder),
 * deferred, before its own app.js. */
var votingApp = (function () {
  'use strict';

  /* The other page lives on the same host at another port (5000 -> 5001),
   * or behind traefik at a sibling host name (vote.x -> result.x). */
  function siblingUrl(prefixFrom, prefixTo, port) {
    var u = new URL(location.href);
    if (u.hostname.indexOf(prefixFrom) === 0)
      u.hostname = prefixTo + u.hostname.slice(prefixFrom.length);
    else
      u.port = port;
    u.pathname = '/';
    u.search = '';
    u.hash = '';
    return u.href;
  }

  /* Capped exponential backoff with jitter: for the attempt-th retry, a
   * wait between half and all of min(capMs, baseMs * 2^attempt). */
  function backoffMs(attempt, baseMs, capMs) {
    var ms = Math.min(capMs, baseMs * Math.pow(2, attempt));
    return Math.round(ms / 2 + Math.random() * ms / 2);
  }

  /* GET path as JSON, never from the HTTP cache; rejects on a non-2xx. */
  function getJson(path) {
    return fetch(path, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
      cache: 'no-store'
    }).then(function (res) {
      if (!res.ok)
        throw new Error(path + ': HTTP ' + res.status);
      return res.json();
    });
  }

  return { siblingUrl: siblingUrl, backoffMs: backoffMs, getJson: getJson };
})();
