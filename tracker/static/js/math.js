// Renders the LaTeX in paper titles and abstracts: inside every [data-math] element, on
// page load and in whatever htmx swaps in. KaTeX (about 300 KB with its styles) is fetched
// only when such an element holds a math delimiter, so a page of plain titles stays light.
// Its auto-render walks text nodes only, so markup that arrived escaped in the page stays
// text; `trust: false` refuses \href and \url to javascript: and friends.
(function () {
  "use strict";
  var DELIMITER = /\$|\\\(|\\\[/;
  var assets = document.currentScript ? document.currentScript.dataset : {};
  var loading = null;

  function add(tag, attributes) {
    return new Promise(function (resolve, reject) {
      var element = document.createElement(tag);
      Object.keys(attributes).forEach(function (name) {
        element[name] = attributes[name];
      });
      element.onload = resolve;
      element.onerror = reject;
      document.head.appendChild(element);
    });
  }

  function katex() {
    if (typeof window.renderMathInElement === "function") return Promise.resolve();
    if (!loading) {
      loading = Promise.all([
        add("link", { rel: "stylesheet", href: assets.katexCss }),
        add("script", { src: assets.katex }).then(function () {
          return add("script", { src: assets.katexRender });
        }),
      ]);
    }
    return loading;
  }

  function targets(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-math]"));
    if (root.matches && root.matches("[data-math]")) found.push(root);
    return found.filter(function (element) {
      return !element.hasAttribute("data-math-done") && DELIMITER.test(element.textContent);
    });
  }

  function render(root) {
    var elements = targets(root || document);
    if (!elements.length) return;
    katex().then(function () {
      elements.forEach(function (element) {
        if (element.hasAttribute("data-math-done")) return;
        element.setAttribute("data-math-done", "");
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
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      render(document);
    });
  } else {
    render(document);
  }
  // A row htmx swaps in after a rating or a skip shows its title again.
  document.addEventListener("htmx:load", function (event) {
    render(event.target);
  });
})();
