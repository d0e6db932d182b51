// Draws the topics map on a canvas from the JSON endpoint. Titles are shown with
// textContent only, never as HTML, because they are untrusted text from arXiv and feeds.
(function () {
  "use strict";
  var canvas = document.getElementById("paper-map");
  if (!canvas) return;
  var tip = document.getElementById("map-tip");
  var ctx = canvas.getContext("2d");
  var pad = 24, points = [], topics = [], colours = {};

  function colour(i) {
    var hue = (i * 137.508) % 360;
    return "hsl(" + hue.toFixed(0) + ", 62%, 48%)";
  }
  function sx(x) { return pad + x * (canvas.width - 2 * pad); }
  function sy(y) { return pad + (1 - y) * (canvas.height - 2 * pad); }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 0.7;
    points.forEach(function (p) {
      ctx.fillStyle = colours[p.t] || "#999";
      ctx.fillRect(sx(p.x) - 1.5, sy(p.y) - 1.5, 3, 3);
    });
    ctx.globalAlpha = 1;
    ctx.textAlign = "center";
    ctx.font = "600 12px system-ui, sans-serif";
    topics.slice(0, 25).forEach(function (t) {
      if (t.x === null || t.y === null) return;
      var text = t.label.length > 40 ? t.label.slice(0, 38) + "\u2026" : t.label;
      // Keep the whole label inside the canvas, even for a topic at the edge.
      var half = ctx.measureText(text).width / 2 + 4;
      var x = Math.min(Math.max(sx(t.x), half), canvas.width - half);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255,255,255,0.85)";
      ctx.strokeText(text, x, sy(t.y));
      ctx.fillStyle = "#1d1d1f";
      ctx.fillText(text, x, sy(t.y));
    });
  }

  function nearest(evt) {
    var rect = canvas.getBoundingClientRect();
    var mx = (evt.clientX - rect.left) * (canvas.width / rect.width);
    var my = (evt.clientY - rect.top) * (canvas.height / rect.height);
    var best = null, bestD = 64;
    points.forEach(function (p) {
      var dx = sx(p.x) - mx, dy = sy(p.y) - my, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = p; }
    });
    return best;
  }

  canvas.addEventListener("mousemove", function (evt) {
    var p = nearest(evt);
    if (!p) { tip.hidden = true; canvas.style.cursor = "default"; return; }
    tip.textContent = p.title;
    tip.style.left = (evt.offsetX + 12) + "px";
    tip.style.top = (evt.offsetY + 12) + "px";
    tip.hidden = false;
    canvas.style.cursor = "pointer";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (evt) {
    var p = nearest(evt);
    if (p) window.location.href = canvas.dataset.paperUrl.replace(/0\/$/, p.id + "/");
  });

  fetch(canvas.dataset.source, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      topics = data.topics;
      topics.forEach(function (t, i) { colours[t.id] = colour(i); });
      points = data.papers;
      draw();
    });
})();
