"""Request plumbing around the API: login loading, throttling, security headers, the
request log, gzip bodies, JSON, the secret key, health and metrics."""
