/* DOM helpers every page shares: finding an element by its id, and building one with its
attributes and children (the Content-Security-Policy refuses inline styles and scripts, so pages
build elements here rather than from markup). */

/** The element with this id, or null where the page has none. */
const el = (id) => document.getElementById(id);

/**
 * A new `tag` element with `attrs` and `children` (elements or strings; falsy children, such as
 * null, false or "", are left out, so `cond ? child : null` reads well).
 *
 * `text` sets the text, `className` the class, `style` the inline style through the CSSOM (the
 * Content-Security-Policy refuses style attributes set as markup); any other key is an attribute,
 * left out when false, null or undefined, and present but empty when true.
 *
 * @example node("li", { className: "muted" }, node("kbd", { text: "Z" }), " undo")
 */
function node(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "text") element.textContent = value;
    else if (key === "className") element.className = value;
    else if (key === "style") element.style.cssText = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  element.append(...children.filter(Boolean));
  return element;
}

export { el, node };
