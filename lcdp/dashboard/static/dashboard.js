// Draws every chart of the page from its Vega-Lite spec (embedded in the page as JSON) with
// the Vega bundle this service serves; marks <body data-ready> once all are drawn, with the
// milliseconds since navigation began (what the browser tests measure).
(function () {
  const started = performance.now();
  const charts = Array.from(document.querySelectorAll("[data-spec]"));
  const drawn = charts.map(function (el) {
    const spec = JSON.parse(document.getElementById(el.dataset.spec).textContent);
    return vegaEmbed(el, spec, {
      renderer: "svg", actions: false,
      // under the service's Content-Security-Policy: Vega's expression interpreter instead of
      // eval, and vega-embed's and vega-tooltip's styles from dashboard.css, not <style> tags
      ast: true, defaultStyle: false, tooltip: { disableDefaultStyle: true },
    }).then(function (result) {
      el.dataset.drawn = "true";
      return result;
    });
  });
  Promise.all(drawn).then(function () {
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.drawMs = String(Math.round(performance.now() - started));
    document.body.dataset.ready = "true";
  }, function (error) {
    document.body.dataset.ready = "error";
    console.error(error);
  });
})();
