// Live transaction status, CSP-friendly (served from /static, no inline script, no eval).
//
// Why this shape: the websocket relays JSON ({"type": "transaction.status", "transaction": {...}}),
// not HTML, and the status badge and timeline are rendered by one server template. So the htmx ws
// extension keeps the socket open (and reconnects it), and this script only decides *when* to
// re-fetch that server-rendered partial: on a message about this page's transaction, and on
// "auth.ok" (sent once the server has joined us to our user's group) to catch a change that
// happened between the page load and the subscription. After a close (e.g. the access token
// expired) the re-fetch also lets the server renew the cookie before the extension reconnects.
(function () {
  "use strict";

  function liveRoot(event) {
    var target = event.target;
    return target && target.closest ? target.closest("[data-live-transaction]") : null;
  }

  function refresh(root) {
    if (!window.htmx) return;
    window.htmx.ajax("GET", root.getAttribute("data-status-url"), {
      target: root.querySelector("#tx-live"),
      swap: "innerHTML",
    });
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var root = liveRoot(event);
    if (!root) return;
    event.preventDefault(); // JSON, not an HTML fragment for the extension to swap
    var message;
    try {
      message = JSON.parse(event.detail.message);
    } catch (error) {
      return;
    }
    var wanted = root.getAttribute("data-live-transaction");
    if (message.type === "auth.ok") {
      refresh(root);
    } else if (message.type === "transaction.status" && message.transaction && message.transaction.id === wanted) {
      refresh(root);
    }
  });

  document.addEventListener("htmx:wsClose", function (event) {
    var root = liveRoot(event);
    if (root) refresh(root);
  });
})();

// The /requests page: re-fetch its server-rendered lists when a payment request involving this user
// changes ({"type": "payment_request", ...}), and once the socket is authenticated (to catch a change
// made between the page load and the subscription).
(function () {
  "use strict";

  function requestsRoot(event) {
    var target = event.target;
    return target && target.closest ? target.closest("[data-live-requests]") : null;
  }

  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var root = requestsRoot(event);
    if (!root || !window.htmx) return;
    event.preventDefault();
    var message;
    try {
      message = JSON.parse(event.detail.message);
    } catch (error) {
      return;
    }
    if (message.type === "auth.ok" || message.type === "payment_request") {
      window.htmx.ajax("GET", root.getAttribute("data-lists-url"), {
        target: root.querySelector("#requests-live"),
        swap: "innerHTML",
      });
    }
  });
})();
