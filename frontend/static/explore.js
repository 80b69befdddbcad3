// The dataset page's table explorer: filters, sorts and pages the preview
// through the records API (the open variant, read as anyone reads it).
// Without JavaScript the page keeps its static preview; the explorer's
// controls are hidden until this runs.
(function () {
  "use strict";
  var box = document.getElementById("explorer");
  var table = document.getElementById("explore-table");
  if (!box || !table || !window.fetch) return;
  var section = box.parentNode;
  var form = box.querySelector(".explore-form");
  var expr = document.getElementById("explore-expr");
  var errorBox = box.querySelector(".explore-error");
  var filterRow = table.querySelector("tr.explore-filters");
  var pager = section.querySelector(".explore-pager");
  var status = section.querySelector(".explore-status");
  var prev = pager.querySelector("[data-page=prev]");
  var next = pager.querySelector("[data-page=next]");
  var tbody = table.tBodies[0];
  var inputs = Array.prototype.slice.call(filterRow.querySelectorAll("input[data-col]"));
  var sorts = Array.prototype.slice.call(filterRow.querySelectorAll("button.sort"));
  var columns = inputs.map(function (i) { return i.dataset.col; });
  var size = parseInt(box.dataset.pageSize, 10) || 20;
  var state = { offset: 0, sortCol: "", desc: false, seq: 0 };

  function msg(name, params) {
    var s = box.dataset["msg" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  function ident(name) { return '"' + name.replace(/"/g, '""') + '"'; }
  function literal(v) { return "'" + v.replace(/'/g, "''") + "'"; }

  // condition turns what a reader typed under a column into the API's
  // filter syntax: text "contains", numbers and dates a comparison.
  function condition(input) {
    var v = input.value.trim();
    if (!v) return "";
    var kind = input.dataset.kind;
    var ops = [[">=", "ge"], ["<=", "le"], ["!=", "ne"], ["<>", "ne"], [">", "gt"], ["<", "lt"], ["=", "eq"]];
    var op = kind === "text" ? "contains" : "eq";
    for (var i = 0; i < ops.length; i++) {
      if (v.indexOf(ops[i][0]) === 0) {
        op = ops[i][1];
        v = v.slice(ops[i][0].length).trim();
        break;
      }
    }
    return ident(input.dataset.col) + " " + op + " " + literal(v);
  }

  function filter() {
    var parts = inputs.map(condition).filter(Boolean);
    var own = expr.value.trim();
    if (own) parts.push(parts.length ? "(" + own + ")" : own);
    return parts.join(" and ");
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  // apiError is what the API said, in the reader's language: its message
  // and what it says of each parameter.
  function apiError(body) {
    var e = body && body.error;
    if (!e) return msg("failed");
    var out = [e.message];
    if (e.detail) out.push(e.detail);
    Object.keys(e.fields || {}).forEach(function (k) { out.push(e.fields[k]); });
    return out.filter(Boolean).join("：");
  }

  function render(page) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    (page.records || []).forEach(function (rec) {
      var tr = document.createElement("tr");
      columns.forEach(function (c) {
        var td = document.createElement("td");
        var v = rec[c];
        td.textContent = v === null || v === undefined ? "" : String(v);
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    var total = typeof page.count === "number" ? page.count : state.offset + page.returned;
    if (!page.returned) {
      status.textContent = msg("none");
    } else {
      status.textContent = msg("range", { from: state.offset + 1, to: state.offset + page.returned, total: total });
    }
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + page.returned >= total;
  }

  function load() {
    var q = new URLSearchParams();
    q.set("limit", String(size));
    q.set("offset", String(state.offset));
    q.set("count", "true");
    var f = filter();
    if (f) q.set("filter", f);
    if (state.sortCol) q.set("sort", (state.desc ? "-" : "") + state.sortCol);
    var seq = ++state.seq;
    status.textContent = msg("loading");
    table.setAttribute("aria-busy", "true");
    // Read as anyone reads open data: no cookie, so a signed-in member of
    // staff sees what the public sees; the errors in the page's language.
    fetch(box.dataset.endpoint + "?" + q.toString(), { credentials: "omit", headers: { "Accept": "application/json", "Accept-Language": box.dataset.lang } })
      .then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, body: body }; }, function () { return { ok: false, body: null }; });
      })
      .then(function (r) {
        if (seq !== state.seq) return;
        table.removeAttribute("aria-busy");
        if (!r.ok) {
          showError(apiError(r.body));
          status.textContent = "";
          return;
        }
        showError("");
        render(r.body);
      }, function () {
        if (seq !== state.seq) return;
        table.removeAttribute("aria-busy");
        showError(msg("failed"));
        status.textContent = "";
      });
  }

  function markSorts() {
    sorts.forEach(function (b) {
      var on = b.dataset.col === state.sortCol;
      b.textContent = on ? (state.desc ? "↓" : "↑") : "↕";
      b.setAttribute("aria-pressed", on ? "true" : "false");
      var th = table.tHead.rows[0].cells[columns.indexOf(b.dataset.col)];
      if (th) {
        if (on) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      }
      b.title = b.getAttribute("aria-label") + (on ? " · " + msg(state.desc ? "desc" : "asc") : "");
    });
  }

  sorts.forEach(function (b) {
    b.addEventListener("click", function () {
      // none → ascending → descending → none
      if (state.sortCol !== b.dataset.col) {
        state.sortCol = b.dataset.col;
        state.desc = false;
      } else if (!state.desc) {
        state.desc = true;
      } else {
        state.sortCol = "";
      }
      state.offset = 0;
      markSorts();
      load();
    });
  });
  inputs.forEach(function (i) {
    i.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        state.offset = 0;
        load();
      }
    });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.offset = 0;
    load();
  });
  form.addEventListener("reset", function () {
    inputs.forEach(function (i) { i.value = ""; });
    state.offset = 0;
    state.sortCol = "";
    markSorts();
    setTimeout(load, 0);
  });
  prev.addEventListener("click", function () {
    state.offset = Math.max(0, state.offset - size);
    load();
  });
  next.addEventListener("click", function () {
    state.offset += size;
    load();
  });

  box.hidden = false;
  filterRow.hidden = false;
  pager.hidden = false;
  markSorts();
  load();
})();
