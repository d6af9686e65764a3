// OAuth 2.0 Form Post Response Mode: submit the response to the client at once.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("motid-form-post");
  if (form) { form.submit(); }
});
