// Small helpers for the queue pages: keyboard shortcuts, auto-submitting filters, who else has an item open.
// No inline script anywhere (the Content-Security-Policy forbids it): everything is wired up here.
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); return true; }
    return false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var help = document.getElementById("help");
    var toggle = document.getElementById("help-toggle");
    if (toggle && help) { toggle.addEventListener("click", function () { help.hidden = !help.hidden; }); }

    // Actions the list says need confirmation (Resolve, Dismiss: alerts.actions) ask first.
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });

    // Re-label menus: opening one closes the others (one small menu at a time on a phone).
    document.querySelectorAll("details.menu").forEach(function (d) {
      d.addEventListener("toggle", function () {
        if (!d.open) { return; }
        document.querySelectorAll("details.menu[open]").forEach(function (o) { if (o !== d) { o.open = false; } });
      });
    });

    // Filters apply as soon as a select changes.
    document.querySelectorAll("select.autosubmit").forEach(function (s) {
      s.addEventListener("change", function () { s.form.submit(); });
    });

    // List: j/k move the selection, Enter opens it.
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.item-row"));
    var current = -1;
    function select(i) {
      if (!rows.length) { return; }
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r, n) { r.classList.toggle("selected", n === current); });
      var link = rows[current].querySelector("a.item-link");
      if (link) { link.focus(); }
    }

    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (e.key === "Escape" && typing(e)) { e.target.blur(); return; }
      if (typing(e)) { return; }
      if (e.key === "?") { if (help) { help.hidden = !help.hidden; } return; }
      if (rows.length) {
        if (e.key === "j") { select(current + 1); e.preventDefault(); }
        else if (e.key === "k") { select(current - 1); e.preventDefault(); }
        else if (e.key === "x" && current >= 0) {
          var box = rows[current].querySelector("input.pick");
          if (box) { box.checked = !box.checked; }
        }
        else if (e.key === "/") { var s = document.getElementById("search"); if (s) { s.focus(); e.preventDefault(); } }
        return;
      }
      if (e.key === "c") { click("do-claim"); }
      else if (e.key === "n") { var n = document.getElementById("note-text"); if (n) { n.focus(); e.preventDefault(); } }
      else if (e.key === "r") { var o = document.getElementById("outcome"); if (o) { o.focus(); e.preventDefault(); } }
      else if (e.key === "u") { click("back"); }
    });

    // Item: poll who else has it open (this also keeps our own presence fresh for them).
    var item = document.getElementById("item");
    if (item && window.fetch) {
      var id = item.getAttribute("data-id");
      var me = item.getAttribute("data-user");
      var box = document.getElementById("collision");
      var viewers = document.getElementById("viewers");
      var poll = function () {
        fetch("/items/" + encodeURIComponent(id) + "/presence", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            if (!data) { return; }
            var text = data.viewers.length ? "Also open by: " + data.viewers.join(", ") : "";
            viewers.textContent = text;  // textContent: names are never parsed as HTML
            box.hidden = !text && !(data.assignee && data.assignee !== me);
          })
          .catch(function () {});
      };
      setInterval(poll, 20000);
    }

    startLive();
  });

  // Live inbox: changes from GET /events (server-sent events; a short poll where EventSource is missing).
  // Rows never move under the reader: changed rows update in place, new items wait behind a badge.
  function startLive() {
    var box = document.getElementById("live");
    if (!box || !window.fetch) { return; }
    var cursor = box.getAttribute("data-cursor") || "0";
    var page = box.getAttribute("data-page");
    var fresh = {};
    var badge = document.getElementById("new-items");
    var status = document.getElementById("live-status");
    if (badge) { badge.addEventListener("click", function () { window.location.reload(); }); }

    function setText(el, text) { if (el) { el.textContent = text; } }  // never parsed as HTML

    function onList(c) {
      var row = document.querySelector('tr.item-row[data-id="' + String(c.item_id) + '"]');
      if (!row) {
        if (c.action === "created" && !fresh[c.item_id]) {
          fresh[c.item_id] = true;
          var n = Object.keys(fresh).length;
          badge.textContent = n + " new item" + (n === 1 ? "" : "s") + " — show";
          badge.hidden = false;
        }
        return;
      }
      setText(row.querySelector("td.state"), c.state);
      setText(row.querySelector("td.assignee"), c.assignee || "—");
      setText(row.querySelector("td.sla .sla-label"), c.sla);
      var reason = row.querySelector("td.sla .reason");
      if (reason) { reason.textContent = c.sla_reason; }
      row.classList.toggle("closed", c.state === "resolved" || c.state === "dismissed");
      row.classList.add("changed");
      row.setAttribute("data-state", c.state);
    }

    function onItem(c) {
      if (String(c.item_id) !== box.getAttribute("data-id")) { return; }
      setText(document.getElementById("state"), c.state);
      setText(document.getElementById("assignee"), c.assignee || "nobody");
      setText(document.getElementById("sla"), c.sla ? "SLA: " + c.sla : "");
      var first = document.getElementById("first-response");
      if (first && c.first_response) {
        setText(document.getElementById("first-response-at"), c.first_response);
        first.hidden = false;
      }
      var notice = document.getElementById("live-notice");
      setText(document.getElementById("live-text"), c.actor + ": " + (c.what || c.action) + " (now " + c.state +
        (c.assignee ? ", " + c.assignee : "") + ").");
      if (notice) { notice.hidden = false; }
    }

    // The state tabs' counts, as the server counted them under this list's filters (a `counts` event
    // after each batch of changes): never adjusted here, so they cannot drift from what a reload shows.
    function onCounts(counts) {
      if (!counts) { return; }
      Object.keys(counts).forEach(function (state) {
        var n = String(counts[state]);
        var tab = document.querySelector('nav.states a[data-state="' + state + '"] .count');
        if (tab) { tab.textContent = n; }
        document.querySelectorAll('[data-count="' + state + '"]').forEach(function (el) { el.textContent = n; });
      });
      if (counts.open !== undefined) { document.title = document.title.replace(/\(\d+ open\)/, "(" + counts.open + " open)"); }
    }

    // A list page's stream also carries its tab counts, counted under the same filters as the page.
    var query = "after=" + encodeURIComponent(cursor);
    if (page === "list") {
      var filters = new URLSearchParams(window.location.search);
      ["after", "format", "counts"].forEach(function (k) { filters.delete(k); });
      filters.set("counts", "1");
      query += "&" + filters.toString();
    }

    function apply(c) {
      cursor = String(c.id);
      if (page === "list") { onList(c); } else { onItem(c); }
    }

    function poll() {
      fetch("/events?format=json&" + query.replace(/^after=[^&]*/, "after=" + encodeURIComponent(cursor)),
            { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) { setText(status, "Your session has ended: reload to log in."); return null; }
          return r.ok ? r.json() : null;
        })
        .then(function (data) {
          if (!data) { return; }
          data.changes.forEach(apply);
          if (data.changes.length) { onCounts(data.counts); }
          cursor = String(data.cursor);
          setTimeout(poll, 5000);
        })
        .catch(function () { setTimeout(poll, 10000); });
    }

    if (!window.EventSource) { setTimeout(poll, 5000); return; }
    var source = new EventSource("/events?" + query);
    source.addEventListener("change", function (e) { apply(JSON.parse(e.data)); });
    source.addEventListener("counts", function (e) { onCounts(JSON.parse(e.data)); });
    source.addEventListener("hello", function () { box.setAttribute("data-live", "on"); });
    source.addEventListener("logout", function () { source.close(); setText(status, "Your session has ended: reload to log in."); });
    source.onerror = function () {
      // EventSource retries by itself; once it gives up (a login page instead of a stream), poll.
      if (source.readyState === 2) { box.setAttribute("data-live", "poll"); setTimeout(poll, 1000); }
    };
  }
})();
