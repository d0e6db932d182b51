// Draws the topics map on a canvas from the JSON endpoint, with pan and zoom. Titles are
// shown with textContent only, never as HTML, because they are untrusted text from arXiv
// and feeds.
(function () {
  "use strict";
  var canvas = document.getElementById("paper-map");
  if (!canvas) return;
  var tip = document.getElementById("map-tip");
  var legend = document.getElementById("map-legend");
  var ctx = canvas.getContext("2d");
  var pad = 24, points = [], topics = [], colours = {};
  var hits = {}, followed = {}, highlighting = false;
  // The view: screen = base position * scale + offset.
  var scale = 1, ox = 0, oy = 0;
  var MAX_LABEL = 40, GAP = 3;
  // The labels drawn last, as boxes in canvas pixels (read by the hover and by tests).
  var placed = [];

  function colour(i) {
    var hue = (i * 137.508) % 360;
    return "hsl(" + hue.toFixed(0) + ", 62%, 48%)";
  }
  function bx(x) { return pad + x * (canvas.width - 2 * pad); }
  function by(y) { return pad + (1 - y) * (canvas.height - 2 * pad); }
  function sx(x) { return bx(x) * scale + ox; }
  function sy(y) { return by(y) * scale + oy; }

  function overlaps(a, b) {
    return a.x0 < b.x1 + GAP && b.x0 < a.x1 + GAP && a.y0 < b.y1 + GAP && b.y0 < a.y1 + GAP;
  }

  // Labels are placed largest topic first; one that would touch a label already placed
  // is tried above and below its point, then left out. Zooming in spreads the points, so
  // more labels find room.
  function placeLabels() {
    placed = [];
    ctx.font = "600 12px system-ui, sans-serif";
    var h = 14;
    topics.forEach(function (t) {
      if (t.x === null || t.y === null) return;
      var text = t.label.length > MAX_LABEL ? t.label.slice(0, MAX_LABEL - 2) + "\u2026" : t.label;
      var w = ctx.measureText(text).width + 6;
      var cx = sx(t.x), cy = sy(t.y);
      if (cx < -w || cx > canvas.width + w || cy < -h || cy > canvas.height + h) return;
      cx = Math.min(Math.max(cx, w / 2), canvas.width - w / 2);
      var shifts = [0, -h - 2, h + 2];
      for (var i = 0; i < shifts.length; i++) {
        var y = Math.min(Math.max(cy + shifts[i], h / 2), canvas.height - h / 2);
        var box = { x0: cx - w / 2, x1: cx + w / 2, y0: y - h / 2, y1: y + h / 2, text: text, topic: t };
        if (!placed.some(function (b) { return overlaps(b, box); })) {
          placed.push(box);
          return;
        }
      }
    });
  }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    var size = Math.max(2, Math.min(6, 3 * Math.sqrt(scale)));
    points.forEach(function (p) {
      var lit = hits[p.id] || followed[p.t];
      ctx.globalAlpha = highlighting ? (lit ? 1 : 0.15) : 0.7;
      ctx.fillStyle = colours[p.t] || "#999";
      var s = lit ? size + 3 : size;
      ctx.fillRect(sx(p.x) - s / 2, sy(p.y) - s / 2, s, s);
      if (hits[p.id]) {
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 1;
        ctx.strokeRect(sx(p.x) - s / 2 - 1, sy(p.y) - s / 2 - 1, s + 2, s + 2);
      }
    });
    ctx.globalAlpha = 1;
    placeLabels();
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    placed.forEach(function (b) {
      var x = (b.x0 + b.x1) / 2, y = (b.y0 + b.y1) / 2;
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.strokeText(b.text, x, y);
      ctx.fillStyle = followed[b.topic.id] ? "#8a3b00" : "#1d1d1f";
      ctx.fillText(b.text, x, y);
    });
    canvas.dataset.labels = JSON.stringify(placed.map(function (b) {
      return { text: b.text, x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 };
    }));
  }

  function canvasXY(evt) {
    var rect = canvas.getBoundingClientRect();
    return {
      x: (evt.clientX - rect.left) * (canvas.width / rect.width),
      y: (evt.clientY - rect.top) * (canvas.height / rect.height),
    };
  }

  function nearest(m) {
    var best = null, bestD = 64;
    points.forEach(function (p) {
      var dx = sx(p.x) - m.x, dy = sy(p.y) - m.y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = p; }
    });
    return best;
  }

  function labelAt(m) {
    for (var i = 0; i < placed.length; i++) {
      var b = placed[i];
      if (m.x >= b.x0 && m.x <= b.x1 && m.y >= b.y0 && m.y <= b.y1) return b;
    }
    return null;
  }

  function zoomAt(factor, m) {
    var next = Math.min(Math.max(scale * factor, 1), 40);
    factor = next / scale;
    ox = m.x - (m.x - ox) * factor;
    oy = m.y - (m.y - oy) * factor;
    scale = next;
    draw();
  }

  var drag = null;
  canvas.addEventListener("wheel", function (evt) {
    evt.preventDefault();
    zoomAt(evt.deltaY < 0 ? 1.25 : 0.8, canvasXY(evt));
  }, { passive: false });
  canvas.addEventListener("mousedown", function (evt) {
    drag = { m: canvasXY(evt), ox: ox, oy: oy, moved: false };
  });
  window.addEventListener("mouseup", function () { setTimeout(function () { drag = null; }, 0); });
  canvas.addEventListener("mousemove", function (evt) {
    var m = canvasXY(evt);
    if (drag && evt.buttons) {
      ox = drag.ox + m.x - drag.m.x;
      oy = drag.oy + m.y - drag.m.y;
      drag.moved = drag.moved || Math.abs(m.x - drag.m.x) + Math.abs(m.y - drag.m.y) > 3;
      tip.hidden = true;
      draw();
      return;
    }
    var label = labelAt(m);
    var p = label ? null : nearest(m);
    if (!label && !p) { tip.hidden = true; canvas.style.cursor = "grab"; return; }
    tip.textContent = label
      ? label.topic.label + " \u2014 most central: " + (label.topic.central || "\u2014")
      : p.title;
    tip.style.left = (evt.offsetX + 12) + "px";
    tip.style.top = (evt.offsetY + 12) + "px";
    tip.hidden = false;
    canvas.style.cursor = p ? "pointer" : "default";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (evt) {
    if (drag && drag.moved) return;
    var p = nearest(canvasXY(evt));
    if (p) window.location.href = canvas.dataset.paperUrl.replace(/0\/$/, p.id + "/");
  });
  document.querySelectorAll("[data-zoom]").forEach(function (button) {
    button.addEventListener("click", function () {
      var factor = parseFloat(button.dataset.zoom);
      if (!factor) { scale = 1; ox = 0; oy = 0; draw(); return; }
      zoomAt(factor, { x: canvas.width / 2, y: canvas.height / 2 });
    });
  });

  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      topics = data.topics;
      topics.forEach(function (t, i) { colours[t.id] = colour(i); });
      points = data.papers;
      data.hits.forEach(function (id) { hits[id] = true; });
      data.followed.forEach(function (id) { followed[id] = true; });
      highlighting = data.hits.length > 0 || data.followed.length > 0;
      if (legend) {
        var parts = [];
        if (data.hits.length) parts.push(data.hits.length + " matching papers outlined");
        if (data.followed.length) {
          parts.push("papers of " + (data.followed.length === 1 ? "the topic" : "the " + data.followed.length + " topics") + " you follow stand out");
        }
        legend.textContent = parts.join("; ");
      }
      draw();
      canvas.dataset.ready = "1";
    });
})();
