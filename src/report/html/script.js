/* Sorts tables on a header click and filters their rows by a text box.
   Reads nothing but the page; a URL fragment can preset both:
   #sort=TABLE:COLUMN:asc|desc&filter=TABLE:TEXT */
(function () {
  "use strict";
  function rows(t) { return Array.prototype.slice.call(t.tBodies[0].rows); }
  function key(r, col) {
    var c = r.cells[col];
    if (!c) { return ""; }
    var v = c.getAttribute("data-v");
    return v === null ? c.textContent : v;
  }
  function num(s) { var n = parseFloat(s); return isNaN(n) ? -Infinity : n; }
  function sort(t, col, dir) {
    var head = t.tHead.rows[0].cells;
    if (col < 0 || col >= head.length) { return; }
    var numeric = head[col].getAttribute("data-type") === "num";
    var rs = rows(t);
    var pos = new Map();
    rs.forEach(function (r, i) { pos.set(r, i); });
    rs.sort(function (x, y) {
      var a = key(x, col), b = key(y, col), d;
      if (numeric) { a = num(a); b = num(b); }
      d = a < b ? -1 : a > b ? 1 : 0;
      if (dir === "desc") { d = -d; }
      return d || pos.get(x) - pos.get(y);
    });
    var body = t.tBodies[0];
    rs.forEach(function (r) { body.appendChild(r); });
    for (var i = 0; i < head.length; i++) { head[i].removeAttribute("aria-sort"); }
    head[col].setAttribute("aria-sort", dir === "desc" ? "descending" : "ascending");
  }
  function shown(t) {
    var n = rows(t).filter(function (r) { return !r.hidden; }).length;
    document.querySelectorAll("span.shown").forEach(function (s) {
      if (s.getAttribute("data-table") === t.id) {
        s.textContent = n + " of " + t.tBodies[0].rows.length + " rows shown";
      }
    });
  }
  function filter(t, q) {
    q = q.toLowerCase();
    rows(t).forEach(function (r) {
      r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
    });
    shown(t);
  }
  document.querySelectorAll("table.sortable").forEach(function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, col) {
      function go() {
        sort(t, col, th.getAttribute("aria-sort") === "ascending" ? "desc" : "asc");
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
      });
    });
    shown(t);
  });
  document.querySelectorAll("input.filter").forEach(function (box) {
    var t = document.getElementById(box.getAttribute("data-table"));
    if (t) { box.addEventListener("input", function () { filter(t, box.value); }); }
  });
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var eq = part.indexOf("=");
    if (eq < 0) { return; }
    var what = part.slice(0, eq), arg;
    try { arg = decodeURIComponent(part.slice(eq + 1)); } catch (e) { return; }
    var colon = arg.indexOf(":");
    var t = colon < 0 ? null : document.getElementById(arg.slice(0, colon));
    if (!t || !t.classList.contains("sortable")) { return; }
    var rest = arg.slice(colon + 1);
    if (what === "sort") {
      var p = rest.split(":");
      sort(t, parseInt(p[0], 10), p[1] === "desc" ? "desc" : "asc");
    } else if (what === "filter") {
      document.querySelectorAll("input.filter").forEach(function (box) {
        if (box.getAttribute("data-table") === t.id) { box.value = rest; }
      });
      filter(t, rest);
    }
  });
  document.body.setAttribute("data-ready", "1");
})();
