/* DOM helpers every page shares: finding an element by its id. */

/** The element with this id, or null where the page has none. */
const el = (id) => document.getElementById(id);

export { el };
