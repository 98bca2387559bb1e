// leadgate dashboard: keeps SLA countdowns ("due in 3 h 12 min") current without a reload.
// The server renders the same text; this only refreshes it every 30 seconds.
(function () {
  "use strict";
  function span(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + mins + " min";
    return mins + " min";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now;
      if (isNaN(left)) return;
      el.textContent = left < 0 ? "overdue by " + span(left) : "due in " + span(left);
      el.classList.remove("ok", "soon", "overdue");
      el.classList.add(left < 0 ? "overdue" : left < 3600000 ? "soon" : "ok");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 30000); });
})();
