// Copy buttons of the dataset page's API examples: shown only where
// JavaScript runs; the examples stay selectable text without it.
document.querySelectorAll("button.copy[data-copy]").forEach(function (b) {
  b.hidden = false;
  var label = b.textContent;
  b.addEventListener("click", function () {
    var code = document.getElementById(b.dataset.copy);
    if (!code || !navigator.clipboard) return;
    navigator.clipboard.writeText(code.textContent).then(function () {
      b.textContent = b.dataset.done;
      setTimeout(function () { b.textContent = label; }, 1500);
    });
  });
});
