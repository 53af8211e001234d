-- Take the renewal lease of one identity, unless a live lease is held.
-- KEYS[1] the token hash (its `fence` field counts fences), KEYS[2] the lease key.
-- ARGV[1] the lease TTL in milliseconds.
-- Returns {1, fence} when taken, {0, milliseconds left on the holder's lease} when held.
-- Atomic: the fence is counted and the lease set (NX PX) in one step, so two callers never
-- both hold it and every fence is larger than the one before it.
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, redis.call('PTTL', KEYS[2])}
end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
redis.call('SET', KEYS[2], fence, 'NX', 'PX', ARGV[1])
return {1, fence}
