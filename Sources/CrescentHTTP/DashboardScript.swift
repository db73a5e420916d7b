import Hummingbird

/// The dashboard's one script, served at `/dashboard.js`. Pages are complete without it;
/// with it, the parts marked `data-live` (the page's content, the nav with its dead-job
/// count, the footer's clock) are refreshed every few seconds from the same page fetched
/// again, without a reload. It pauses while the tab is hidden, and leaves a part alone while
/// the user is in one of its fields (a filter being chosen) or when nothing changed.
enum DashboardScript {
    /// Seconds between two refreshes.
    static let interval = 5

    static let text = """
        "use strict";
        (function () {
          var every = \(interval * 1000), busy = false;
          if (!window.fetch || !window.DOMParser || !document.querySelector("[data-live]")) return;
          document.documentElement.classList.add("live");
          function swap(old, fresh) {
            if (old.innerHTML === fresh.innerHTML) return;
            if (document.activeElement && document.activeElement !== document.body && old.contains(document.activeElement)) return;
            var open = Array.prototype.map.call(old.querySelectorAll("details"), function (d) { return d.open; });
            old.innerHTML = fresh.innerHTML;
            Array.prototype.forEach.call(old.querySelectorAll("details"), function (d, i) { if (i < open.length) d.open = open[i]; });
          }
          function refresh() {
            if (busy || document.hidden) return;
            busy = true;
            fetch(location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
              .then(function (r) {
                if (!r.ok) throw new Error("HTTP " + r.status);
                return r.text();
              })
              .then(function (html) {
                var page = new DOMParser().parseFromString(html, "text/html");
                Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), function (old) {
                  var fresh = old.id && page.getElementById(old.id);
                  if (fresh) swap(old, fresh);
                });
                document.documentElement.classList.remove("refresh-failed");
              })
              .catch(function () { document.documentElement.classList.add("refresh-failed"); })
              .then(function () { busy = false; });
          }
          setInterval(refresh, every);
          document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
        })();

        """
}

extension HTTPServer {
    func addDashboardScriptRoute(to router: Router<BasicRequestContext>) {
        router.get("/dashboard.js") { _, _ in
            var response = Response.text(DashboardScript.text, contentType: "text/javascript; charset=utf-8")
            response.headers[.cacheControl] = "no-cache"
            return response
        }
    }
}
