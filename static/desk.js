// The staff console's own script (issue 12, point 4): keeps the reply being written as a draft
// on the server every few seconds. Every page works without it; the 下書き保存 button does the
// same by hand. Loaded from /static/ under the CSP: no inline script anywhere.
"use strict";
(function () {
  var form = document.getElementById("reply-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var field = form.querySelector("textarea[name=body]");
  var token = form.querySelector("input[name=csrf]");
  var status = document.getElementById("draft-status");
  var url = form.getAttribute("data-draft-url");
  if (!field || !token || !status || !url) {
    return;
  }
  var kept = field.value;
  var busy = false;
  function now() {
    var d = new Date();
    return d.getHours() + "時" + String(d.getMinutes()).padStart(2, "0") + "分";
  }
  function save() {
    var text = field.value;
    if (busy || text === kept) {
      return;
    }
    busy = true;
    var body = new URLSearchParams();
    body.set("csrf", token.value);
    body.set("body", text);
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) {
        if (r.ok) {
          kept = text;
          status.textContent = "下書きを自動で保存しました（" + now() + "）。";
        } else {
          status.textContent = "下書きを自動で保存できませんでした。「下書き保存」を押してください。";
        }
      })
      .catch(function () {
        status.textContent = "下書きを自動で保存できませんでした。「下書き保存」を押してください。";
      })
      .then(function () {
        busy = false;
      });
  }
  var timer = window.setInterval(save, 5000);
  // Once the reply is sent the server drops its draft; a late save must not bring it back.
  form.addEventListener("submit", function () {
    window.clearInterval(timer);
  });
})();
