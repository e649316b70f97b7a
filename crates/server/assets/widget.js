/* cartback on-site reminder: "Previously added to cart". No dependencies, no cookies of its own.
   <script src="https://HUB/onsite/widget.js" data-site="SITE_KEY" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__cartbackLoaded) return;
  window.__cartbackLoaded = true;
  var hub = new URL(script.src).origin;
  var site = script.getAttribute("data-site");
  if (!site) return;
  var KEY = "cartback_visitor:" + site;
  var store = {
    get: function (s, k) { try { return window[s].getItem(k); } catch (e) { return null; } },
    set: function (s, k, v) { try { window[s].setItem(k, v); } catch (e) { /* private mode */ } }
  };
  var params = new URLSearchParams(location.search);
  var fromLink = params.get("cb_v");
  var preview = params.get("cartback_preview");
  if (fromLink) {
    store.set("localStorage", KEY, fromLink);
    params.delete("cb_v");
    var q = params.toString();
    history.replaceState(history.state, "", location.pathname + (q ? "?" + q : "") + location.hash);
  }
  function landing() {
    if (!document.referrer) return true;
    try { return new URL(document.referrer).host !== location.host; } catch (e) { return true; }
  }
  function beacon(path, o) {
    o.site = site; o.visitor = store.get("localStorage", KEY);
    o = JSON.stringify(o);
    if (navigator.sendBeacon) navigator.sendBeacon(hub + path, o);
    else fetch(hub + path, { method: "POST", body: o, keepalive: true });
  }
  function send(kind, message) { beacon("/onsite/event", { message: message, kind: kind }); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) {
      // Defence in depth (the hub already sends only its own or the shop's http(s) links):
      // never a javascript:, data: or other scheme in an href or src.
      if ((k === "href" || k === "src") && !/^https?:\/\//i.test(String(attrs[k] || ""))) continue;
      e.setAttribute(k, attrs[k]);
    }
    if (text) e.textContent = text;
    return e;
  }
  var CSS = ":host{all:initial}" +
    ".cb{position:fixed;z-index:2147483647;right:16px;bottom:16px;width:min(360px,calc(100vw - 32px));box-sizing:border-box;" +
    "background:#fff;color:#1d2433;border-radius:12px;box-shadow:0 10px 40px rgba(0,0,0,.25);padding:16px;font:15px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}" +
    ".cb h2{font-size:16px;margin:0 32px 12px 0}.x{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;background:none;font-size:22px;line-height:1;cursor:pointer;color:#5b6475;border-radius:6px}" +
    "button:focus-visible,a:focus-visible{outline:2px solid #2f6fde;outline-offset:2px}" +
    ".item{display:flex;gap:12px;align-items:center;margin:0 0 10px;color:inherit;text-decoration:none}" +
    ".item img{width:56px;height:56px;object-fit:cover;border-radius:8px;background:#f1f3f6;flex:none}" +
    ".item span{display:block}.item .p{color:#5b6475;font-size:14px}" +
    ".go{display:block;text-align:center;background:#111;color:#fff;text-decoration:none;padding:10px 14px;border-radius:8px;margin-top:6px}" +
    ".why{margin:12px 0 0;padding:0;border:0}.why button{margin:0 6px 6px 0;padding:6px 10px}" +
    "@media (max-width:480px){.cb{right:8px;left:8px;bottom:8px;width:auto}}";
  function show(data, force) {
    var mid = data.message_id || "preview";
    if (!force) {
      if (data.landing_only && !landing()) return;
      if (store.get("sessionStorage", "cartback_shown:" + site)) return;
      if (store.get("localStorage", "cartback_dismissed:" + mid)) return;
    }
    var host = el("div", { id: "cartback-reminder" });
    var root = host.attachShadow({ mode: "open" });
    root.appendChild(el("style", {}, CSS));
    var box = el("div", { "class": "cb", role: "dialog", "aria-modal": "true", "aria-labelledby": "cb-title", tabindex: "-1" });
    box.appendChild(el("h2", { id: "cb-title" }, data.title || "Previously added to cart"));
    var close = el("button", { "class": "x", type: "button", "aria-label": "Close" }, "\u2715");
    box.appendChild(close);
    (data.items || []).forEach(function (it) {
      var a = el("a", { "class": "item", href: it.url || data.recovery_url, "data-kind": "product" });
      if (it.image_url) a.appendChild(el("img", { src: it.image_url, alt: "" }));
      var t = el("span");
      t.appendChild(el("span", {}, it.title));
      if (it.price) t.appendChild(el("span", { "class": "p" }, (it.quantity > 1 ? it.quantity + " \u00d7 " : "") + it.price));
      a.appendChild(t);
      box.appendChild(a);
    });
    if (data.recovery_url) box.appendChild(el("a", { "class": "go", href: data.recovery_url, "data-kind": "cart" }, data.button || "View your cart"));
    var sv = data.survey;
    if (sv && !force) {
      var why = el("fieldset", { "class": "why" });
      why.appendChild(el("legend", {}, sv.question));
      sv.reasons.forEach(function (r) {
        var b = el("button", { type: "button" }, r.label);
        b.onclick = function () {
          beacon("/onsite/survey", { message: data.message_id, reason: r.id });
          why.replaceWith(el("p", { role: "status" }, "Thanks!"));
        };
        why.appendChild(b);
      });
      box.appendChild(why);
    }
    root.appendChild(box);
    var before = document.activeElement;
    function dismiss() {
      store.set("localStorage", "cartback_dismissed:" + mid, "1");
      host.remove();
      document.removeEventListener("keydown", onKey, true);
      if (!force) send("dismiss", data.message_id);
      if (before && before.focus) before.focus();
    }
    function onKey(e) {
      if (e.key === "Escape") { e.preventDefault(); dismiss(); return; }
      if (e.key !== "Tab") return;
      var f = Array.prototype.slice.call(root.querySelectorAll("a[href],button"));
      if (!f.length) return;
      var first = f[0], last = f[f.length - 1], active = root.activeElement;
      if (e.shiftKey && (active === first || !active)) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && (active === last || !active)) { e.preventDefault(); first.focus(); }
    }
    close.addEventListener("click", dismiss);
    root.querySelectorAll("a").forEach(function (a) {
      a.addEventListener("click", function () { if (!force) send("click", data.message_id); });
    });
    document.addEventListener("keydown", onKey, true);
    document.body.appendChild(host);
    box.focus();
    store.set("sessionStorage", "cartback_shown:" + site, mid);
    if (!force) send("impression", data.message_id);
  }
  function load(force) {
    var visitor = store.get("localStorage", KEY);
    var url = hub + "/onsite/cart?site=" + encodeURIComponent(site);
    if (force) url += "&preview=" + encodeURIComponent(preview);
    else if (visitor) url += "&visitor=" + encodeURIComponent(visitor);
    else return;
    fetch(url, { mode: "cors", credentials: "omit" })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (d) { if (d && d.items && d.items.length) show(d, force); })
      .catch(function () { /* the shop page must never break because of the reminder */ });
  }
  window.cartback = window.cartback || {};
  /* identify({ email, signature }): signature = hex HMAC-SHA256(email, site secret), computed by the shop's server. */
  window.cartback.identify = function (o) {
    if (!o || !o.email || !o.signature) return;
    fetch(hub + "/onsite/identify?site=" + encodeURIComponent(site) + "&email=" + encodeURIComponent(o.email) +
      "&signature=" + encodeURIComponent(o.signature), { mode: "cors", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && d.visitor) { store.set("localStorage", KEY, d.visitor); load(false); } })
      .catch(function () {});
  };
  function start() { load(!!preview); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
