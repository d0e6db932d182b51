// Keyboard triage and small page behaviours. Loaded as a static file: the CSP allows no
// inline script, so nothing in the templates runs code on its own.
//
// Keys act on the row that holds the focus (j/k move the focus itself, and aria-current
// with it); a live region says what each action did. Enter belongs to whatever has the
// focus: it opens a paper only on a focused row, so links and buttons keep their own.
// Single-key shortcuts can be turned off (WCAG 2.1.4), in the keys dialog.
(function () {
  "use strict";

  var selected = -1;
  var pendingG = false;
  // The papers acted on in this page, latest last: u undoes the latest wherever the focus is.
  var acted = [];
  // A row whose e came before its rating: typed letters wait (they would skip, propose...),
  // a digit rates the row and opens its note, Esc gives up.
  var notePending = null;
  var noteAfter = null;
  // Set just before htmx swaps: whether the focus was in the swapped row, and what it was.
  var swap = null;

  // The inbox's rows, or the search page's results: j/k move, o opens, in either list.
  var ROW = "[data-keyboard-list] .paper-row, [data-keyboard-list] > li[data-open]";
  var STORE = "paper-tracker:shortcuts";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(ROW));
  }

  function shortcutsOn() {
    try {
      return window.localStorage.getItem(STORE) !== "off";
    } catch (error) {
      return true; // storage refused (private mode): keep the default
    }
  }

  function setShortcuts(on) {
    try {
      window.localStorage.setItem(STORE, on ? "on" : "off");
    } catch (error) {
      // Without storage the choice lasts as long as the page.
    }
    document.documentElement.classList.toggle("shortcuts-off", !on);
    announce(on ? "Single-key shortcuts on." : "Single-key shortcuts off.");
  }

  function announce(text) {
    var region = document.getElementById("announce");
    if (!region) return;
    // A new text node each time, so that the same words twice are read twice.
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 30);
  }

  // The selected row is the one in the tab order (tabindex 0) and marked aria-current.
  function select(index, focus) {
    var all = rows();
    if (!all.length) return null;
    selected = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (row, i) {
      var on = i === selected;
      row.classList.toggle("selected", on);
      row.setAttribute("tabindex", on ? "0" : "-1");
      if (on) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
    var row = all[selected];
    if (focus) row.focus({ preventScroll: true });
    if (focus !== false) row.scrollIntoView({ block: "nearest" });
    return row;
  }

  function rowOf(element) {
    return element && element.closest ? element.closest(ROW) : null;
  }

  // The row a key acts on: the one holding the focus; with the focus on nothing in
  // particular (the page, the list), the selected one. Elsewhere (the nav, the filters)
  // row keys do nothing, so a key never acts on a row the person is not looking at.
  function targetRow() {
    var active = document.activeElement;
    var row = rowOf(active);
    if (row) return row;
    var list = document.querySelector("[data-keyboard-list]");
    if (!active || active === document.body || (list && list.contains(active))) {
      var all = rows();
      return selected >= 0 && selected < all.length ? all[selected] : null;
    }
    return null;
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

  // Where a row leads: a search result says so; an inbox row's title links there.
  function openOf(row) {
    var link = row.querySelector("a.title");
    return row.getAttribute("data-open") || (link && link.getAttribute("href"));
  }

  function titleOf(row) {
    var title = row.querySelector(".title, .result-title");
    return title ? title.textContent.trim() : "";
  }

  function helpDialog() {
    return document.getElementById("keys-help");
  }

  function toggleHelp(force) {
    var help = helpDialog();
    if (!help || typeof help.showModal !== "function") return;
    var open = force === undefined ? !help.open : force;
    if (open && !help.open) help.showModal();
    if (!open && help.open) help.close();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return (
      tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)
    );
  }

  function undoLast(row) {
    if (row && row.classList.contains("done") && press(row, "u")) return true;
    while (acted.length) {
      var last = document.getElementById("paper-" + acted.pop());
      if (last && last.classList.contains("done") && press(last, "u")) return true;
    }
    announce("Nothing to undo.");
    return false;
  }

  function toggleAbstract(row) {
    var lead = row.querySelector("[data-abstract]");
    if (!lead) return;
    var open = row.classList.toggle("expanded");
    lead.setAttribute("aria-expanded", open ? "true" : "false");
    announce(open ? "Abstract in full: " + lead.textContent : "Abstract folded.");
  }

  var GO = { i: "/inbox/", b: "/reproductions/", s: "/stats/" };

  document.addEventListener("keydown", function (event) {
    var help = helpDialog();
    if (help && help.open) {
      // Nothing fires behind the open dialog; the dialog itself closes on Esc.
      if (event.key === "?" && !typing(event.target)) {
        toggleHelp(false);
        event.preventDefault();
      }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) {
      // Out of a box and back to the keys (the search box, after a search); in a row, the
      // focus goes back to the row.
      var inRow = rowOf(event.target);
      event.target.blur();
      if (inRow) inRow.focus();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "Enter") {
      // Only a focused row itself opens on Enter; a link or a button inside keeps its own.
      if (event.target.matches && event.target.matches(ROW)) {
        window.location.href = openOf(event.target);
        event.preventDefault();
      }
      return;
    }
    if (!shortcutsOn()) return;
    if (notePending) {
      var pending = notePending;
      if (key === "Escape") {
        notePending = null;
        announce("No note.");
        event.preventDefault();
        return;
      }
      if (/^[1-5]$/.test(key) && document.body.contains(pending)) {
        notePending = null;
        noteAfter = pending.id;
        press(pending, key);
        event.preventDefault();
        return;
      }
      if (key.length === 1) {
        toast("A note needs a rating first: press 1–5 to rate, then write it (Esc: no note).");
        event.preventDefault();
        return;
      }
      notePending = null; // Tab, the arrows...: on to something else
    }
    if (pendingG) {
      pendingG = false;
      if (GO[key]) {
        window.location.href = GO[key];
        event.preventDefault();
      }
      return;
    }
    if (key === "?") {
      toggleHelp(true);
      event.preventDefault();
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
    if (key === "j" || key === "k") {
      var from = rowOf(document.activeElement);
      var index = from ? rows().indexOf(from) : selected;
      var moved = select(key === "j" ? index + 1 : Math.max(index - 1, 0), true);
      if (moved) announce(titleOf(moved));
      event.preventDefault();
      return;
    }
    var row = targetRow();
    if (!row) return;
    if (key === "o") {
      window.location.href = openOf(row);
      event.preventDefault();
      return;
    }
    if (key === "u") {
      undoLast(row);
      event.preventDefault();
      return;
    }
    if (key === "x") {
      toggleAbstract(row);
      event.preventDefault();
      return;
    }
    if (key === "e") {
      // A note explains a rating: on a row not rated yet there is nothing to explain, and
      // the text typed next must not land on the keys (s would skip, r propose...).
      if (!press(row, "e")) {
        notePending = row;
        announce("A note needs a rating first: press 1 to 5 to rate, then write it.");
        toast("A note needs a rating first: press 1–5 to rate, then write it (Esc: no note).");
      }
      event.preventDefault();
      return;
    }
    if (/^[1-5]$/.test(key) || key === "s" || key === "d") {
      if (press(row, key)) {
        // The row is replaced in place and the focus moves on to the next paper. (The click
        // on its button put the row on the list of acted rows, for u.)
        select(rows().indexOf(row) + 1, true);
        event.preventDefault();
      }
      return;
    }
    if (key === "r" && press(row, "r")) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && target.closest("[data-keys-toggle]")) {
      toggleHelp(true);
      return;
    }
    // A click on the backdrop (the dialog element itself, outside its box) closes it.
    if (target.id === "keys-help") toggleHelp(false);
    var row = rowOf(target);
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0) select(index, false);
      if (target.closest("[data-key]")) acted.push(row.id.replace("paper-", ""));
    }
  });

  // Tab into a row (or into one of its buttons): it becomes the selected row.
  document.addEventListener("focusin", function (event) {
    var row = rowOf(event.target);
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0 && index !== selected) select(index, false);
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "shortcuts-on") setShortcuts(event.target.checked);
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

  // The counts in the heading: rows on the page still to triage, and all still to triage.
  function count(name, value) {
    var element = document.querySelector('[data-count="' + name + '"]');
    if (!element) return 0;
    if (value !== undefined) element.textContent = String(value);
    return parseInt(element.textContent, 10) || 0;
  }

  function recount(change, row) {
    count("shown", document.querySelectorAll(".paper-row:not(.done)").length);
    if (!change) return;
    count("total", Math.max(0, count("total") + change));
    var group = row && row.closest(".topic-group");
    var label = group && group.querySelector("h2 .muted");
    if (label) label.textContent = String(Math.max(0, (parseInt(label.textContent, 10) || 0) + change));
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    swap = {
      id: target.id,
      focused: !!(active && target.contains(active)),
      wasDone: target.classList.contains("done"),
      loadMore: target.id === "load-more",
      before: rows().length,
    };
  });

  document.addEventListener("htmx:afterSettle", function () {
    var last = swap;
    swap = null;
    if (!last) return;
    if (last.loadMore) {
      // The next page is in: the server's fresh count, and the focus on its first row.
      var pages = document.querySelectorAll(".inbox-page");
      var page = pages[pages.length - 1];
      if (page) count("total", page.getAttribute("data-total"));
      recount(0);
      var added = rows().length - last.before;
      if (added > 0) select(last.before, true);
      announce(added + " more papers loaded.");
      return;
    }
    var row = last.id ? document.getElementById(last.id) : null;
    if (!row || !row.matches(ROW)) return;
    var isDone = row.classList.contains("done");
    if (!last.wasDone && isDone) recount(-1, row);
    else if (last.wasDone && !isDone) recount(1, row);
    var status = row.querySelector(".done-label");
    announce(isDone && status ? status.textContent + ": " + titleOf(row) : "Back to triage: " + titleOf(row));
    // The swapped row is a new element: the focus that was in it stays on it; a rating
    // asked for by a note (e before the digit) opens the note.
    var active = document.activeElement;
    var note = row.querySelector('[data-key="e"]');
    if (noteAfter === row.id && note) {
      noteAfter = null;
      note.focus();
    } else if (last.focused && (!active || active === document.body)) {
      row.focus({ preventScroll: true });
    }
    var index = rows().indexOf(row);
    if (index === selected) select(selected, false);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var on = shortcutsOn();
    document.documentElement.classList.toggle("shortcuts-off", !on);
    var toggle = document.getElementById("shortcuts-on");
    if (toggle) toggle.checked = on;
    if (document.querySelector("[data-keyboard-list]") && rows().length) select(0, false);
  });
})();
