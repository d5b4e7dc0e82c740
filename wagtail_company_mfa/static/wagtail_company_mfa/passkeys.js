// After a passkey is added, go where the server says (the recovery code, then naming the passkey).
// django-otp-webauthn's browser code does the ceremony and announces the outcome with this event; signing
// in needs nothing from here (that code follows the server's redirect itself).
document.addEventListener("otp_webauthn.register_complete", (event) => {
  const url = event.detail && event.detail.response && event.detail.response.redirect_url;
  if (url) {
    window.location.assign(url);
  }
});
