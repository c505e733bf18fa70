// The copy button of a newly shown API key. Loaded as a file: the CSP allows no inline scripts.
document.addEventListener("click", function (evt) {
  var button = evt.target.closest("[data-copy-target]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () {
    button.textContent = "Copied";
    button.setAttribute("aria-live", "polite");
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); });
  } else if (source.select) {
    source.select();
    if (document.execCommand && document.execCommand("copy")) done();
  }
});
