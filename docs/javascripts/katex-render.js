// Typeset the math of every page with the vendored KaTeX (docs/assets/katex).
// Markdown pages: pymdownx.arithmatex (generic mode) leaves \( \) and \[ \].
// Notebook pages (mkdocs-jupyter): the cells keep the $ and $$ of Jupyter.
// Material's document$ fires on the first load and on every instant navigation.
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "$", right: "$", display: false },
    ],
  });
});
