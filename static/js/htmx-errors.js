// Errors answered to htmx requests, shown to the person in the page's alert region (#htmx-alert).
// htmx 2 swaps no 4xx/5xx answer (its default responseHandling, kept on purpose: an error page
// must never land inside a table fragment), so without this a refused click looks like nothing
// happened. A static file, not an inline script, so a CSP of script-src 'self' allows it.
(function () {
  "use strict";
  const LIMIT = 300; // characters: a message, not a page
  const UNREACHABLE = "Could not reach the server: check the connection and try again.";

  function trimmed(text) {
    const flat = String(text).replace(/\s+/g, " ").trim();
    return flat.length > LIMIT ? flat.slice(0, LIMIT) + "…" : flat;
  }

  // The app answers a plain message (often sent as text/html), json_error's {"error": ...}, or,
  // from Django itself (CSRF, 404, 500), a whole page whose <title> names the problem.
  function messageOf(xhr) {
    const type = xhr.getResponseHeader("Content-Type") || "";
    const body = xhr.responseText || "";
    let text = body;
    if (type.indexOf("json") >= 0) {
      try {
        const data = JSON.parse(body);
        text = (data && (data.error || data.detail)) || "";
        if (typeof text !== "string") text = JSON.stringify(text);
      } catch (e) {
        text = "";
      }
    } else if (type.indexOf("html") >= 0) {
      const doc = new DOMParser().parseFromString(body, "text/html");
      text = doc.title || (doc.body ? doc.body.textContent : "");
    }
    return trimmed(text) || "The server refused this (" + xhr.status + " " + (xhr.statusText || "error") + ").";
  }

  function show(message, kind, repeat) {
    const region = document.getElementById("htmx-alert");
    if (!region) return;
    const current = region.firstElementChild;
    // A poll failing again every few seconds is announced once, not on each attempt.
    if (repeat && current && current.dataset.message === message) return;
    const box = document.createElement("p");
    box.className = "page-alert";
    box.dataset.message = message;
    box.dataset.kind = kind;
    const text = document.createElement("span");
    text.textContent = message;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "link";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", clear);
    box.append(text, " ", dismiss);
    region.replaceChildren(box);
  }

  function clear() {
    const region = document.getElementById("htmx-alert");
    if (region) region.replaceChildren();
  }

  // A poll (hx-trigger="every 2s") has no triggering event; a click or a change has one.
  function byPerson(detail) {
    return !!(detail.requestConfig && detail.requestConfig.triggeringEvent);
  }

  document.addEventListener("htmx:responseError", function (event) {
    show(messageOf(event.detail.xhr), "refused", !byPerson(event.detail));
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(UNREACHABLE, "unreachable", !byPerson(event.detail));
  });
  // The person's next action that works clears the alert; a poll that works clears only
  // "could not reach the server", since the server is reachable again.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    const current = document.querySelector("#htmx-alert > .page-alert");
    if (current && (byPerson(event.detail) || current.dataset.kind === "unreachable")) clear();
  });
})();
