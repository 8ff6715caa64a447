/* global document, window */
// The console works without this script (forms post, task pages refresh themselves); with it the charts are drawn
// (uPlot; values on hover in its legend; lines differ by dash as well as colour) and task progress updates in place.
(function () {
  'use strict';
  var task = document.getElementById('task');
  if (task) {
    var source = task.getAttribute('data-source');
    var poll = function () {
      fetch(source, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (body) {
          if (body && body.html !== task.getAttribute('data-html')) {
            task.setAttribute('data-html', body.html);
            task.innerHTML = body.html;
          }
          if (!body || !body.done) setTimeout(poll, 1000);
        })
        .catch(function () {
          setTimeout(poll, 3000);
        });
    };
    setTimeout(poll, 1000);
  }
  var figures = document.getElementById('figures');
  if (!figures || !window.uPlot) return;
  var data = JSON.parse(figures.textContent);
  var days = data.map(function (d) {
    return Date.parse(d.day + 'T12:00:00Z') / 1000;
  });
  var width = function (el) {
    return Math.max(260, el.clientWidth - 8);
  };
  var draw = function (id, series, values) {
    var el = document.getElementById(id);
    if (!el) return;
    new window.uPlot(
      { width: width(el), height: 180, series: [{}].concat(series), axes: [{}, {}] },
      [days].concat(values),
      el,
    );
  };
  draw(
    'chart-purchases',
    [{ label: 'purchases', stroke: '#1f5fbf', width: 2, points: { show: true } }],
    [
      data.map(function (d) {
        return d.purchases;
      }),
    ],
  );
  draw(
    'chart-live',
    [
      { label: 'p50 s', stroke: '#17692f', width: 2, points: { show: true } },
      { label: 'p95 s', stroke: '#a61b1b', width: 2, dash: [6, 4], points: { show: true } },
    ],
    [
      data.map(function (d) {
        return d.liveP50Seconds;
      }),
      data.map(function (d) {
        return d.liveP95Seconds;
      }),
    ],
  );
  draw(
    'chart-rings',
    [{ label: 'passed %', stroke: '#1d2430', width: 2, points: { show: true } }],
    [
      data.map(function (d) {
        return d.rings ? Math.round((100 * d.ringsOk) / d.rings) : null;
      }),
    ],
  );
})();
