/* Meters drawn by the server (the project list's budgets): each bar's width from its data-percent.
Set here through the CSSOM, because the Content-Security-Policy refuses inline style attributes. */

for (const bar of document.querySelectorAll(".meter span[data-percent]")) {
  bar.style.width = `${Math.min(100, Number(bar.dataset.percent) || 0)}%`;
}
