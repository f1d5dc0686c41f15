/* MONDAT's few behaviours, kept out of the pages so that the CSP allows no inline script and no eval. */
"use strict";

/* A polled region marked data-pause-on-focus skips its refresh while the user is typing in it. */
document.addEventListener("htmx:confirm", function (event) {
  var elt = event.detail.elt;
  if (elt.hasAttribute("data-pause-on-focus") && elt.querySelector(":focus")) {
    event.preventDefault();
  }
});
