// The hub console's only script, and nothing depends on it: every form works without it.
// It does three small things: live progress of queued/running runs (polling the run's JSON
// twin), a confirmation before forms marked data-confirm, and "Add a row" without a reload.
(function () {
  "use strict";

  function text(el, value) { if (el) { el.textContent = value; } }

  function seconds(value) {
    if (value === null || value === undefined) { return "—"; }
    if (value < 60) { return value.toFixed(1) + " s"; }
    var minutes = Math.floor(value / 60);
    return minutes + " min " + Math.floor(value % 60) + " s";
  }

  function render(el, run) {
    var badge = el.querySelector("[data-field=state] .badge");
    if (badge) {
      badge.textContent = run.state;
      badge.className = "badge state-" + run.state;
    }
    var progress = el.querySelector("[data-field=progress]");
    if (progress) {
      var p = run.progress || {};
      progress.textContent = "";
      if (run.state === "running") {
        if (p.total) {
          var bar = document.createElement("progress");
          bar.max = p.total; bar.value = p.done; bar.textContent = p.done + " / " + p.total;
          progress.appendChild(bar);
          progress.appendChild(document.createTextNode(" " + p.done + " / " + p.total));
        } else {
          progress.textContent = (p.done || 0) + " done";
        }
      }
    }
    text(el.querySelector("[data-field=duration]"), seconds(run.duration_seconds));
    var counts = el.querySelector("[data-field=counts]");
    if (counts && run.counts) {
      text(counts, Object.keys(run.counts).map(function (k) { return k + "=" + run.counts[k]; }).join(", "));
    }
  }

  function poll(el) {
    var url = el.getAttribute("data-run-poll");
    var finished = ["succeeded", "partial", "failed", "skipped"];
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (run) {
          render(el, run);
          if (finished.indexOf(run.state) >= 0) {
            el.removeAttribute("data-run-poll");
            if (el.hasAttribute("data-reload-when-done")) { window.location.reload(); }
            return;
          }
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, 700);
  }

  function renumber(row, from, to) {
    row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (node) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var value = node.getAttribute(attr);
        if (value) { node.setAttribute(attr, value.split("." + from + ".").join("." + to + ".").split("-" + from + "-").join("-" + to + "-")); }
      });
    });
    row.querySelectorAll("[aria-label]").forEach(function (node) {
      node.setAttribute("aria-label", node.getAttribute("aria-label").replace(/row \d+/, "row " + (to + 1)));
    });
  }

  function addRow(button, event) {
    var fieldset = button.closest("[data-table]");
    if (!fieldset) { return; }
    var rows = fieldset.querySelectorAll("tbody tr[data-new-row]");
    var template = rows[rows.length - 1];
    var counter = fieldset.querySelector("input[name$='._rows']");
    if (!template || !counter) { return; }
    event.preventDefault();
    var count = parseInt(counter.value, 10);
    var from = count - 1;
    var copy = template.cloneNode(true);
    renumber(copy, from, count);
    copy.querySelectorAll("input[type=text], input[type=number], textarea").forEach(function (i) { i.value = ""; });
    copy.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
    template.parentNode.appendChild(copy);
    counter.value = String(count + 1);
    var first = copy.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-run-poll]").forEach(poll);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
    document.querySelectorAll("button.add-row").forEach(function (button) {
      button.addEventListener("click", function (event) { addRow(button, event); });
    });
  });
})();
