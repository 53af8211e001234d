-- Give the lease back, only if the caller's fence still holds it.
-- KEYS[1] the lease key. ARGV[1] the caller's fence, ARGV[2] the events channel.
-- Returns 1 when released, 0 when the lease lapsed or another caller holds it.
-- Atomic compare-and-delete: a holder whose lease lapsed cannot delete its successor's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
  return 1
end
return 0
