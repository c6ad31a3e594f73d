// The staff console's own script (issue 12, point 4): keeps the reply being written as a draft
// on the server every few seconds. Every page works without it; the 下書き保存 button does the
// same by hand. Loaded from /static/ under the CSP: no inline script anywhere.
"use strict";
// 挿入 puts the chosen text module into the reply without a round trip; without script the
// same button asks the server to. Not on the select's change: arrow keys change a closed select.
(function () {
  var select = document.getElementById("text-module");
  var field = document.getElementById("reply");
  var button = document.querySelector("button[name=action][value=insert]");
  var status = document.getElementById("draft-status");
  if (!select || !field || !button) {
    return;
  }
  button.addEventListener("click", function (event) {
    var option = select.options[select.selectedIndex];
    var text = option && option.getAttribute("data-text");
    if (!text) {
      return; // Nothing chosen: the server says so beside the field.
    }
    event.preventDefault();
    var before = field.value.replace(/\s+$/, "");
    field.value = before ? before + "\n\n" + text : text;
    select.selectedIndex = 0;
    if (status) {
      status.textContent = "定型文「" + option.textContent + "」を返信に入れました。";
    }
    field.focus();
  });
})();

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
    // A sign-in that has ended answers with a redirect to the sign-in page: not a save.
    fetch(url, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        if (r.type === "opaqueredirect") {
          status.textContent = "ログインの有効期限が切れたため、下書きを保存できませんでした。書いた内容をコピーしてから、ログインし直してください。";
        } else if (r.ok) {
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
