// now-playing embed: keeps the server-rendered widget current without reloading the page.
// It listens to /now-playing/events (Server-Sent Events), falls back to polling /now-playing
// every CACHE_TTL seconds while the stream is down and reconnects with backoff, rebuilds the
// widget from the JSON with textContent only (never innerHTML), ticks the progress bar
// locally in between, and does nothing while the page is hidden.
// A list page (/embed/recently-played, /embed/top/...) instead asks its list's JSON once per
// the list's TTL (a 304 when nothing changed) and rebuilds the rows the same way.
(function () {
  "use strict";
  var body = document.body;
  var ttlMs = Math.max(1, Number(body.dataset.ttl) || 10) * 1000;
  var opts = {
    art: body.dataset.art !== "false",
    progress: body.dataset.progress !== "false",
    recent: body.dataset.recent !== "false",
    demo: body.dataset.demo === "true"
  };
  // Server time minus local time, from the Date header, so a wrong local clock does not
  // break progress extrapolation.
  var skewMs = 0;
  var lastKey = null;
  var timer = null;

  function root() { return document.querySelector("[data-np]"); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The same rule as the server's: https, no credentials or port, on Spotify's domains.
  function safeUrl(url, domains) {
    var parsed;
    try { parsed = new URL(url); } catch (e) { return null; }
    if (parsed.protocol !== "https:" || parsed.username || parsed.password || parsed.port) return null;
    var host = parsed.hostname.toLowerCase();
    var ok = domains.some(function (domain) {
      return host === domain || host.slice(-(domain.length + 1)) === "." + domain;
    });
    return ok ? parsed.href : null;
  }

  function placeholder(title, episode) {
    return el("span", "np-art-ph np-hue-" + hue(title), episode ? "\u25C9" : "\u266A");
  }

  // Art that cannot load (blocked, gone) makes way for the placeholder.
  function fallBack(img, title, episode) {
    var swap = function () { img.replaceWith(placeholder(title, episode)); };
    if (img.complete && img.naturalWidth === 0) swap(); else img.addEventListener("error", swap);
  }

  function ago(iso) {
    var secs = Math.max(0, (Date.now() + skewMs - Date.parse(iso)) / 1000);
    if (secs < 60) return "just now";
    if (secs < 3600) return Math.floor(secs / 60) + " min ago";
    if (secs < 86400) return Math.floor(secs / 3600) + " h ago";
    return Math.floor(secs / 86400) + " d ago";
  }

  function hue(text) {
    var h = 7;
    var bytes = unescape(encodeURIComponent(text));
    for (var i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes.charCodeAt(i)) >>> 0;
    return h % 12;
  }

  if (body.dataset.listSource) { keepListCurrent(body.dataset.listSource); return; }

  // A list page: the rows as render::list draws them, from the list's JSON.
  function listRow(item) {
    var artist = item.kind === "artist";
    var title = (artist ? item.name : item.title) || "";
    var sub = artist ? (item.genres || []).join(", ") : (item.artists || []).join(", ");
    var url = item.url ? safeUrl(item.url, ["spotify.com"]) : null;
    var image = item.image_url ? safeUrl(item.image_url, ["scdn.co", "spotifycdn.com"]) : null;
    var li = el("li", "np-row");
    if (typeof item.rank === "number") {
      var rank = el("span", "np-rank", String(item.rank));
      rank.setAttribute("aria-hidden", "true");
      li.appendChild(rank);
    }
    if (opts.art) {
      var art = el("span", "np-row-art");
      art.setAttribute("aria-hidden", "true");
      if (image) {
        var img = el("img");
        img.src = image; img.alt = ""; img.width = 40; img.height = 40;
        img.loading = "lazy"; img.referrerPolicy = "no-referrer";
        art.appendChild(img);
        fallBack(img, title, item.kind === "episode");
      } else {
        art.appendChild(placeholder(title, item.kind === "episode"));
      }
      li.appendChild(art);
    }
    var main = el("span", "np-row-body");
    var link = el(url ? "a" : "span", "np-row-title", title);
    if (url) { link.href = url; link.target = "_blank"; link.rel = "noopener noreferrer"; }
    main.appendChild(link);
    main.appendChild(el("span", "np-row-sub", sub));
    li.appendChild(main);
    if (item.played_at) {
      var time = el("time", "np-row-meta", ago(item.played_at));
      time.setAttribute("datetime", item.played_at);
      li.appendChild(time);
    }
    return li;
  }

  function keepListCurrent(source) {
    var listTtlMs = Math.max(30, Number(body.dataset.ttl) || 60) * 1000;
    var shown = null;
    document.querySelectorAll(".np-row").forEach(function (row) {
      var img = row.querySelector(".np-row-art img");
      var title = row.querySelector(".np-row-title");
      if (img) fallBack(img, title ? title.textContent : "", false);
    });
    function refreshTimes() {
      document.querySelectorAll("time.np-row-meta").forEach(function (node) {
        node.textContent = ago(node.getAttribute("datetime"));
      });
    }
    function showList(doc) {
      var section = document.querySelector("[data-np-list]");
      if (!section || !doc || !Array.isArray(doc.items)) return;
      var key = JSON.stringify(doc.items);
      if (key === shown) return;
      shown = key;
      var rows = el("ol", "np-rows");
      doc.items.forEach(function (item) { rows.appendChild(listRow(item)); });
      var old = section.querySelector(".np-rows, .np-list-notice");
      if (old) old.replaceWith(rows); else section.appendChild(rows);
      section.classList.toggle("np-stale", !!doc.stale);
    }
    function pollList() {
      if (document.hidden) return;
      fetch(source, { headers: { Accept: "application/json" }, cache: "no-cache" })
        .then(function (response) { readSkew(response); return response.ok ? response.json() : null; })
        .then(showList)
        .catch(function () { /* keep showing what we have */ })
        .then(refreshTimes);
    }
    setInterval(pollList, listTtlMs);
    setInterval(function () { if (!document.hidden) refreshTimes(); }, 30000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) pollList(); });
  }

  // The display model, as the server's render::html::Widget computes it.
  function widget(doc) {
    var w = { state: "idle", label: "Not playing", title: "Nothing playing right now", subtitle: "Spotify",
              url: null, image: null, progress: null, stale: !!doc.stale, episode: false };
    var item = doc.item;
    if (doc.state === "unavailable") {
      w.state = "unavailable"; w.label = "Spotify"; w.title = "Now playing is unavailable";
      w.subtitle = "Spotify can't be reached right now";
      return w;
    }
    if ((doc.state === "playing" || doc.state === "paused") && !item) {
      w.state = doc.is_playing ? "playing" : "paused";
      w.label = doc.is_playing ? "Now playing" : "Paused";
      w.title = doc.playing_type === "ad" ? "Advertisement" : "Something on Spotify";
      w.subtitle = doc.playing_type === "ad" ? "Back to the music soon" : "Not shown by Spotify";
      return w;
    }
    if (!item || (doc.state === "recent" && !opts.recent) || doc.state === "idle") return w;
    w.title = item.title || "Untitled";
    w.subtitle = (item.artists || []).join(", ");
    w.url = safeUrl(item.url, ["spotify.com"]);
    w.image = safeUrl(item.image_url, ["scdn.co", "spotifycdn.com"]);
    w.episode = item.kind === "episode";
    if (doc.state === "recent") {
      w.state = "recent";
      w.label = doc.played_at ? "Last played · " + ago(doc.played_at) : "Last played";
      return w;
    }
    w.state = doc.is_playing ? "playing" : "paused";
    w.label = doc.is_playing ? "Now playing" : "Paused";
    if (item.is_local) w.label += " · local file";
    else if (w.episode) w.label += " · podcast";
    if (opts.progress && item.duration_ms > 0 && typeof doc.progress_ms === "number") {
      w.progress = { value: Math.min(doc.progress_ms, item.duration_ms), max: item.duration_ms,
                     playing: !!doc.is_playing, timestamp: doc.timestamp || doc.fetched_at };
    }
    return w;
  }

  function build(w, old) {
    var keep = ["np-layout-", "np-theme-", "np-bg-"];
    var classes = ["np"];
    old.className.split(/\s+/).forEach(function (c) {
      keep.forEach(function (p) { if (c.indexOf(p) === 0) classes.push(c); });
    });
    classes.push("np-state-" + w.state);
    if (w.stale) classes.push("np-stale");
    var node = el("div", classes.join(" "));
    node.setAttribute("data-np", "");
    if (opts.art) {
      var art = el(w.url ? "a" : "span", "np-art");
      if (w.url) { art.href = w.url; art.target = "_blank"; art.rel = "noopener noreferrer"; art.tabIndex = -1; }
      art.setAttribute("aria-hidden", "true");
      if (w.image) {
        var img = el("img");
        img.src = w.image; img.alt = ""; img.width = 300; img.height = 300;
        img.referrerPolicy = "no-referrer";
        art.appendChild(img);
        fallBack(img, w.title, w.episode);
      } else {
        art.appendChild(placeholder(w.title, w.episode));
      }
      node.appendChild(art);
    }
    var main = el("div", "np-body");
    var status = el("div", "np-status");
    var eq = el("span", "np-eq");
    eq.setAttribute("aria-hidden", "true");
    eq.appendChild(el("i")); eq.appendChild(el("i")); eq.appendChild(el("i"));
    status.appendChild(eq);
    status.appendChild(el("span", "np-label", w.label));
    if (opts.demo) status.appendChild(el("span", "np-demo", "demo"));
    main.appendChild(status);
    var title = el(w.url ? "a" : "span", "np-title", w.title);
    title.title = w.title;
    if (w.url) { title.href = w.url; title.target = "_blank"; title.rel = "noopener noreferrer"; }
    main.appendChild(title);
    var artists = el("div", "np-artists", w.subtitle);
    artists.title = w.subtitle;
    main.appendChild(artists);
    if (w.progress) {
      var bar = el("progress", "np-progress");
      bar.max = w.progress.max; bar.value = w.progress.value;
      bar.dataset.playing = String(w.progress.playing);
      bar.dataset.timestamp = w.progress.timestamp;
      bar.setAttribute("aria-label", "Progress");
      main.appendChild(bar);
    }
    node.appendChild(main);
    return node;
  }

  // Moves the progress bar on from its measured value; the server sends the value and when
  // it was measured.
  function tick() {
    var current = root();
    var bar = current && current.querySelector(".np-progress");
    if (!bar || bar.dataset.playing !== "true") return;
    if (bar.dataset.base === undefined) bar.dataset.base = bar.value;
    var measured = Date.parse(bar.dataset.timestamp);
    if (isNaN(measured)) return;
    var value = Number(bar.dataset.base) + (Date.now() + skewMs - measured);
    bar.value = Math.max(0, Math.min(value, bar.max));
  }

  function show(doc) {
    var current = root();
    if (!current || !doc || typeof doc.state !== "string") return;
    var key = JSON.stringify([doc.state, doc.is_playing, doc.item, doc.progress_ms, doc.timestamp, doc.stale, doc.played_at]);
    if (key === lastKey) return;
    lastKey = key;
    var w = widget(doc);
    current.replaceWith(build(w, current));
    if (doc.item && doc.item.title) document.title = w.label + ": " + doc.item.title;
    announce(w);
    tick();
  }

  // The polite live region says what plays when the track or the state changes: never on
  // progress ticks, and not for the state the page was served with.
  var announced = null;
  function announce(w) {
    var key = [w.state, w.title, w.subtitle].join("\n");
    if (key === announced) return;
    announced = key;
    var region = document.querySelector("[data-np-announce]");
    if (region) region.textContent = [w.label, w.title, w.subtitle].filter(Boolean).join(": ");
  }

  function readSkew(response) {
    var date = Date.parse(response.headers.get("Date") || "");
    if (!isNaN(date)) skewMs = date - Date.now();
  }

  var source = null;
  var retry = null;
  var backoffMs = 1000;

  function poll() {
    timer = null;
    fetch("/now-playing", { headers: { Accept: "application/json" }, cache: "no-cache" })
      .then(function (response) { readSkew(response); return response.json(); })
      .then(show)
      .catch(function () { /* keep showing what we have; try again next round */ })
      .then(function () {
        if (timer === null && source === null && !document.hidden) timer = setTimeout(poll, ttlMs);
      });
  }

  function stopPolling() {
    clearTimeout(timer);
    timer = null;
  }

  function connect() {
    retry = null;
    if (document.hidden) return;
    if (!window.EventSource) { poll(); return; }
    source = new EventSource("/now-playing/events");
    source.addEventListener("now-playing", function (event) {
      backoffMs = 1000;
      stopPolling();
      try { show(JSON.parse(event.data)); } catch (e) { /* a broken event changes nothing */ }
    });
    source.onerror = function () {
      // The stream is down: poll meanwhile and try the stream again, waiting longer each time.
      source.close();
      source = null;
      if (timer === null) poll();
      retry = setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 60000);
    };
  }

  function stop() {
    if (source) { source.close(); source = null; }
    clearTimeout(retry);
    retry = null;
    stopPolling();
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); } else if (source === null && retry === null) { connect(); }
  });
  var first = root();
  if (first) {
    var text = function (selector) { var node = first.querySelector(selector); return node ? node.textContent : ""; };
    var served = /np-state-(\S+)/.exec(first.className);
    announced = [served ? served[1] : "", text(".np-title"), text(".np-artists")].join("\n");
    var firstImg = first.querySelector(".np-art img");
    if (firstImg) fallBack(firstImg, text(".np-title"), /podcast/.test(text(".np-label")));
  }
  setInterval(function () { if (!document.hidden) tick(); }, 1000);
  tick();
  connect();
})();
