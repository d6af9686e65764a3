// Passkeys (WebAuthn): the browser half. Buttons carry data attributes; the server does every check.
(function () {
  "use strict";
  function b64urlToBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function bufferToB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    var token = document.querySelector('meta[name="csrf-token"]').content;
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: body === undefined ? "{}" : JSON.stringify(body)}).then(function (r) { return r.json(); });
  }
  function show(el, message) {
    var out = document.getElementById(el.dataset.status || "passkey-status");
    if (out) { out.textContent = message; }
  }
  function register(button) {
    post(button.dataset.options).then(function (options) {
      options.challenge = b64urlToBuffer(options.challenge);
      options.user.id = b64urlToBuffer(options.user.id);
      (options.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
      return navigator.credentials.create({publicKey: options});
    }).then(function (cred) {
      var name = document.getElementById("passkey-name");
      return post(button.dataset.verify, {name: name ? name.value : "", credential: {
        id: cred.id, rawId: bufferToB64url(cred.rawId), type: cred.type,
        response: {clientDataJSON: bufferToB64url(cred.response.clientDataJSON),
                   attestationObject: bufferToB64url(cred.response.attestationObject),
                   transports: cred.response.getTransports ? cred.response.getTransports() : []}}});
    }).then(function (result) {
      if (result.ok) { window.location = result.redirect; } else { show(button, result.message); }
    }).catch(function (error) { console.warn("passkey:", error && error.name, error && error.message);
                                show(button, button.dataset.failed); });
  }
  function login(button) {
    post(button.dataset.options).then(function (options) {
      options.challenge = b64urlToBuffer(options.challenge);
      (options.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuffer(c.id); });
      return navigator.credentials.get({publicKey: options});
    }).then(function (cred) {
      return post(button.dataset.verify, {credential: {
        id: cred.id, rawId: bufferToB64url(cred.rawId), type: cred.type,
        response: {clientDataJSON: bufferToB64url(cred.response.clientDataJSON),
                   authenticatorData: bufferToB64url(cred.response.authenticatorData),
                   signature: bufferToB64url(cred.response.signature),
                   userHandle: cred.response.userHandle ? bufferToB64url(cred.response.userHandle) : null}}});
    }).then(function (result) {
      if (result.ok) { window.location = result.redirect; } else { show(button, result.message); }
    }).catch(function (error) { console.warn("passkey:", error && error.name, error && error.message);
                                show(button, button.dataset.failed); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) { return; }
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        if (button.dataset.passkey === "register") { register(button); } else { login(button); }
      });
    });
  });
})();
