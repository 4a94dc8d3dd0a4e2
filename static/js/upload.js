// Upload with a progress bar: XMLHttpRequest reports upload progress, fetch does not.
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const bar = document.getElementById("upload-progress");
  const result = document.getElementById("upload-result");
  const button = form.querySelector("button[type=submit]");

  function show(kind, html) {
    result.className = "result " + kind;
    result.innerHTML = html;
  }

  function escape(text) {
    const div = document.createElement("div");
    div.textContent = String(text);
    return div.innerHTML;
  }

  // The banner follows the file until a worker has finished with it: the raw file page's status
  // fragment (the same one that page polls) says where it is. Pages the user may not open
  // (a customer's) answer 403 and the banner keeps the status it had.
  const PENDING = ["received", "normalizing"];
  function follow(url, element) {
    fetch(url, {headers: {"HX-Request": "true"}, credentials: "same-origin"}).then(function (response) {
      if (!response.ok) return;
      return response.text().then(function (html) {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const status = doc.getElementById("status");
        if (!status || !element.isConnected) return;
        const value = status.textContent.trim();
        element.textContent = value;
        element.className = "badge badge-" + value;
        if (PENDING.indexOf(value) >= 0) setTimeout(function () { follow(url, element); }, 2000);
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const data = new FormData(form);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", data.get("csrfmiddlewaretoken"));
    xhr.responseType = "json";
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    show("pending", "Uploading…");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        show("pending", "Uploading… " + bar.value + "%");
      }
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      const body = xhr.response || {};
      // 202: bytes stored before, whose failed read is queued again with the hints just sent.
      if (xhr.status === 201 || xhr.status === 200 || xhr.status === 202) {
        bar.value = 100;
        const what = body.requeued ? body.message.charAt(0).toUpperCase() + body.message.slice(1) : body.duplicate ? "Already stored (same sha256)" : "Stored";
        if (body.rawId === undefined) {
          // The same bytes as a file that is not the sender's: the answer names nothing of it.
          show("ok", escape(body.message) + ". <a href=\"" + escape(body.url) + "\">Your usage</a>");
        } else {
          show("ok", what + ": <a href=\"" + escape(body.url) + "\">" + escape(body.filename) +
            "</a> · raw file #" + escape(body.rawId) + " · status <b id=\"upload-status\">" + escape(body.status) + "</b>");
        }
        if (body.statusUrl && window.htmx) {
          // The worker reads the file after the response: the outcome fragment polls until it is done.
          const before = body.requeued ? "<p class=\"result ok\">You sent this file before; it is read again with what you gave.</p>"
            : body.duplicate ? "<p class=\"result ok\">You sent this file before; nothing new was added.</p>" : "";
          result.className = "";
          result.innerHTML = before + "<span hx-get=\"" + escape(body.statusUrl) + "\" hx-trigger=\"load\" hx-swap=\"outerHTML\"></span>";
          htmx.process(result);
        }
        form.reset();
        if (PENDING.indexOf(body.status) >= 0) follow(body.url, document.getElementById("upload-status"));
        const left = document.getElementById("uploads-left");
        if (left && body.remaining !== undefined) left.textContent = body.remaining;
        document.body.dispatchEvent(new CustomEvent("upload-done"));
      } else {
        bar.hidden = true;
        show("bad", "Upload refused (" + xhr.status + "): " + escape(body.error || xhr.statusText));
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      bar.hidden = true;
      show("bad", "The connection failed during the upload. Nothing was stored; please try again.");
    });
    xhr.send(data);
  });
})();
