// Keyboard triage and small page behaviours. Loaded as a static file: the CSP allows no
// inline script, so nothing in the templates runs code on its own.
(function () {
  "use strict";

  var selected = -1;
  var pendingG = false;

  // The inbox's rows, or the search page's results: j/k move, o opens, in either list.
  var ROW = "[data-keyboard-list] .paper-row, [data-keyboard-list] > li[data-open]";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(ROW));
  }

  function select(index, scroll) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) {
      row.classList.toggle("selected", i === selected);
    });
    if (scroll !== false) {
      all[selected].scrollIntoView({ block: "nearest" });
    }
  }

  function current() {
    var all = rows();
    return selected >= 0 && selected < all.length ? all[selected] : null;
  }

  // A key's element: a text box gets the focus (to type in), anything else a click.
  function activate(element) {
    if (typing(element)) {
      element.focus();
    } else {
      element.click();
    }
  }

  function press(row, key) {
    var element = row.querySelector('[data-key="' + key + '"]');
    if (!element) return false;
    activate(element);
    return true;
  }

  function toggleHelp(force) {
    var help = document.getElementById("keys-help");
    if (!help) return;
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  function typing(target) {
    var tag = target && target.tagName;
    return (
      tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)
    );
  }

  var GO = { i: "/inbox/", b: "/reproductions/", s: "/stats/" };

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) {
      // Out of a box and back to the keys (the search box, after a search).
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (GO[key]) {
        window.location.href = GO[key];
        event.preventDefault();
      }
      return;
    }
    if (key === "?") {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (key === "Escape") {
      toggleHelp(false);
      return;
    }
    if (key === "/") {
      // Search from anywhere: the page's own box, else the search page (its box has focus).
      var box = document.querySelector('input[type="search"]');
      if (box) {
        box.focus();
        box.select();
      } else {
        window.location.href = "/search/";
      }
      event.preventDefault();
      return;
    }
    if (key === "g") {
      pendingG = true;
      return;
    }
    var list = document.querySelector("[data-keyboard-list]");
    if (!list) {
      // Outside the inbox, on a paper page: 1-5 rate it, r proposes reproducing it, c
      // opens a comment.
      var panel = document.querySelector(".rate-panel");
      if (panel && /^[1-5]$/.test(key)) {
        var b = panel.querySelector('button[data-key="' + key + '"]');
        if (b) {
          b.click();
          event.preventDefault();
        }
        return;
      }
      // A focused drafted claim takes its own keys (a accepts, x rejects) first.
      var draft = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest(".claim-draft")
        : null;
      if (draft && press(draft, key)) {
        event.preventDefault();
        return;
      }
      var action = document.querySelector('[data-page-key="' + key + '"]');
      if (action) {
        activate(action);
        event.preventDefault();
      }
      return;
    }
    if (key === "j" || key === "ArrowDown") {
      select(selected + 1);
      event.preventDefault();
      return;
    }
    if (key === "k" || key === "ArrowUp") {
      select(selected - 1);
      event.preventDefault();
      return;
    }
    var row = current();
    if (!row) return;
    if (key === "o" || key === "Enter") {
      window.location.href = row.getAttribute("data-open");
      event.preventDefault();
      return;
    }
    if (/^[1-5]$/.test(key) || key === "s") {
      if (press(row, key)) {
        // The row is replaced in place; the selection moves on to the next paper.
        select(selected + 1);
        event.preventDefault();
      }
      return;
    }
    if (key === "r" && press(row, "r")) {
      event.preventDefault();
      return;
    }
    // A rated or skipped row: u takes it back, and it is a row to triage again. A rated
    // row: e opens a note for the team on why (Enter keeps it, Esc leaves it).
    if ((key === "u" || key === "e") && press(row, key)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-keys-toggle]")) {
      toggleHelp();
      return;
    }
    if (target.id === "keys-help") toggleHelp(false);
    var row = target.closest && target.closest(ROW);
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0) select(index, false);
    }
  });

  // An action that fails (a refusal, a lost connection) says so instead of doing nothing.
  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.textContent = text;
    box.hidden = false;
    window.clearTimeout(box._timer);
    box._timer = window.setTimeout(function () {
      box.hidden = true;
    }, 4000);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = (xhr && xhr.responseText) || "";
    toast(xhr.status + ": " + (text.length < 200 ? text : "the action was refused."));
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Could not reach the server; nothing was saved.");
  });

  // A swapped-in row is a new element: give it back the selection mark.
  document.addEventListener("htmx:afterSettle", function () {
    if (selected >= 0) select(selected, false);
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-keyboard-list]") && rows().length) select(0, false);
  });
})();
