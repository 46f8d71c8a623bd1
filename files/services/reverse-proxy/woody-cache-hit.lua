-- Answers an API request from the shop's Redis cache when it holds a fresh answer for it (or an
-- expired one that a request is renewing: STALE), so a cache hit never reaches the API, let
-- alone waits for its single work slot. Everything else (a miss, an invalidated entry, an
-- expired one nobody renews yet, a parameter given twice, Redis unreachable) goes to the API,
-- which owns the cache: its keys, values and generations are written by
-- files/services/api/woody_api/cache.py, and VIEWS below must name the parameters each cached view
-- reads there (tests/services/test_svc_reverse_proxy.py checks both agree).
local redis = require "nginx.redis"

local VIEWS = {
    ["/api/misc/heavy"] = { tag = "heavy", params = { "name" } },  -- parameters sorted by name
    ["/api/products/last"] = { tag = "products", params = {} },
}
local TIMEOUT_MS = 200  -- connect, then each command (the name lookup: resolver_timeout)
-- A breaker shared by the workers: after a Redis error the cache is left to the API for about
-- DOWN_SECONDS (jittered, so proxies do not come back in step), then one request probes Redis
-- while the others still skip it; the outcome closes or opens the breaker again.
local DOWN_SECONDS = 2
local PROBE_SECONDS = 1  -- longest a probe keeps the others out (its own calls are bounded)

-- Python's urllib.parse.quote_plus: what the API's key holds for a parameter.
local function quote_plus(value)
    return (value:gsub("[^%w_.~-]", function(c)
        if c == " " then
            return "+"
        end
        return string.format("%%%02X", string.byte(c))
    end))
end

local view = VIEWS[ngx.var.uri]
local method = ngx.req.get_method()
if not view or (method ~= "GET" and method ~= "HEAD") then
    return
end
local state = ngx.shared.woody_cache
if state:get("redis_down") then
    return  -- open
end
local probing = state:get("redis_suspect")
if probing and not state:add("redis_probe", true, PROBE_SECONDS) then
    return  -- half open, and another request is the probe
end

local args = ngx.req.get_uri_args(64)
local query = {}
for _, name in ipairs(view.params) do
    local value = args[name]
    if type(value) ~= "string" then
        return  -- missing, valueless or repeated: the API answers that
    end
    query[#query + 1] = quote_plus(name) .. "=" .. quote_plus(value)
end
local key = "woody:cache:" .. view.tag .. ":" .. ngx.var.uri .. "?" .. table.concat(query, "&")

local function unavailable(what, err)
    -- Jitter from the clock's milliseconds: 0.5 to 1.5 times DOWN_SECONDS.
    local seconds = DOWN_SECONDS * (0.5 + (ngx.now() * 1000 % 1000) / 1000)
    if state:add("redis_down", true, seconds) then
        if not probing then
            ngx.log(ngx.WARN, "cache lookup breaker open: ", what, ": ", err,
                    "; probing Redis again in ", string.format("%.1f", seconds), " s")
        end
    end
    state:set("redis_suspect", true)
    state:delete("redis_probe")
end

local function available()
    if probing then
        state:delete("redis_suspect")
        state:delete("redis_probe")
        ngx.log(ngx.WARN, "cache lookup breaker closed: Redis answers again")
    end
end

local client = redis:new()
client:set_timeout(TIMEOUT_MS)
local ok, err = client:connect(ngx.var.woody_redis_host, tonumber(ngx.var.woody_redis_port))
if not ok then
    return unavailable("connect", err)
end
-- A pooled connection is already authenticated; a new one sends the password (read from its
-- Docker secret, never from the configuration) before anything else.
local password_file = ngx.var.woody_redis_password_file
if password_file ~= "" and client:get_reused_times() == 0 then
    local file = io.open(password_file)
    local password = file and file:read("*l")
    if file then
        file:close()
    end
    if not password or password == "" then
        return unavailable("auth", "no password in " .. password_file)
    end
    local authed, auth_err = client:auth(password)
    if not authed then
        return unavailable("auth", auth_err)
    end
end
local found, mget_err = client:mget("woody:gen:" .. view.tag, key, key .. "#lock")
if not found then
    return unavailable("mget", mget_err)
end
client:set_keepalive(10000, 64)
available()

local generation = found[1] ~= ngx.null and found[1] or "0"
local entry = found[2]
if entry == ngx.null then
    return
end
local stored_generation, fresh_until, body = entry:match("^([^\n]*)\n([^\n]*)\n(.*)$")
if stored_generation ~= generation or not tonumber(fresh_until) then
    return  -- invalidated (a write since): the API computes the answer again
end
local fresh = tonumber(fresh_until) > ngx.now()
local renewing = found[3] ~= ngx.null
if not fresh and not renewing then
    return  -- expired and nobody renews it yet: the API takes the renewal
end

ngx.header["Content-Type"] = "text/plain; charset=utf-8"
ngx.header["X-Cache"] = fresh and "HIT" or "STALE"
ngx.header["X-Served-By"] = ngx.var.hostname
-- As the API answers (files/services/api/woody_api/app.py): no cache on the way may store it.
ngx.header["Cache-Control"] = "no-store"
ngx.header["X-Content-Type-Options"] = "nosniff"
ngx.header["Content-Length"] = #body
ngx.print(body)
return ngx.exit(ngx.HTTP_OK)
