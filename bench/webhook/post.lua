-- post.lua: wrk script POSTing the file named by $BODY_FILE to the URL's
-- path with Content-Type application/json (keep-alive is wrk's default).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()

-- non-2xx answers are counted by wrk itself ("Non-2xx or 3xx responses")
