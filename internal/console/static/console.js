// Inbound support console: the little script the pages use. Everything
// works without it; it adds the viewer's local time beside UTC times, copy
// buttons for secrets shown once, and a working "Go back" link.
(function () {
  "use strict";
  function localTimes() {
    var fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return;
    }
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      var span = document.createElement("span");
      span.className = "local";
      span.textContent = " (" + fmt.format(d) + " local)";
      el.after(span);
    });
  }
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var el = document.getElementById(btn.getAttribute("data-copy"));
        if (!el) return;
        navigator.clipboard.writeText(el.textContent).then(function () {
          btn.textContent = "Copied";
        }, function () {
          var r = document.createRange();
          r.selectNodeContents(el);
          var sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(r);
          btn.textContent = "Selected: press Ctrl+C";
        });
      });
    });
  }
  function backLinks() {
    document.querySelectorAll("a[data-back]").forEach(function (a) {
      a.addEventListener("click", function (e) {
        if (history.length > 1) {
          e.preventDefault();
          history.back();
        }
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    copyButtons();
    backLinks();
  });
})();
