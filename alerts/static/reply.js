// The reply composer on the item page: a live character counter, saved replies picked with "/", sending
// without losing the text on a refusal. The server's count is the authority (POST /items/ID/reply/count);
// the count shown while typing mirrors its rules (X: links 23, CJK and emoji 2; elsewhere characters).
(function () {
  "use strict";

  var URL_RE = /https?:\/\/[^\s<>"]+/g;

  // twitter-text v3 weights: these ranges count 1, every other code point 2.
  function xWeight(cp) {
    return (cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247)) ? 1 : 2;
  }

  function localLength(text, source) {
    if (source !== "x") { return Array.from(text).length; }
    var n = 0;
    var rest = text.replace(URL_RE, function () { n += 23; return ""; });
    Array.from(rest).forEach(function (ch) {
      var cp = ch.codePointAt(0);
      if (cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) { return; }  // joiners and variation selectors
      n += xWeight(cp);
    });
    return n;
  }

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var composer = document.getElementById("composer");
    var form = document.getElementById("reply-form");
    if (!composer || !form) { return; }
    var itemId = composer.getAttribute("data-item");
    var text = document.getElementById("reply-text");
    var to = document.getElementById("reply-to");
    var counter = document.getElementById("reply-count");
    var send = document.getElementById("do-send");
    var error = document.getElementById("reply-error");
    var saved = document.getElementById("reply-saved");
    var picker = document.getElementById("saved-picker");
    var filter = document.getElementById("saved-filter");
    var csrf = form.querySelector("input[name=csrf_token]").value;
    var pending = null;

    function option() { return to.options[to.selectedIndex]; }

    function show(length, limit) {
      var left = limit - length;
      counter.textContent = length + " / " + limit + (left < 0 ? " (" + (-left) + " over)" : "");
      counter.classList.toggle("over", left < 0);
      counter.classList.toggle("near", left >= 0 && left < 20);
      send.disabled = left < 0 || !text.value.trim();
    }

    function recount() {
      var opt = option();
      var limit = parseInt(opt.getAttribute("data-limit"), 10) || 0;
      show(localLength(text.value.trim(), opt.getAttribute("data-source")), limit);
      clearTimeout(pending);
      pending = setTimeout(function () {
        var body = new URLSearchParams({ csrf_token: csrf, text: text.value, mention_id: opt.value });
        fetch("/items/" + encodeURIComponent(itemId) + "/reply/count", {
          method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
        }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (data && option() === opt) { show(data.length, data.limit); counter.setAttribute("data-server", data.length); }
          }).catch(function () {});
      }, 250);
    }

    text.addEventListener("input", function () { if (!text.value) { saved.value = ""; } recount(); });
    to.addEventListener("change", recount);
    recount();

    // Saved replies: "/" opens a filterable list; Enter picks the first match, arrows move, Esc closes.
    function visible() {
      return Array.prototype.filter.call(picker.querySelectorAll("button.saved"), function (b) {
        return !b.parentNode.hidden;
      });
    }
    function openPicker() {
      if (!picker) { return; }
      picker.hidden = false;
      filter.value = "";
      filterList();
      filter.focus();
    }
    function closePicker(focusText) { picker.hidden = true; if (focusText) { text.focus(); } }
    function filterList() {
      var q = filter.value.toLowerCase();
      picker.querySelectorAll("li").forEach(function (li) {
        li.hidden = q && li.textContent.toLowerCase().indexOf(q) < 0;
      });
    }
    function pick(button) {
      text.value = button.getAttribute("data-text");
      saved.value = button.getAttribute("data-name");
      closePicker(true);
      recount();
    }
    if (picker) {
      filter.addEventListener("input", filterList);
      filter.addEventListener("keydown", function (e) {
        var items = visible();
        if (e.key === "Enter") { e.preventDefault(); if (items.length) { pick(items[0]); } }
        else if (e.key === "Escape") { e.preventDefault(); closePicker(true); }
        else if (e.key === "ArrowDown" && items.length) { e.preventDefault(); items[0].focus(); }
      });
      picker.addEventListener("keydown", function (e) {
        if (e.target === filter) { return; }
        var items = visible();
        var i = items.indexOf(e.target);
        if (e.key === "ArrowDown" && i < items.length - 1) { e.preventDefault(); items[i + 1].focus(); }
        else if (e.key === "ArrowUp") { e.preventDefault(); (i > 0 ? items[i - 1] : filter).focus(); }
        else if (e.key === "Escape") { e.preventDefault(); closePicker(true); }
      });
      picker.querySelectorAll("button.saved").forEach(function (b) {
        b.addEventListener("click", function () { pick(b); });
      });
      var opener = document.getElementById("saved-open");
      if (opener) { opener.addEventListener("click", openPicker); }
    }

    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) {
        if (e.target === text && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); if (!send.disabled) { form.requestSubmit(); } }
        return;
      }
      // In the empty composer, "/" opens the list too (Slack and Intercom work the same way).
      if (e.target === text && e.key === "/" && !text.value && picker) { e.preventDefault(); openPicker(); return; }
      if (typing(e)) { return; }
      if (e.key === "/" && picker) { e.preventDefault(); openPicker(); }
      else if (e.key === "a") { e.preventDefault(); text.focus(); }
    });

    // Send without a page load first, so a refusal keeps the text; then reload to show the outcome.
    form.addEventListener("submit", function (e) {
      if (!window.fetch) { return; }
      e.preventDefault();
      send.disabled = true;
      send.textContent = "Sending…";
      error.hidden = true;
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                           headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().catch(function () { return { ok: false, message: "The server did not answer (" + r.status + ")." }; }); })
        .then(function (data) {
          if (data.ok || data.reply) { window.location.reload(); return; }
          error.textContent = data.message;  // textContent: never parsed as HTML
          error.hidden = false;
          send.textContent = "Send";
          recount();
        })
        .catch(function () {
          error.textContent = "Could not reach overheard; the reply was not sent from here. Check the list below before sending again.";
          error.hidden = false;
          send.textContent = "Send";
          recount();
        });
    });
  });
})();
