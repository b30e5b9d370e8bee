#!/usr/bin/env python3
"""A stand-in for the Lobby proxy, for working on the widget alone (screenshots, manual tries).

Implements API v1 of protocol/src/lib.rs in memory, serves /lobby.js (with "__LOBBY_ASSETS__"
replaced from dist/) and /widget/* from dist/, and the host pages of public/ on a second port
(cross-origin, like a real hotel site). Staff replies: POST /_staff?text=...  resolve: POST /_resolve.
Drop every stream and reply while disconnected: POST /_drop?text=...
Not used by the real tests (they run the real proxy); standard library only.

    python3 widget/dev/mock_proxy.py [proxy_port=8180] [pages_port=8181]
"""
import json, os, re, sys, threading, time, uuid
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROXY_PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8180
PAGES_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8181
PROXY = f"http://127.0.0.1:{PROXY_PORT}"
PROPERTY = "grand-vltava"
INFO = {"id": PROPERTY, "name": "Grand Hotel Vltava", "greeting": "Hello! How can we help you with your stay?",
        "locale": "en", "color": os.environ.get("LOBBY_COLOR", "#7a2e3a"), "open": os.environ.get("LOBBY_AWAY") is None,
        "away_message": "Our front desk is back at 7:00.", "reply_minutes": 5}
lock = threading.Condition()
convs = {}  # session -> {"messages": [...], "resolved": bool, "events": [(id, name, data)]}
seq = [0]
generation = [0]  # bumped by POST /_drop: every open stream ends (a proxy restart)

def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

def add(conv, author, text, client_id=None):
    with lock:
        if client_id:
            for m in conv["messages"]:
                if m.get("client_id") == client_id:
                    return m
        seq[0] += 1
        m = {"id": f"m{seq[0]}", "author": author, "text": text, "at": now()}
        if client_id:
            m["client_id"] = client_id
        conv["messages"].append(m)
        conv["events"].append((m["id"], "message", json.dumps(m)))
        lock.notify_all()
        return m

def assets():
    dist = os.path.join(ROOT, "dist")
    files = os.listdir(dist)
    pick = lambda rx: next(("/widget/" + f for f in files if re.fullmatch(rx, f)), None)
    return json.dumps({"js": pick(r"lobby-widget-[0-9a-f]+\.js"), "wasm": pick(r"lobby-widget-[0-9a-f]+_bg\.wasm"),
                       "css": pick(r"lobby-[0-9a-f]+\.css")})

