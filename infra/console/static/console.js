// Lighthouse console: refreshes every element with data-live from its URL
// once a second. No framework, no build.
//
// A reviewer must never approve a call they did not read, so a live list
// is not replaced while the pointer is over it or while a vote in it is
// being written (a reason typed, the pattern box ticked): that would move
// another card under the pointer or throw away what was written. When it
// is replaced, every vote button whose card is new or moved is disarmed
// for a moment, so a click already on its way lands on nothing.
(function () {
  "use strict";
  var ARM_MS = 1000;

  function writing(el) {
    var inputs = el.querySelectorAll("input");
    for (var i = 0; i < inputs.length; i++) {
      var x = inputs[i];
      if (x === document.activeElement || (x.type === "checkbox" ? x.checked : x.value !== "")) return true;
    }
    return false;
  }

  function busy(el) { return el.matches(":hover") || writing(el); }

  // positions maps each card's id to where it is on the page.
  function positions(el) {
    var out = {};
    el.querySelectorAll("[id]").forEach(function (c) { out[c.id] = c.getBoundingClientRect().top; });
    return out;
  }

  function disarmMoved(el, before) {
    el.querySelectorAll("[id]").forEach(function (c) {
      if (before[c.id] === c.getBoundingClientRect().top) return;
      var buttons = c.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      c.classList.add("arming");
      setTimeout(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        c.classList.remove("arming");
      }, ARM_MS);
    });
  }

  function refresh(el) {
    fetch(el.dataset.live, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || r.status === 401) { window.location = "/console/login?expired=1"; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null || html === el.dataset.last) { el.classList.remove("paused"); return; }
        if (busy(el)) { el.classList.add("paused"); return; } // again next tick
        el.classList.remove("paused");
        var before = positions(el);
        el.innerHTML = html;
        el.dataset.last = html;
        disarmMoved(el, before);
        ago();
      })
      .catch(function () { /* the reader is restarting: try again next tick */ });
  }

  // ago shows how long ago each time[data-ago] was, in the reader's clock
  // as the page sees it; the server's HTML keeps only the time itself, so
  // it does not change every second.
  function ago() {
    document.querySelectorAll("time[data-ago]").forEach(function (t) {
      var s = Math.max(0, Math.round((Date.now() - Date.parse(t.getAttribute("datetime"))) / 1000));
      var text = s < 60 ? s + " s ago" : s < 3600 ? Math.floor(s / 60) + " min ago" : Math.floor(s / 3600) + " h ago";
      t.textContent = text;
      t.title = t.getAttribute("datetime");
    });
  }

  function tick() { document.querySelectorAll("[data-live]").forEach(refresh); ago(); }
  ago();
  setInterval(tick, 1000);
})();
