// Attention Lab's small additions to Material, run on every page (document$ fires on load).
//
// 1. Copy gives runnable code. Material's copy button copies the text of the closest
//    element with a `data-copy` attribute when there is one (its clipboard integration,
//    `extract()`); for a doctest block we set that attribute on the <code> element to the
//    source alone: the `>>> ` and `... ` prompts stripped, the printed outputs left out.
// 2. Accessibility: a name for landmarks that would otherwise have none or the same one,
//    and keyboard focus for notebook regions that scroll sideways (a figure that does says so).

/** The Python source of a doctest transcript, as doctest itself splits it. */
function doctestSource(text) {
  const source = [];
  let inExample = false;
  for (const line of text.split("\n")) {
    if (line === ">>>" || line.startsWith(">>> ")) {
      source.push(line.slice(4));
      inExample = true;
    } else if (inExample && (line === "..." || line.startsWith("... "))) {
      source.push(line.slice(4));
    } else {
      inExample = false;  // printed output, or the blank line that ends the example
    }
  }
  return source.join("\n") + "\n";
}
window.doctestSource = doctestSource;

function copyOnlyCode(root) {
  for (const code of root.querySelectorAll(".highlight pre > code")) {
    const text = code.textContent;
    if (/^>>>( |$)/m.test(text.split("\n", 1)[0])) code.setAttribute("data-copy", doctestSource(text));
  }
}

// Material adds one <nav class="md-code__nav"> (the copy button) to every code block when it
// mounts it: as many unnamed navigation landmarks as code blocks. Each gets its own name.
function labelCodeToolbars(root) {
  for (const nav of root.querySelectorAll("nav.md-code__nav:not([aria-label])")) {
    const block = nav.closest("pre");
    const number = [...root.querySelectorAll(".highlight pre")].indexOf(block) + 1;
    nav.setAttribute("aria-label", `Code block ${number || ""} actions`.replace("  ", " "));
  }
}

// With navigation.indexes, a section's nav is labelled by an icon-only <label>: give it the
// section's name (its title) so the landmarks are told apart.
function nameSectionNavs(root) {
  for (const nav of root.querySelectorAll("nav.md-nav[aria-labelledby]")) {
    const label = document.getElementById(nav.getAttribute("aria-labelledby"));
    if (label && !label.textContent.trim()) {
      const title = nav.querySelector(":scope > .md-nav__title");
      if (title) nav.setAttribute("aria-label", title.textContent.trim().replace(/\s+/g, " "));
      nav.removeAttribute("aria-labelledby");
    }
  }
}

// Regions that scroll sideways can be scrolled with the keyboard: notebook inputs and outputs,
// display formulas wider than the screen (Material lets div.arithmatex scroll), and the frames
// Material puts around tables (on a phone, the API pages' tables scroll inside them).
const scrollRegions = [
  ".jp-OutputArea-output pre", ".jp-RenderedText pre", ".highlight-ipynb", ".jp-OutputArea-output",
  ".md-typeset__scrollwrap",
  ".md-typeset div.arithmatex", ".md-typeset .katex-display", ".nb-notebook pre", ".nb-notebook table", ".nb-notebook .nb-figure",
].join(", ");
// A notebook figure keeps the size it was drawn at (its text stays readable); on a phone it is
// wider than the screen and scrolls sideways in its box. A line under the box says so, for
// as long as it scrolls: nothing else would show that part of the figure is out of sight.
const SCROLL_CUE = "Wider than the screen: scroll sideways →";
function cueScrolling(element, scrolls) {
  if (!element.matches(".nb-figure")) return;
  const cue = element.nextElementSibling?.matches(".nb-scroll-cue") ? element.nextElementSibling : null;
  if (scrolls && !cue) element.insertAdjacentHTML("afterend", `<p class="nb-scroll-cue" aria-hidden="true">${SCROLL_CUE}</p>`);
  if (!scrolls && cue) cue.remove();
}
function focusWhenScrollable(element) {
  const scrolls = element.scrollWidth > element.clientWidth + 1;
  if (scrolls) element.setAttribute("tabindex", "0");
  else if (element.getAttribute("tabindex") === "0") element.removeAttribute("tabindex");
  cueScrolling(element, scrolls);
}
const resized = new ResizeObserver((entries) => entries.forEach((entry) => focusWhenScrollable(entry.target)));
// Watched from the start, and as they appear. A font that arrives later widens a formula or a
// table without resizing its box, which the ResizeObserver would not see: every box is checked
// again then.
const watched = new Set();
function watchScrollRegions(root) {
  for (const region of root.querySelectorAll(scrollRegions)) {
    if (watched.has(region)) continue;
    watched.add(region);
    focusWhenScrollable(region);
    resized.observe(region);
  }
}
function recheckScrollRegions() {
  for (const region of watched) {
    if (region.isConnected) focusWhenScrollable(region);
    else watched.delete(region);
  }
}
document.fonts?.addEventListener("loadingdone", recheckScrollRegions);

document$.subscribe(({ body }) => {
  copyOnlyCode(body);
  labelCodeToolbars(body);
  nameSectionNavs(body);
  watchScrollRegions(body);
  new MutationObserver(() => {
    labelCodeToolbars(body);
    watchScrollRegions(body);
  }).observe(body, { childList: true, subtree: true });
});
