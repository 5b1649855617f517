// Typeset TeX as SVG with MathJax at build time (called by l2bayes.site).
//
//   node tex2svg.cjs NODE_MODULES < formulas.json > typeset.json
//
// Input: [[[tex, display], ...], ...], the formulas of each page. Output: {"css":
// the stylesheet MathJax's SVG output needs, "pages": [{"html": one <mjx-container>
// per formula, "defs": the page's glyphs, one hidden <svg> that the formulas use},
// ...], "errors": [[page, index, message], ...]}. Each formula carries its MathML
// for screen readers (assistive MathML), as MathJax does in the browser.
"use strict";
const path = require("path");
const fs = require("fs");

const modules = path.resolve(process.argv[2] || "node_modules");
const mj = (name) => require(path.join(modules, "mathjax-full", "js", name));
const { mathjax } = mj("mathjax.js");
const { TeX } = mj("input/tex.js");
const { SVG } = mj("output/svg.js");
const { liteAdaptor } = mj("adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = mj("handlers/html.js");
const { AssistiveMmlHandler } = mj("a11y/assistive-mml.js");
const { AllPackages } = mj("input/tex/AllPackages.js");

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));
const packages = AllPackages.filter((name) => !["bussproofs", "autoload", "require", "noundefined"].includes(name));
const doc = mathjax.document("", {
  InputJax: new TeX({ packages, formatError: (jax, err) => jax.formatError(err) }),
  OutputJax: new SVG({ fontCache: "global" }),
});

const input = JSON.parse(fs.readFileSync(0, "utf8"));
const errors = [];
const pages = input.map((formulas, page) => {
  // One glyph cache per page: each glyph's path is written once, then referenced.
  doc.outputJax.fontCache.clearCache();
  const html = formulas.map(([tex, display], index) => {
    const out = adaptor.outerHTML(doc.convert(tex, { display, em: 16, ex: 8, containerWidth: 80 * 16 }));
    const error = out.match(/data-mjx-error="([^"]*)"/);
    if (error) errors.push([page, index, error[1]]);
    return out;
  });
  const defs = formulas.length ? adaptor.outerHTML(doc.outputJax.fontCache.getCache()) : "";
  return { html, defs: defs && `<svg id="MJX-SVG-global-cache" style="display: none;" aria-hidden="true">${defs}</svg>` };
});
const css = adaptor.textContent(doc.outputJax.styleSheet(doc));
process.stdout.write(JSON.stringify({ css, pages, errors }));
