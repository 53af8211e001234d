-- Mark one version unusable (a 401 answered it), only if it is still the current one.
-- KEYS[1] the token hash. ARGV[1] the version that was used.
-- Returns 1 when marked, 0 when a newer version (or none) is current.
-- Atomic compare-and-set: a late 401 on an old token never invalidates its successor.
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) == tonumber(ARGV[1]) and redis.call('HEXISTS', KEYS[1], 'blob') == 1 then
  redis.call('HSET', KEYS[1], 'bad', current)
  return 1
end
return 0
