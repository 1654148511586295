// Lighthouse console: refreshes every element with data-live from its URL
// once a second, unless someone is typing in it. No framework, no build.
(function () {
  "use strict";
  function refresh(el) {
    if (el.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return;
    fetch(el.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { window.location = "/console/login?expired=1"; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== el.dataset.last) { el.innerHTML = html; el.dataset.last = html; }
      })
      .catch(function () { /* the reader is restarting: try again next tick */ });
  }
  function tick() { document.querySelectorAll("[data-live]").forEach(refresh); }
  setInterval(tick, 1000);
})();
