// The screen renders state from kioskd; it holds no business logic.
"use strict";
document.addEventListener("contextmenu", (e) => e.preventDefault());
