"""What each piece of the request plumbing costs: CPU per request with one piece switched
off at a time, against everything on, the variants taking turns round by round; and, for
the pieces a request cannot go without (authentication, the sessions), their own CPU timed
around them with everything on.

    .venv/bin/python bench/request_pieces.py                  # GET balance and POST orders
    .venv/bin/python bench/request_pieces.py --rounds 9 --count 400

Through the Flask test client, as bench/profile_paths.py (the same app and data).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import profile_paths

HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def _named(module: str, qualname: str = "") -> Callable[[object], bool]:
    return lambda f: getattr(f, "__module__", "").startswith(module) and qualname in getattr(f, "__qualname__", "")


# piece -> which request hooks are it
HOOK_PIECES = {
    "request log (id, timer, JSON line)": _named("gophermart.web.request_log"),
    "metrics (request duration and counts)": _named("gophermart.web.metrics"),
    "security headers": _named("gophermart.web.security_headers"),
    "limiter's hooks": _named("gophermart.web.throttling"),
    "response compression (Flask-Compress)": _named("flask_compress"),
    "Flask-Login's remember-cookie hook": _named("flask_login"),
}
MIDDLEWARES = {
    "unread-body middleware": "UnreadBodyMiddleware",
    "gzip request-body middleware": "GzipRequestMiddleware",
}


@contextmanager
def without_hooks(app, is_piece) -> Iterator[None]:
    saved = {kind: list(getattr(app, kind).get(None, [])) for kind in HOOKS}
    for kind in HOOKS:
        getattr(app, kind)[None] = [f for f in saved[kind] if not is_piece(f)]
    try:
        yield
    finally:
        for kind in HOOKS:
            getattr(app, kind)[None] = saved[kind]


@contextmanager
def without_middleware(app, name: str) -> Iterator[None]:
    outer = app.wsgi_app
    layers, layer = [], outer
    while hasattr(layer, "app"):
        layers.append(layer)
        layer = layer.app
    [found] = [m for m in layers if type(m).__name__ == name]
    parent = next((m for m in layers if m.app is found), None)
    if parent is None:
        app.wsgi_app = found.app
    else:
        parent.app = found.app
    try:
        yield
    finally:
        if parent is None:
            app.wsgi_app = outer
        else:
            parent.app = found


@contextmanager
def everything_on(_app) -> Iterator[None]:
    yield


def variants(app) -> dict[str, Callable]:
    out: dict[str, Callable] = {"everything on": everything_on}
    for piece, is_piece in HOOK_PIECES.items():
        out[piece] = lambda a, p=is_piece: without_hooks(a, p)
    for piece, name in MIDDLEWARES.items():
        out[piece] = lambda a, n=name: without_middleware(a, n)
    return out


class Timed:
    """CPU time spent inside `owner.name`, added up over calls (recursion not expected)."""

    def __init__(self, owner, name: str):
        self.owner, self.name, self.original = owner, name, getattr(owner, name)
        self.ns = 0
        original = self.original

        def timed(*args, **kwargs):
            started = time.process_time_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.ns += time.process_time_ns() - started

        setattr(owner, name, timed)

    def restore(self) -> None:
        setattr(self.owner, self.name, self.original)


def timed_pieces(app) -> dict[str, Timed]:
    from gophermart.extensions import db
    from gophermart.web import login
    from gophermart.web.login import login_manager

    return {
        "Flask-Login's loading (token check and the user's read)": Timed(login_manager, "_load_user"),
        "  of it: the user's read (pool check-out, one SELECT, return)": Timed(login, "first_alone"),
        "  of it: the user's read through the session (requests that write)": Timed(login, "run_alone"),
        "cookie session: open": Timed(app.session_interface, "open_session"),
        "cookie session: save": Timed(app.session_interface, "save_session"),
        "database session's end (scoped session removed)": Timed(db, "_teardown_session"),
    }


def cpu_per_request(client, spec, count: int) -> float:
    _, cpu = profile_paths.run(client, spec, count, rounds=1)
    return cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--paths", nargs="*", default=["balance", "post_order"], choices=profile_paths.PATHS)
    args = parser.parse_args()
    client, specs = profile_paths.setup()
    app = client.application
    if hasattr(app.teardown_appcontext_funcs[0], "__self__"):  # the bound method was registered: time the hook
        from gophermart.extensions import db

        app.teardown_appcontext_funcs[:] = [lambda exc: db._teardown_session(exc)]
    kinds = variants(app)
    for path in args.paths:
        spec = specs[path]
        cpu: dict[str, list[float]] = {name: [] for name in kinds}
        timed: dict[str, list[float]] = {}
        names = list(kinds)
        for round_ in range(args.rounds):
            # Each round starts with another variant: no piece always runs first, or last.
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                switched = kinds[name]
                with switched(app):
                    cpu[name].append(cpu_per_request(client, spec, args.count))
            # A round of its own: the timers' own cost stays out of the variants above.
            timers = timed_pieces(app)
            cpu_per_request(client, spec, args.count)
            requests = args.count + min(20, args.count)  # the warm-up requests ran under the timers too
            for piece, timer in timers.items():
                timer.restore()
                timed.setdefault(piece, []).append(timer.ns / requests / 1e6)
        whole = statistics.median(cpu["everything on"])
        print(f"\n{path}: CPU ms per request, median of {args.rounds} rounds of {args.count}")
        print(f"| piece | ms | share of the request |\n|---|---:|---:|\n| everything on | {whole:.3f} | 1.00 |")
        for name in kinds:
            if name != "everything on":
                saved = whole - statistics.median(cpu[name])
                print(f"| {name} (switched off) | {saved:.3f} | {saved / whole:.2f} |")
        for piece, values in timed.items():
            spent = statistics.median(values)
            print(f"| {piece} (timed) | {spent:.3f} | {spent / whole:.2f} |")


if __name__ == "__main__":
    main()
