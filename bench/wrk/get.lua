-- GET the path wrk was given, authenticated with the bearer token in $TOKEN.
wrk.headers["Authorization"] = os.getenv("TOKEN")
