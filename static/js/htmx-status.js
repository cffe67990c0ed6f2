// What htmx does, told to everyone: the region being replaced is marked busy while its request
// runs (aria-busy, which CSS also shows), so that a slow Submit or search is visibly at work.
// Focus after a swap and the one-sentence announcement come from the server's HTML (autofocus,
// and an out-of-band swap into the page's live region #announcer), so they need no code here.
"use strict";

document.addEventListener("htmx:beforeRequest", (event) => {
  event.detail.target.setAttribute("aria-busy", "true");
});
document.addEventListener("htmx:afterRequest", (event) => {
  event.detail.target.removeAttribute("aria-busy");
});
