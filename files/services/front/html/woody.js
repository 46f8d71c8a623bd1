// Reports whether the picture loaded (its natural width), for the tests and the curious.
(function () {
  var img = document.getElementById("hero");
  var status = document.getElementById("image-status");
  function report() {
    status.setAttribute("data-natural-width", String(img.naturalWidth));
    status.textContent = img.naturalWidth > 0
      ? "picture loaded: " + img.naturalWidth + "x" + img.naturalHeight
      : "picture failed to load";
  }
  img.addEventListener("load", report);
  img.addEventListener("error", report);
  if (img.complete) { report(); }
})();
