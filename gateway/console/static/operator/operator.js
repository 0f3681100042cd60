// The partners' page refreshes its table while it is open, so an operator sees a
// partner go down and come back without reloading. It can be paused (WCAG 2.2.2);
// without scripts the page has a plain "refresh now" link.
(function () {
  "use strict";
  var live = document.getElementById("partners-live");
  if (!live) { return; }
  var url = live.getAttribute("data-refresh");
  var seconds = Number(live.getAttribute("data-seconds")) || 5;
  var toggle = document.getElementById("refresh-toggle");
  var note = document.getElementById("refresh-note");
  var timer = null;
  var busy = false;

  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("refresh refused"); }
        return response.text();
      })
      .then(function (html) { live.innerHTML = html; })
      .catch(function () { /* keep the last table; the link still reloads */ })
      .then(function () { busy = false; });
  }

  function start() { timer = window.setInterval(refresh, seconds * 1000); }
  function stop() { window.clearInterval(timer); timer = null; }

  toggle.hidden = false;
  note.hidden = false;
  toggle.addEventListener("click", function () {
    if (timer === null) {
      start();
      refresh();
      toggle.textContent = toggle.getAttribute("data-pause");
    } else {
      stop();
      toggle.textContent = toggle.getAttribute("data-resume");
    }
  });
  start();
}());
