// Starts allauth's WebAuthn form handling (mfa/js/webauthn.js) from data attributes, so the
// page needs no inline <script> block: <button data-mfa-webauthn="authenticate"
// data-credential="<input id>" data-options="<json_script id>">.
(function () {
  'use strict'
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-mfa-webauthn]').forEach(function (button) {
      var kind = button.dataset.mfaWebauthn
      var forms = window.allauth && window.allauth.webauthn && window.allauth.webauthn.forms
      var start = forms && forms[kind + 'Form']
      if (typeof start !== 'function') return
      var ids = { credential: button.dataset.credential, data: button.dataset.options }
      ids[kind] = button.id
      start({ ids: ids })
    })
  })
})()
