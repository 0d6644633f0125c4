// tenantsync console: progressive enhancement only. Every page works without this script.
"use strict";
(function () {
  // Live sync progress: poll the tenant's progress until the run is done, then reload.
  var box = document.getElementById("progress");
  if (box && box.dataset.url) {
    var textEl = document.getElementById("progress-text");
    var poll = function () {
      fetch(box.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (p) {
          textEl.textContent = p.message;
          box.dataset.state = p.state;
          if (p.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function (e) { textEl.textContent = "Progress unavailable (" + e.message + "): reload the page."; });
    };
    window.setTimeout(poll, 500);
  }
  // "Copy the fix": copy the named element's text to the clipboard.
  document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var src = document.getElementById(b.dataset.copy);
      if (!src || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(src.textContent).then(function () { b.textContent = "Copied"; });
    });
  });
})();
