// now-playing landing page: the picker updates the preview and the snippets in place.
(function () {
  "use strict";
  document.body.classList.add("lp-js");
  var base = document.body.dataset.base;
  var form = document.getElementById("lp-picker");
  var frame = document.getElementById("lp-frame");
  var defaults = { theme: "auto", layout: "card", bg: "theme", accent: "1db954" };

  function query() {
    var pairs = [];
    ["theme", "layout", "bg"].forEach(function (name) {
      var value = form.elements[name].value;
      if (value !== defaults[name]) pairs.push(name + "=" + encodeURIComponent(value));
    });
    var accent = form.elements.accent.value.replace("#", "").toLowerCase();
    if (/^[0-9a-f]{6}$/.test(accent) && accent !== defaults.accent) pairs.push("accent=" + accent);
    if (!form.elements.art.checked) pairs.push("art=false");
    if (!form.elements.progress.checked) pairs.push("progress=false");
    return pairs.length ? "?" + pairs.join("&") : "";
  }

  function update() {
    var q = query();
    var height = form.elements.layout.value === "compact" ? 68 : 100;
    frame.src = "/embed" + q;
    frame.height = String(height);
    document.getElementById("lp-iframe").textContent =
      '<iframe src="' + base + "/embed" + q + '" title="Now playing on Spotify"\n        width="100%" height="' +
      height + '" style="border:0;max-width:440px" loading="lazy"></iframe>';
    document.getElementById("lp-markdown").textContent =
      "[![Now playing on Spotify](" + base + "/now-playing.svg" + q + ")](" + base + "/now-playing/open)";
    history.replaceState(null, "", q ? "/" + q + "&picked=1" : "/");
  }

  form.addEventListener("change", update);
  form.addEventListener("submit", function (event) { event.preventDefault(); update(); });

  document.querySelectorAll(".lp-snippets pre").forEach(function (pre) {
    if (!navigator.clipboard) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "lp-copy";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(pre.querySelector("code").textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
    pre.appendChild(button);
  });
})();
