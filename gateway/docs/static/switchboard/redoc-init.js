// Starts ReDoc on #redoc. ReDoc injects <style> elements (styled-components); it stamps them with
// the nonce it is given, which is this script's own, so the page's CSP needs no 'unsafe-inline'.
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(root.dataset.specUrl, { nonce: document.currentScript.nonce }, root);
})();
