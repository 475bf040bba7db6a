// The console's only script (CSP: script-src 'self', nothing inline).
// 1. Filters with data-autosubmit submit on change.
// 2. The run page: "execute" posts one chunk at a time and moves the progress bar after each;
//    any open run page also polls the progress JSON while the run is executing.
(function () {
  "use strict";

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var bar = box.querySelector("progress");

  function show(progress) {
    bar.max = progress.chunks_total;
    bar.value = progress.chunks_done;
    Object.keys(progress).forEach(function (key) {
      var field = box.querySelector('[data-field="' + key + '"]');
      if (field) { field.textContent = progress[key]; }
    });
  }

  function fail(message) {
    var field = box.querySelector('[data-field="error"]');
    field.textContent = message;
    field.hidden = false;
  }

  var button = document.querySelector("[data-execute-run]");
  if (button) {
    button.addEventListener("click", function () {
      button.disabled = true;
      function step() {
        fetch(box.dataset.executeUrl, {
          method: "POST", credentials: "same-origin",
          headers: {"X-CSRFToken": button.dataset.csrf, "Accept": "application/json"}
        }).then(function (response) {
          return response.json().then(function (body) { return {ok: response.ok, body: body}; });
        }).then(function (answer) {
          if (!answer.ok) { fail(answer.body.error ? answer.body.error.message : "执行失败"); button.disabled = false; return; }
          show(answer.body);
          if (answer.body.status === "executed") { window.location.reload(); } else { step(); }
        }).catch(function () { fail("网络错误，可以再次点击继续执行（可断点续跑）"); button.disabled = false; });
      }
      step();
    });
  }

  if (box.querySelector('[data-field="status_word"]').textContent.trim() === "执行中" && !button) {
    var timer = window.setInterval(function () {
      fetch(box.dataset.progressUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (progress) { show(progress); if (progress.status !== "executing") { window.clearInterval(timer); } });
    }, 2000);
  }
})();
