-- POST /api/user/login with the benchmark user's credentials (a full argon2id check).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login": "' .. os.getenv("LOGIN") .. '", "password": "' .. os.getenv("PASSWORD") .. '"}'
