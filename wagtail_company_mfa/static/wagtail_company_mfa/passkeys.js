// After a passkey is added, go where the server says (the recovery code, then naming the passkey).
// django-otp-webauthn's browser code does the ceremony and announces the outcome with this event; signing
// in needs nothing from here (that code follows the server's redirect itself).
document.addEventListener("otp_webauthn.register_complete", (event) => {
  const url = event.detail && event.detail.response && event.detail.response.redirect_url;
  if (url) {
    window.location.assign(url);
  }
});

// "Trust this browser" on the passkey page: django-otp-webauthn's browser code posts the answer itself, so
// the box's state travels as a header of that one request (trusted/forms.py, PASSKEY_HEADER). A page on
// another site cannot set such a header.
(() => {
  const configElement = document.getElementById("otp_webauthn_config");
  if (!configElement || !window.fetch) {
    return;
  }
  const completeUrl = JSON.parse(configElement.textContent).completeAuthenticationUrl;
  const completePath = new URL(completeUrl, window.location.origin).pathname;
  const originalFetch = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const box = document.querySelector("[data-mfa-trust-browser] input[type='checkbox']");
    const url = new URL(typeof resource === "string" ? resource : resource.url, window.location.origin);
    if (box && box.checked && url.pathname === completePath) {
      const headers = new Headers((options && options.headers) || {});
      headers.set("X-MFA-Trust-Browser", "1");
      return originalFetch(resource, { ...(options || {}), headers });
    }
    return originalFetch(resource, options);
  };
})();
