// "Copy id" buttons: <button data-copy="the text"> puts the text on the clipboard and says so for a moment.
// Loaded as a file (the CSP allows no inline scripts); one listener on the document serves rows htmx swaps in later.
document.addEventListener("click", function (evt) {
  var button = evt.target.closest("button[data-copy]");
  if (!button) return;
  var text = button.getAttribute("data-copy");
  var label = button.getAttribute("data-copy-label") || button.textContent;
  button.setAttribute("data-copy-label", label);
  var say = function (words) {
    button.textContent = words;
    setTimeout(function () { button.textContent = label; }, 2000);
  };
  var fallback = function () {
    // Plain http (no secure context): copy through a hidden text field.
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var ok = document.execCommand && document.execCommand("copy");
    document.body.removeChild(field);
    say(ok ? "Copied" : "Press Ctrl+C");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(function () { say("Copied"); }, fallback);
  } else {
    fallback();
  }
});