TYPES = {".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".html": "text/html; charset=utf-8"}

class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def cors(self):
        self.send_header("access-control-allow-origin", "*")
        self.send_header("access-control-allow-headers", "authorization, content-type")
        self.send_header("access-control-allow-methods", "GET, POST, OPTIONS")
    def send(self, code, body, ctype="application/json"):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.cors()
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.send_header("cache-control", "no-store")
        self.end_headers()
        self.wfile.write(body)
    def err(self, code, c):
        self.send(code, {"error": {"code": c, "message": c}})
    def conv(self):
        s = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        return convs.get(s)
    def body(self):
        n = int(self.headers.get("content-length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")
    def do_OPTIONS(self):
        self.send_response(204); self.cors(); self.send_header("content-length", "0"); self.end_headers()
    def do_GET(self):
        u = urlparse(self.path); q = parse_qs(u.query); p = u.path
        if p == "/lobby.js":
            src = open(os.path.join(ROOT, "public/lobby.js")).read().replace('"__LOBBY_ASSETS__"', assets())
            return self.send(200, src.encode(), TYPES[".js"])
        if p.startswith("/widget/"):
            f = os.path.join(ROOT, "dist", os.path.basename(p))
            if not os.path.exists(f):
                return self.err(404, "not_found")
            return self.send(200, open(f, "rb").read(), TYPES[os.path.splitext(f)[1]])
        if p == f"/v1/properties/{PROPERTY}":
            return self.send(200, INFO)
        if p == "/v1/conversation/messages":
            c = self.conv()
            if not c:
                return self.err(401, "unauthorized")
            return self.send(200, {"messages": c["messages"][-50:], "more": len(c["messages"]) > 50, "resolved": c["resolved"]})
        if p == "/v1/conversation/events":
            c = convs.get((q.get("session") or [""])[0])
            if not c:
                return self.err(401, "unauthorized")
            last = self.headers.get("last-event-id") or (q.get("last_event_id") or [None])[0]
            self.send_response(200); self.cors()
            self.send_header("content-type", "text/event-stream"); self.send_header("cache-control", "no-store")
            self.end_headers()
            ids = [e[0] for e in c["events"]]
            i = ids.index(last) + 1 if last in ids else len(ids)
            gen = generation[0]
            try:
                while generation[0] == gen:
                    with lock:
                        while i >= len(c["events"]) and generation[0] == gen:
                            if not lock.wait(15):
                                break
                        if generation[0] != gen:
                            self.close_connection = True
                            return
                        batch = c["events"][i:]; i = len(c["events"])
                    out = "".join(f"id: {e[0]}\nevent: {e[1]}\ndata: {e[2]}\n\n" for e in batch) or ": keep-alive\n\n"
                    self.wfile.write(out.encode()); self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
        return self.err(404, "not_found")
    def do_POST(self):
        u = urlparse(self.path); q = parse_qs(u.query); p = u.path
        if p == f"/v1/properties/{PROPERTY}/conversations":
            b = self.body()
            if not b.get("name") or not b.get("topic"):
                return self.err(400, "invalid_input")
            s = uuid.uuid4().hex
            c = convs[s] = {"messages": [], "resolved": False, "events": [], "name": b["name"], "topic": b["topic"]}
            m = add(c, "guest", b["message"]["text"], b["message"]["client_id"]) if b.get("message") else None
            out = {"session": s, "conversation": {"property": PROPERTY, "name": b["name"], "topic": b["topic"], "resolved": False}}
            if m:
                out["message"] = m
            return self.send(201, out)
        if p == "/v1/conversation/messages":
            c = self.conv()
            if not c:
                return self.err(401, "unauthorized")
            b = self.body()
            return self.send(201, add(c, "guest", b["text"], b["client_id"]))
        if p == "/_staff":
            c = list(convs.values())[-1]
            return self.send(200, add(c, "hotel", q.get("text", ["Thank you, we will take care of it."])[0]))
        if p == "/_drop":
            # Ends every stream, then a staff reply lands while the widgets are disconnected.
            with lock:
                generation[0] += 1; lock.notify_all()
            c = list(convs.values())[-1]
            return self.send(200, add(c, "hotel", q.get("text", ["sent during the outage"])[0]))
        if p == "/_resolve":
            c = list(convs.values())[-1]
            with lock:
                c["resolved"] = True; seq[0] += 1
                c["events"].append((f"r{seq[0]}", "resolved", '{"resolved":true}')); lock.notify_all()
            return self.send(200, {})
        return self.err(404, "not_found")

class Pages(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        p = urlparse(self.path).path
        f = os.path.join(ROOT, "public", "demo/index.html" if p in ("/", "/demo") else p.lstrip("/"))
        if not os.path.isfile(f) or ".." in p:
            self.send_response(404); self.end_headers(); return
        body = open(f, "rb").read().replace(b"{{PROXY}}", PROXY.encode()).replace(b"{{PROPERTY}}", PROPERTY.encode())
        self.send_response(200)
        self.send_header("content-type", TYPES.get(os.path.splitext(f)[1], "application/octet-stream"))
        csp = re.search(rb'<meta name="lobby-test-csp" content="([^"]+)"', body)
        if csp:
            self.send_header("content-security-policy", csp.group(1).decode().replace("{{PROXY}}", PROXY))
        self.end_headers(); self.wfile.write(body)

if __name__ == "__main__":
    threading.Thread(target=ThreadingHTTPServer(("127.0.0.1", PAGES_PORT), Pages).serve_forever, daemon=True).start()
    print(f"mock proxy {PROXY}  pages http://127.0.0.1:{PAGES_PORT}/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", PROXY_PORT), Proxy).serve_forever()
