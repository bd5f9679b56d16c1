/*
 * Ostiary dashboard: copy buttons, the only script. Served from 'self' (the CSP allows no inline
 * script). A button with data-copy="ID" copies the value (or text) of the element with that id,
 * shows "Copied" for a moment and announces it through the page's polite live region. Without
 * this script the buttons stay hidden and the values can still be selected and copied by hand.
 */
(function () {
  "use strict";

  var status = document.getElementById("copy-status");

  function announce(button, text) {
    var label = button.querySelector(".copy-label");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
    if (label) {
      label.textContent = text;
      window.clearTimeout(button.copyTimer);
      button.copyTimer = window.setTimeout(function () { label.textContent = "Copy"; }, 2000);
    }
  }

  function fallback(target, button) {
    // Old browsers and plain-http hosts without the async clipboard: select and copy.
    if (typeof target.select === "function") {
      target.select();
      if (document.execCommand && document.execCommand("copy")) {
        announce(button, "Copied");
        return;
      }
    }
    announce(button, "Press Ctrl+C to copy");
  }

  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var value = "value" in target ? target.value : target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(
          function () { announce(button, "Copied"); },
          function () { fallback(target, button); }
        );
      } else {
        fallback(target, button);
      }
    });
  });
})();
