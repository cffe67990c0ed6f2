// Copy buttons: <button data-copy-target="element-id" data-copied-label="Copied" hidden>.
// Shown only when scripts run; no inline script needed, so it works under a strict CSP.
"use strict";

function copyText(source) {
  const text = "value" in source ? source.value : source.textContent;
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  source.select();
  return document.execCommand("copy") ? Promise.resolve() : Promise.reject();
}

document.querySelectorAll("[data-copy-target]").forEach((button) => {
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener("click", () => {
    const source = document.getElementById(button.dataset.copyTarget);
    copyText(source).then(() => {
      button.textContent = button.dataset.copiedLabel || label;
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
});
