/* global document */
// The pastor's pages work without this script (forms post, the status page refreshes itself); with it the hold
// shows the minutes left and the status page updates in place as each step of the line is done.
(function () {
  'use strict';
  var hold = document.getElementById('hold-time');
  if (hold) {
    var expires = new Date(hold.getAttribute('data-expires')).getTime();
    var lastText = '';
    var tick = function () {
      var minutes = Math.ceil((expires - Date.now()) / 60000);
      var text =
        minutes > 1
          ? minutes + ' minutes left on your hold.'
          : minutes === 1
            ? '1 minute left on your hold.'
            : 'Your hold has run out: pick the number again to hold it.';
      // Only changes are announced (aria-live), at most once a minute.
      if (text !== lastText) {
        lastText = text;
        var note = document.getElementById('hold-left') || document.createElement('span');
        note.id = 'hold-left';
        note.textContent = ' ' + text;
        hold.appendChild(note);
      }
      if (minutes > 0) setTimeout(tick, 5000);
    };
    tick();
  }
  var status = document.getElementById('line-status');
  if (status) {
    var source = status.getAttribute('data-source');
    var poll = function () {
      fetch(source, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (body) {
          if (body && typeof body.html === 'string' && body.html !== status.getAttribute('data-html')) {
            status.setAttribute('data-html', body.html);
            status.innerHTML = body.html;
          }
          if (!body || !body.done) setTimeout(poll, 1000);
        })
        .catch(function () {
          setTimeout(poll, 3000);
        });
    };
    setTimeout(poll, 1000);
  }
})();
