-- GCRA (generic cell rate algorithm) admission for one quota, on the server's clock.
-- KEYS[1] the quota's theoretical arrival time (microseconds since the epoch).
-- ARGV[1] the emission interval T, ARGV[2] the tolerance tau, both in microseconds.
-- Returns {1, now} when admitted (now: the server time of admission, microseconds), or
-- {0, wait} with the microseconds until a request would be admitted.
-- Atomic read-decide-write, so processes sharing the key never admit more than the quota.
-- Lua numbers are doubles: microseconds since the epoch stay exact (under 2^53), and the
-- state is written with %.0f, never in exponent form.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return {1, now}
