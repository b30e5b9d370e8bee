#!/usr/bin/env python3
"""Drives headless Chromium through chromedriver's W3C WebDriver HTTP API (standard library only)
against widget/dev/mock_proxy.py: a smoke run of the guest flow, and the README screenshots.

    python3 widget/dev/drive.py smoke        # or: hostile csp offline reconnect tabs api mobile
                                             #     keyboard attention resolved a11y budget all
    python3 widget/dev/drive.py screenshots   # writes docs/screenshots/widget-*.png
"""
import base64, json, os, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = os.environ.get("LOBBY_PAGES", "http://127.0.0.1:8181")
PROXY = os.environ.get("LOBBY_PROXY", "http://127.0.0.1:8180")
SHOTS = os.path.join(ROOT, "docs", "screenshots")
PORT = 9555

def req(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=data, method=method,
                               headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return json.loads(resp.read())["value"]
    except urllib.error.HTTPError as e:
        raise RuntimeError(e.read().decode()[:800])

class Browser:
    def __init__(self, width=1280, height=860, mobile=False, dark=False, lang="en-US"):
        self.driver = subprocess.Popen(["chromedriver", f"--port={PORT}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.6)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                "--autoplay-policy=no-user-gesture-required", f"--lang={lang}",
                f"--user-data-dir={tempfile.mkdtemp()}", f"--window-size={width},{height}"]
        if dark:
            args.append("--force-dark-mode")
        caps = {"browserName": "chrome", "goog:chromeOptions": {"args": args, "prefs": {"intl.accept_languages": lang}}}
        if mobile:
            caps["goog:chromeOptions"]["mobileEmulation"] = {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2},
                "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"}
        self.sid = req("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]
    def s(self, method, path, body=None):
        return req(method, f"/session/{self.sid}{path}", body)
    def go(self, url):
        self.s("POST", "/url", {"url": url})
    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})
    def cdp(self, cmd, params):
        return self.s("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})
    def find(self, testid, timeout=10):
        """An element inside the <lobby-chat> shadow root, by data-testid."""
        end = time.time() + timeout
        while True:
            try:
                host = self.s("POST", "/element", {"using": "css selector", "value": "lobby-chat"})
                hid = list(host.values())[0]
                sr = self.s("GET", f"/element/{hid}/shadow")
                srid = list(sr.values())[0]
                el = self.s("POST", f"/shadow/{srid}/element", {"using": "css selector", "value": f"[data-testid={testid}]"})
                return list(el.values())[0]
            except RuntimeError:
                if time.time() > end:
                    raise
                time.sleep(0.1)
    def click(self, testid):
        self.s("POST", f"/element/{self.find(testid)}/click", {})
    def type(self, testid, text):
        self.s("POST", f"/element/{self.find(testid)}/value", {"text": text})
    def shadow_js(self, expr):
        return self.js("const r=document.querySelector('lobby-chat').shadowRoot;return " + expr)
    def wait(self, expr, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.shadow_js(expr)
                if v:
                    return v
            except RuntimeError:
                pass
            time.sleep(0.1)
        raise AssertionError("timed out: " + expr)
    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        path = os.path.join(SHOTS, name)
        open(path, "wb").write(base64.b64decode(self.s("GET", "/screenshot")))
        print("wrote", path)
    def quit(self):
        try:
            self.s("DELETE", "")
        finally:
            self.driver.terminate()

def post(path):
    urllib.request.urlopen(urllib.request.Request(PROXY + path, data=b"", method="POST")).read()

def conversation(b, name="Anna Novák", topic="Late check-in", first="Hello, we land at 23:40. Can we still check in?"):
    b.click("lobby-launcher")
    b.type("lobby-name", name)
    b.type("lobby-topic", topic)
    b.type("lobby-email", "anna@example.com")
    b.type("lobby-first-message", first)
    b.click("lobby-start")
    b.wait("r.querySelector('[data-testid=lobby-message][data-status=sent]')")

def smoke():
    b = Browser()
    try:
        b.go(PAGES + "/")
        assert b.js("return !!document.querySelector('lobby-chat')")
        assert b.js("return performance.getEntriesByType('resource').filter(e=>e.name.includes('/widget/')).length") == 0
        conversation(b)
        post("/_staff?text=" + urllib.parse.quote("Of course, <b>the night desk</b> is open 24/7."))
        b.wait("r.querySelector('[data-author=hotel]')")
        assert "<b>" in b.shadow_js("r.querySelector('[data-author=hotel] .lobby-text').textContent")
        b.type("lobby-composer", "Thank you!\n")
        b.wait("r.querySelectorAll('[data-author=guest][data-status=sent]').length==2")
        b.go(PAGES + "/")  # reload: history
        b.click("lobby-launcher")
        b.wait("r.querySelectorAll('[data-testid=lobby-message]').length==3")
        print("smoke ok:", b.shadow_js("[...r.querySelectorAll('[data-testid=lobby-message]')].map(m=>m.dataset.author+':'+(m.dataset.status||'')).join(' ')"))
    finally:
        b.quit()

def screenshots():
    for name, kw, lang in [("widget-desktop-light.png", {}, "en-US"), ("widget-desktop-dark.png", {"dark": True}, "en-US"),
                           ("widget-mobile.png", {"width": 390, "height": 844, "mobile": True}, "de-DE"),
                           ("widget-rtl.png", {}, "ar")]:
        b = Browser(lang=lang, **kw)
        try:
            if kw.get("dark"):
                b.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
            b.go(PAGES + "/")
            conversation(b, **({"name": "ليلى", "topic": "موقف السيارات", "first": "مرحبًا، هل يوجد موقف سيارات في الفندق؟"} if lang == "ar" else
                               {"topic": "Spätes Einchecken", "first": "Hallo, wir landen um 23:40. Können wir noch einchecken?"} if lang.startswith("de") else {}))
            post("/_staff?text=" + urllib.parse.quote({"ar": "نعم، لدينا موقف سيارات خاص بسعر 25 يورو في الليلة.",
                                                       "de-DE": "Natürlich, die Rezeption ist rund um die Uhr besetzt."}.get(lang, "Of course! The night desk is open 24/7 — just ring the bell.")))
            b.wait("r.querySelector('[data-author=hotel]')")
            time.sleep(0.4)
            b.shot(name)
        finally:
            b.quit()

def violations_hook(b):
    """Records CSP violations from the first script on (WebDriver scripts are exempt from CSP)."""
    b.cdp("Page.addScriptToEvaluateOnNewDocument", {"source":
        "window.__csp=[];document.addEventListener('securitypolicyviolation',e=>__csp.push(e.violatedDirective+' '+e.blockedURI));"
        "window.__lt=[];try{new PerformanceObserver(l=>l.getEntries().forEach(e=>__lt.push(e.duration))).observe({type:'longtask',buffered:true})}catch(e){}"})

def hostile():
    b = Browser()
    try:
        b.go(PAGES + "/test-pages/hostile-css.html")
        # The launcher is visible and on top of the max-z-index overlay.
        hit = b.js("const r=document.querySelector('lobby-chat').shadowRoot.querySelector('.lobby-launcher').getBoundingClientRect();"
                   "return [r.width, r.height, document.elementFromPoint(r.x+r.width/2, r.y+r.height/2).tagName]")
        assert hit[0] == 56 and hit[1] == 56 and hit[2] == "LOBBY-CHAT", hit
        conversation(b)
        fs = b.shadow_js("getComputedStyle(r.querySelector('.lobby-text')).fontSize + ' ' + getComputedStyle(r.querySelector('.lobby-panel')).display")
        assert fs == "15px flex", fs
        assert b.js("return getComputedStyle(document.querySelector('[data-testid=host-probe]')).fontSize") == "28px"
        b.shot("../../target/hostile.png") if os.environ.get("SHOT") else None
        print("hostile ok:", hit, fs)
    finally:
        b.quit()

def csp():
    b = Browser()
    try:
        violations_hook(b)
        b.go(PAGES + "/test-pages/strict-csp.html")
        conversation(b)
        post("/_staff?text=csp-reply")
        b.wait("r.querySelector('[data-author=hotel]')")
        v = b.js("return window.__csp")
        assert v == [], v
        print("csp ok: no violations; panel font", b.shadow_js("getComputedStyle(r.querySelector('.lobby-panel')).fontSize"))
    finally:
        b.quit()

def budget():
    b = Browser()
    try:
        violations_hook(b)
        b.go(PAGES + "/")
        time.sleep(1.5)  # idle: nothing may happen before interest
        before = b.js("return performance.getEntriesByType('resource').filter(e=>e.name.startsWith(arguments[0]))"
                      ".map(e=>[e.name.split('/').pop(), e.transferSize, e.encodedBodySize])", PROXY)
        longtasks = b.js("return window.__lt")
        stored = b.js("return [localStorage.length, sessionStorage.length, document.cookie]")
        t = b.s("POST", "/execute/async", {"script": """
            const done = arguments[arguments.length-1];
            const r = document.querySelector('lobby-chat').shadowRoot;
            const t0 = performance.now();
            r.querySelector('[data-testid=lobby-launcher]').click();
            (function poll(){ const n = r.querySelector('[data-testid=lobby-name]');
              if (n && r.activeElement === n) done(performance.now() - t0); else requestAnimationFrame(poll); })();""", "args": []})
        after = b.js("return performance.getEntriesByType('resource').filter(e=>e.name.includes('/widget/')||e.name.includes('/v1/'))"
                     ".map(e=>[e.name.split('/').pop(), Math.round(e.duration)])")
        print("before interest: requests to the proxy", before)
        print("before interest: long tasks", longtasks, "(blocking ms:", sum(max(0, d - 50) for d in longtasks), ")")
        print("before interest: storage/cookies", stored)
        print("click to interactive (cold, loopback, name field focused): %.0f ms" % t)
        print("fetched on open:", after)
    finally:
        b.quit()

def offline():
    b = Browser()
    try:
        b.go(PAGES + "/")
        conversation(b)
        b.cdp("Network.enable", {})
        b.cdp("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        b.type("lobby-composer", "typed while offline\n")
        b.wait("r.querySelector('[data-status=sending]')")
        time.sleep(2)
        label = b.shadow_js("r.querySelector('[data-status=sending] .lobby-state').textContent")
        b.cdp("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        b.wait("r.querySelectorAll('[data-author=guest][data-status=sent]').length==2", 40)
        post("/_staff?text=after-offline")
        b.wait("r.querySelector('[data-author=hotel]')", 40)
        n = b.shadow_js("[...r.querySelectorAll('[data-testid=lobby-message]')].map(m=>m.querySelector('.lobby-text').textContent)")
        assert n.count("typed while offline") == 1, n
        print("offline ok; queued label was:", label, "; list:", n)
    finally:
        b.quit()

def axe_run(b, label):
    src = open(os.path.join(ROOT, ".tools/node_modules/axe-core/axe.min.js")).read()
    b.js(src + ";return 1")
    res = b.s("POST", "/execute/async", {"script": """const done = arguments[arguments.length-1];
        axe.run({include: [['lobby-chat']]}, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>
          [v.id, v.impact, v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary).slice(0, 3)])));""", "args": []})
    print("axe", label, "violations:", len(res))
    for v in res:
        print("  ", v)
    return res

def a11y():
    bad = 0
    for dark, lang in [(False, "en-US"), (True, "ar")]:
        b = Browser(dark=dark, lang=lang)
        try:
            if dark:
                b.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
            b.go(PAGES + "/")
            bad += len(axe_run(b, "launcher"))
            b.click("lobby-launcher")
            b.find("lobby-name")
            b.click("lobby-start")  # empty: shows the field errors
            time.sleep(0.3)
            bad += len(axe_run(b, "start form with errors" + (" dark rtl" if dark else "")))
            conversation(b) if False else None
            b.type("lobby-name", "Anna"); b.type("lobby-topic", "Parking"); b.type("lobby-first-message", "Hi")
            b.click("lobby-start")
            b.wait("r.querySelector('[data-status=sent]')")
            post("/_staff?text=Hello%20Anna")
            b.wait("r.querySelector('[data-author=hotel]')")
            bad += len(axe_run(b, "conversation" + (" dark rtl" if dark else "")))
            post("/_resolve")
            b.wait("r.querySelector('[data-testid=lobby-resolved]')")
            bad += len(axe_run(b, "resolved"))
        finally:
            b.quit()
    assert bad == 0, bad

def tabs():
    b = Browser()
    try:
        b.go(PAGES + "/")
        conversation(b)
        first = b.s("GET", "/window")
        second = b.s("POST", "/window/new", {"type": "tab"})["handle"]
        b.s("POST", "/window", {"handle": second})
        b.go(PAGES + "/")
        b.click("lobby-launcher")
        b.wait("r.querySelectorAll('[data-testid=lobby-message]').length==1")
        for h in (first, second):
            b.s("POST", "/window", {"handle": h})
            b.js("window.__snd=0;Lobby.on('sound',()=>window.__snd++)")
        for i in range(3):
            post("/_staff?text=reply-%d" % i)
        counts, shown = [], []
        time.sleep(2)
        for h in (first, second):
            b.s("POST", "/window", {"handle": h})
            b.wait("r.querySelectorAll('[data-author=hotel]').length==3")
            counts.append(b.js("return window.__snd"))
        assert sum(counts) == 3, counts
        print("tabs ok: both show 3 replies; sounds per tab", counts)
    finally:
        b.quit()

def api():
    b = Browser(lang="en-US")
    try:
        b.go(PAGES + "/test-pages/host-api.html")
        time.sleep(0.5)
        assert b.js("return localStorage.length + sessionStorage.length") == 0
        assert b.js("return performance.getEntriesByType('resource').filter(e=>e.name.includes('/widget/')).length") == 0
        b.js("document.querySelector('[data-testid=host-open]').click()")
        b.wait("r.querySelector('[data-testid=lobby-panel]:not([hidden])')")
        b.wait("r.querySelector('[data-testid=lobby-name]')")
        lang = b.shadow_js("r.querySelector('[data-testid=lobby-panel]').lang")
        name = b.shadow_js("r.querySelector('[data-testid=lobby-name]').value")
        assert (lang, name) == ("de", "Jana Nováková"), (lang, name)
        b.js("Lobby.setLocale('fr')")
        b.wait("r.querySelector('[data-testid=lobby-panel]').lang=='fr'")
        b.js("Lobby.close()")
        b.wait("r.querySelector('[data-testid=lobby-panel][hidden]')")
        log = b.js("return window.lobbyLog")
        assert log[:3] == ["ready", "opened", "unread 0"] or "opened" in log and "closed" in log, log
        print("api ok:", log)
    finally:
        b.quit()

def mobile():
    b = Browser(width=390, height=844, mobile=True)
    try:
        b.go(PAGES + "/")
        b.click("lobby-launcher")
        b.find("lobby-name")
        m = b.shadow_js("""(()=>{const p=r.querySelector('.lobby-panel').getBoundingClientRect();
            return [Math.round(p.width), Math.round(p.height), innerWidth, Math.round(visualViewport.height),
              getComputedStyle(r.querySelector('[data-testid=lobby-name]')).fontSize,
              r.querySelector('.lobby-root').style.getPropertyValue('--lobby-vh'),
              getComputedStyle(r.querySelector('.lobby-launcher')).display]})()""")
        assert m[0] == m[2] and m[1] == m[3] and m[4] == "16px" and m[6] == "none", m
        print("mobile ok: panel", m)
    finally:
        b.quit()

def reconnect():
    b = Browser()
    try:
        b.go(PAGES + "/")
        conversation(b)
        post("/_staff?text=before")
        b.wait("r.querySelector('[data-author=hotel]')")
        post("/_drop?text=during-outage")
        b.wait("[...r.querySelectorAll('[data-author=hotel]')].some(m=>m.textContent.includes('during-outage'))", 20)
        post("/_staff?text=after")
        b.wait("[...r.querySelectorAll('[data-author=hotel]')].some(m=>m.textContent.includes('after'))", 20)
        time.sleep(1.5)
        texts = b.shadow_js("[...r.querySelectorAll('[data-author=hotel] .lobby-text')].map(m=>m.textContent)")
        assert texts == ["before", "during-outage", "after"], texts
        print("reconnect ok:", texts)
    finally:
        b.quit()

def keys(b, *seq):
    acts = []
    for k in seq:
        for ch in ({"TAB": "\ue004", "ENTER": "\ue007", "ESC": "\ue00c", "SHIFT_TAB": None}.get(k, k) or ""):
            acts += [{"type": "keyDown", "value": ch}, {"type": "keyUp", "value": ch}]
        if k == "SHIFT_TAB":
            acts += [{"type": "keyDown", "value": "\ue008"}, {"type": "keyDown", "value": "\ue004"},
                     {"type": "keyUp", "value": "\ue004"}, {"type": "keyUp", "value": "\ue008"}]
    b.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": acts}]})

def active(b):
    return b.shadow_js("(r.activeElement && (r.activeElement.dataset.testid || r.activeElement.className)) || document.activeElement.tagName")

def keyboard():
    b = Browser()
    try:
        b.go(PAGES + "/")
        b.js("document.querySelector('lobby-chat').shadowRoot.querySelector('[data-testid=lobby-launcher]').focus()")
        keys(b, "ENTER")
        b.wait("r.activeElement && r.activeElement.dataset.testid=='lobby-name'")
        keys(b, "Eva", "TAB", "Spa", "TAB", "TAB", "Hello", "TAB")
        assert active(b) == "lobby-start", active(b)
        keys(b, "TAB")  # wraps to the first control of the panel
        first = active(b)
        keys(b, "SHIFT_TAB")
        assert active(b) == "lobby-start", active(b)
        keys(b, "ENTER")
        b.wait("r.activeElement && r.activeElement.dataset.testid=='lobby-composer'")
        keys(b, "Thanks", "ENTER")
        b.wait("r.querySelectorAll('[data-author=guest][data-status=sent]').length==2")
        keys(b, "ESC")
        b.wait("r.activeElement && r.activeElement.dataset.testid=='lobby-launcher'")
        print("keyboard ok: wrap went to", first, "; Esc returned focus to the launcher")
    finally:
        b.quit()

def attention():
    b = Browser()
    try:
        b.go(PAGES + "/")
        conversation(b)
        b.click("lobby-close")
        post("/_staff?text=badge-1")
        post("/_staff?text=badge-2")
        b.wait("r.querySelector('[data-testid=lobby-unread]').textContent=='2' && !r.querySelector('[data-testid=lobby-unread]').hidden")
        label = b.shadow_js("r.querySelector('[data-testid=lobby-launcher]').getAttribute('aria-label')")
        live = b.shadow_js("r.querySelector('[data-testid=lobby-live]').textContent")
        # A hidden tab gets the title flag: open a second tab so this one is in the background.
        title = b.js("window.__titles=[];new MutationObserver(()=>__titles.push(document.title+' hidden='+document.hidden))"
                     ".observe(document.querySelector('title'),{childList:true,characterData:true,subtree:true});return document.title")
        first = b.s("GET", "/window")
        second = b.s("POST", "/window/new", {"type": "tab"})["handle"]
        b.s("POST", "/window", {"handle": second})
        post("/_staff?text=badge-3")
        time.sleep(1.5)
        b.s("POST", "/window", {"handle": first})
        hidden_title = b.js("return window.__titles")
        b.click("lobby-launcher")
        b.wait("r.querySelector('[data-testid=lobby-unread]').hidden")
        print("attention ok: label", repr(label), "| live", repr(live), "| title while hidden", repr(hidden_title), "| was", repr(title))
    finally:
        b.quit()

def resolved():
    b = Browser()
    try:
        b.go(PAGES + "/")
        conversation(b, name="Petr")
        post("/_resolve")
        b.wait("r.querySelector('[data-testid=lobby-resolved]')")
        assert b.shadow_js("!r.querySelector('[data-testid=lobby-composer]')")
        b.click("lobby-new-conversation")
        b.wait("r.activeElement && r.activeElement.dataset.testid=='lobby-name'")
        name = b.shadow_js("r.querySelector('[data-testid=lobby-name]').value")
        assert name == "Petr", name
        assert b.js("return localStorage.getItem('lobby:grand-vltava:session')") is None
        print("resolved ok: new conversation form, name kept, session forgotten")
    finally:
        b.quit()

CHECKS = ["smoke", "hostile", "csp", "offline", "reconnect", "tabs", "api", "mobile", "keyboard", "attention",
          "resolved", "a11y", "budget"]

def run_all():
    for name in CHECKS:
        globals()[name]()

if __name__ == "__main__":
    import urllib.parse
    {"smoke": smoke, "screenshots": screenshots, "hostile": hostile, "csp": csp, "budget": budget,
     "offline": offline, "a11y": a11y, "tabs": tabs, "api": api, "mobile": mobile, "reconnect": reconnect, "keyboard": keyboard, "attention": attention, "resolved": resolved, "all": run_all}[sys.argv[1] if len(sys.argv) > 1 else "smoke"]()
