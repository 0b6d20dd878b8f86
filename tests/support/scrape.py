"""Reading samples off a Prometheus /metrics page."""


def metric(body: str, line_start: str) -> float | None:
    """The value of the sample whose line starts with `line_start`; None when absent."""
    for line in body.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    return None
