/*! Lobby loader: draws the chat launcher in a Shadow DOM and loads the WASM widget on interest. */
// Readable source of public/lobby.js (build: public/build-loader.sh). Docs: widget/README.md.
// The proxy serves the built file and replaces the token "__LOBBY_ASSETS__" (with its quotes) by
// the widget's content-hashed stem "/widget/HASH": the files are HASH.js, HASH_bg.wasm, HASH.css.
(function (w, d) {
  var s = d.currentScript || d.querySelector("script[data-property]");
  if (!s || w.__lobby) return;
  w.__lobby = 1;
  var a = s.dataset, o = w.LobbySettings || {}, A = "__LOBBY_ASSETS__";
  var px = (a.proxy || new URL(s.src, location.href).origin).replace(/\/$/, "");
  var K = "lobby:" + a.property + ":", h, busy, q = [], ev = {}, cons = !!o.consent;
  function get(st, k) { try { return w[st].getItem(K + k); } catch (e) {} }
  var L = o.locale || a.locale || (navigator.language || "en");
  // "Chat" reads the same in en, de, fr, es, it, cs and nl; the widget sets the full, translated
  // label once it has loaded.
  var lab = /^ar/i.test(L) ? "دردشة" : "Chat";

  function el(t, c, p) { var e = d.createElement(t); if (c) e.className = c; if (p) p.appendChild(e); return e; }
  function at(e, k, v) { e.setAttribute(k, v); }
  var host = el("lobby-chat"), sr = host.attachShadow({ mode: "open" });
  var root = el("div", "lobby-root lobby-" + (a.position == "left" ? "left" : "right"), sr);
  var btn = el("button", "lobby-launcher", root), mnt = el("div", "lobby-mount", root);
  btn.type = "button";
  btn.dataset.testid = "lobby-launcher";
  at(btn, "aria-label", a.launcherText || lab);
  at(btn, "aria-expanded", "false");
  at(btn, "aria-haspopup", "dialog");
  var svg = btn.appendChild(d.createElementNS("http://www.w3.org/2000/svg", "svg"));
  at(svg, "viewBox", "0 0 24 24");
  at(svg, "aria-hidden", "true");
  at(svg.appendChild(d.createElementNS(svg.namespaceURI, "path")), "d",
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
  if (a.launcherText) el("span", "lobby-label", btn).textContent = a.launcherText;
  var bad = el("span", "lobby-badge", btn);
  bad.dataset.testid = "lobby-unread";
  at(bad, "aria-hidden", "true");
  bad.hidden = true;
  // The page's colour, with black or white text on it, whichever reaches the higher contrast.
  if (/^#[0-9a-f]{6}$/i.test(a.color)) {
    var n = parseInt(a.color.slice(1), 16), l = 0;
    [0.2126, 0.7152, 0.0722].forEach(function (w, i) {
      var v = ((n >> (16 - 8 * i)) & 255) / 255;
      l += w * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    });
    root.style.setProperty("--lobby-accent", a.color);
    root.style.setProperty("--lobby-on-accent", l > 0.179 ? "#000" : "#fff");
  }
  if (a.theme) root.dataset.theme = a.theme;

  // Styles without inline <style>: constructable sheets pass a strict style-src.
  function css(t) {
    var c = new CSSStyleSheet();
    c.replaceSync(t);
    sr.adoptedStyleSheets = sr.adoptedStyleSheets.concat(c);
  }
  // The host element goes into the browser's top layer (a manual popover, shown once it is in the
  // page): above every z-index, position and transform of the page, including overlays at the
  // maximum z-index. Without the Popover API, a fixed host at the maximum z-index, last in <body>.
  at(host, "popover", "manual");
  css(":host{all:initial!important;position:fixed!important;z-index:2147483647!important}:host::backdrop{display:none!important}.lobby-root{--lobby-accent:#1d4e89;direction:ltr}" +
    ".lobby-launcher{position:fixed;z-index:2147483647;bottom:20px;right:20px;display:flex;align-items:center;gap:8px;" +
    "min-width:56px;height:56px;padding:0 15px;border:0;border-radius:28px;background:var(--lobby-accent);" +
    "color:var(--lobby-on-accent,#fff);font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px #0004}" +
    ".lobby-left .lobby-launcher{right:auto;left:20px}.lobby-launcher:focus-visible{outline:3px solid #0b57d0;outline-offset:3px}" +
    ".lobby-launcher svg{width:26px;height:26px;fill:currentColor}.lobby-badge{position:absolute;top:-4px;right:-4px;min-width:8px;" +
    "padding:0 6px;border-radius:10px;background:#c5221f;color:#fff;font-size:12px;line-height:20px}" +
    "[hidden]{display:none!important}@media (max-width:640px){.lobby-open .lobby-launcher{display:none}}");

  // Host API: calls before the widget has loaded are queued and replayed in order.
  function emit(n, v) {
    if (n == "opened" || n == "closed") {
      at(btn, "aria-expanded", n == "opened");
      root.classList.toggle("lobby-open", n == "opened");
      if (n == "closed" && sr.activeElement) btn.focus();
    }
    if (n == "unread") {
      bad.hidden = !v.count;
      bad.textContent = v.count > 99 ? "99+" : v.count;
      // A launcher text of the page's stays the start of the button's name (WCAG 2.5.3).
      at(btn, "aria-label", a.launcherText ? a.launcherText + (v.count ? ", " + v.label : "") : v.label);
    }
    (ev[n] || []).forEach(function (f) { try { f(v); } catch (e) { console.error(e); } });
  }
  function load() {
    if (!busy) {
      at(btn, "aria-busy", "true");
      busy = Promise.all([import(px + A + ".js"), fetch(px + A + ".css").then(function (r) { return r.text(); })])
        .then(function (r) {
          css(r[1]);
          return r[0].default({ module_or_path: px + A + "_bg.wasm" }).then(function () {
            // The widget reads the script's data attributes (d) and window.LobbySettings (o) itself.
            h = r[0].mount(mnt, { proxy: px, a: A, d: a, o: o, consent: cons, emit: emit });
            btn.removeAttribute("aria-busy");
            while (q.length) call.apply(0, q.shift());
            emit("ready", {});
          });
        }, function (e) { busy = 0; btn.removeAttribute("aria-busy"); throw e; });
    }
    return busy;
  }
  function call(m, x) {
    if (h) return h[m].apply(h, x || []);
    q.push([m, x]);
    if (m == "open" || m == "toggle") load();
  }
  var api = {
    open: function () { call("open"); }, close: function () { call("close"); },
    toggle: function () { call("toggle"); }, load: load,
    setLocale: function (l) { o.locale = l; call("setLocale", [l]); },
    setTheme: function (t) { root.dataset.theme = t; },
    prefill: function (p) { o.name = p.name; o.email = p.email; call("prefill", [p.name, p.email]); },
    consent: function () { cons = true; call("consent"); },
    on: function (n, f) { (ev[n] = ev[n] || []).push(f); },
    off: function (n, f) { ev[n] = (ev[n] || []).filter(function (g) { return g != f; }); },
    push: function (c) { api[c[0]].apply(0, c.slice(1)); }
  };
  var pre = w.Lobby;
  w.Lobby = api;
  (Array.isArray(pre) ? pre : []).forEach(api.push);

  // Loading on interest; on idle too when asked, or for a returning guest with a conversation.
  btn.addEventListener("click", function () { h ? h.toggle() : call("open"); });
  if (a.load != "click") ["pointerenter", "focus", "touchstart"].forEach(function (t) {
    btn.addEventListener(t, load, { once: true, passive: true });
  });
  // Storage is read in a task of its own: a first access can wait on the browser's storage.
  function idle() { (w.requestIdleCallback || setTimeout)(load, { timeout: 3000 }); }
  setTimeout(function () {
    if (get("sessionStorage", "open")) call("open");
    else if ((a.load == "idle" && !(navigator.connection || {}).saveData) || get("localStorage", "session"))
      d.readyState == "complete" ? idle() : w.addEventListener("load", idle);
  });
  function add() { d.body.appendChild(host); try { host.showPopover(); } catch (e) {} }
  d.body ? add() : d.addEventListener("DOMContentLoaded", add);
})(window, document);
