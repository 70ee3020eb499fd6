"""Phase 10: the framework's ceiling for phase 5, a tiny Flask app under the Procfile's gunicorn.

The same gunicorn command as the `web:` line (only the app changes to `bench.bare_flask:app`)
and the same 8 browser-style client processes. Each client signs in once (the session cookie
carries its user id) and then loops over three requests, each reading the cookie, running one
primary-key SELECT of its user and rendering one template: the least a browser transfer's three
requests can cost on this stack. Phase 5 prints its ratio to this.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg2
from flask import Flask, abort, redirect, request, session

PAGE = """<!doctype html><html lang="en"><head><title>{{ title }}</title></head><body>
<main><h1>{{ title }}</h1><p>Signed in as {{ user[1] }} ({{ user[2] }})</p>
<form id="next" method="post" action="{{ action }}">
<input type="hidden" name="step" value="{{ step }}"><button>Continue</button></form>
</main></body></html>"""

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "bench-bare-flask")
template = app.jinja_env.from_string(PAGE)
_local = threading.local()


def _user(user_id: int) -> tuple[Any, ...]:
    """One primary-key SELECT on this thread's own autocommit connection."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = psycopg2.connect(os.environ["DATABASE_URL"])
        conn.autocommit = True
        _local.conn = conn
    with conn.cursor() as cur:
        cur.execute("SELECT id, full_name, email FROM users WHERE id = %s", (user_id,))
        row = cur.fetchone()
    if row is None:
        abort(404)
    return row


def _page(title: str, step: int, action: str) -> str:
    user_id = session.get("uid")
    if user_id is None:
        abort(401)
    return template.render(title=title, user=_user(int(user_id)), step=step, action=action)


@app.get("/auth/login")
def login_form() -> str:
    return "ok"


@app.post("/sign-in/<int:user_id>")
def sign_in(user_id: int) -> Any:
    session["uid"] = user_id
    return redirect("/one", code=303)


@app.get("/one")
def one() -> str:
    return _page("Step one", 1, "/two")


@app.post("/two")
def two() -> str:
    return _page("Step two", int(request.form.get("step", 0)) + 1, "/three")


@app.post("/three")
def three() -> str:
    return _page("Step three", int(request.form.get("step", 0)) + 1, "/one")
