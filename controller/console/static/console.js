// deskside console: live run output and keyboard navigation. No inline scripts (CSP).
"use strict";

function followRun(pre) {
  if (pre.dataset.following) return;
  pre.dataset.following = "1";
  const card = pre.closest("article.run");
  const events = new EventSource(pre.dataset.runEvents);
  events.addEventListener("output", (event) => {
    pre.textContent += JSON.parse(event.data).text;
  });
  events.addEventListener("run", (event) => {
    const badge = card && card.querySelector("[data-testid=run-state]");
    if (badge) badge.textContent = JSON.parse(event.data).state;
  });
  events.addEventListener("end", () => {
    events.close();
    htmx.ajax("GET", pre.dataset.runCard, { target: "#" + card.id, swap: "outerHTML" });
  });
  events.onerror = () => {
    events.close();
    setTimeout(() => {
      if (document.body.contains(pre)) {
        htmx.ajax("GET", pre.dataset.runCard, { target: "#" + card.id, swap: "outerHTML" });
      }
    }, 2000);
  };
}

function moveIn(list, step) {
  const rows = Array.from(list.querySelectorAll("tbody tr"));
  if (!rows.length) return;
  const current = rows.findIndex((row) => row.classList.contains("selected"));
  const next = Math.min(Math.max(current + step, 0), rows.length - 1);
  rows.forEach((row) => row.classList.remove("selected"));
  rows[next].classList.add("selected");
  const link = rows[next].querySelector("a");
  if (link) link.focus();
}

document.addEventListener("keydown", (event) => {
  const tag = event.target.tagName;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
  const list = document.querySelector("[data-keyboard-list]");
  if (event.key === "j" && list) { moveIn(list, 1); event.preventDefault(); }
  else if (event.key === "k" && list) { moveIn(list, -1); event.preventDefault(); }
  else if (event.key === "/") {
    const field = document.querySelector("[role=search] input:not([type=hidden]), [role=search] select");
    if (field) { field.focus(); event.preventDefault(); }
  }
});

document.addEventListener("htmx:load", (event) => {
  event.detail.elt.querySelectorAll("[data-run-events]").forEach(followRun);
  if (event.detail.elt.matches && event.detail.elt.matches("[data-run-events]")) followRun(event.detail.elt);
});
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-run-events]").forEach(followRun);
});
