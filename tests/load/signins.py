#!/usr/bin/env python3
"""Peak memory of `metroplan serve` under N concurrent sign-ins with wrong passwords.

    python3 tests/load/signins.py target/debug/metroplan 100 --behind-proxy

Starts the server on a fresh SQLite file (extra arguments go to `serve`; `--behind-proxy`
keeps the per-address throttle out of the way, since every request comes from 127.0.0.1),
opens the sign-in page once per attempt for its CSRF token, posts all attempts at once, and
prints the idle RSS, the peak (VmHWM) and the statuses.
"""
import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
binary, n = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp()
server = subprocess.Popen(
    [binary, "serve", "--plans", os.path.join(repo, "plans"), "--bind", "127.0.0.1:0",
     "--database", f"sqlite://{work}/m.db", "--now", "2021-03-01T10:00:00+01:00",
     "--documents", f"{work}/docs", "--max-connections-per-address", str(n + 16)] + sys.argv[3:],
    stdout=subprocess.PIPE, env={**os.environ, "METROPLAN_LOG": "error"}, cwd=repo)
addr = server.stdout.readline().decode().strip().split("http://")[1]


def rss(key):
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) // 1024


def attempt(i, out):
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        page = opener.open(f"http://{addr}/connexion").read().decode()
        token = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"_csrf": token, "email": f"x{i}@example.org", "password": "faux"}).encode()
        out.append(opener.open(f"http://{addr}/connexion", form).status)
    except urllib.error.HTTPError as e:
        out.append(e.code)
    except OSError as e:
        out.append(type(e).__name__)


time.sleep(1)
idle = rss("VmRSS")
out = []
threads = [threading.Thread(target=attempt, args=(i, out)) for i in range(n)]
start = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"{n} concurrent sign-ins: idle RSS {idle} MiB, peak (VmHWM) {rss('VmHWM')} MiB, "
      f"{time.time() - start:.1f} s, statuses {dict((s, out.count(s)) for s in set(out))}")
server.terminate()
server.wait()
