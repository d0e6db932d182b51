// Renders the LaTeX in paper titles and abstracts. KaTeX's auto-render walks text nodes
// only, so markup that arrived escaped in the page stays text; `trust: false` refuses
// \href and \url to javascript: and friends.
(function () {
  "use strict";
  function render() {
    if (typeof window.renderMathInElement !== "function") return;
    document.querySelectorAll("[data-math]").forEach(function (element) {
      window.renderMathInElement(element, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
        trust: false,
        strict: "ignore",
        maxExpand: 200,
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
