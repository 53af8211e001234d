-- Publish a renewed token set as the next version, fenced.
-- KEYS[1] the token hash, KEYS[2] the lease key.
-- ARGV[1] the caller's fence, ARGV[2] the version the renewal started from, ARGV[3] the
-- version to publish as (greater than ARGV[2]), ARGV[4] the sealed token set, ARGV[5] the
-- events channel.
-- Returns {1, new version} when published, {0, current version} when refused.
-- Allowed while the caller's fence holds the lease, or when the lease lapsed and nobody
-- took it; either way only if nothing was published since the renewal's base version. The
-- version bump, the blob and the cleared invalidation are written together, so a reader
-- never sees a version with another version's tokens.
local holder = redis.call('GET', KEYS[2])
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if (holder and holder ~= ARGV[1]) or current ~= tonumber(ARGV[2]) then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'blob', ARGV[4])
redis.call('HDEL', KEYS[1], 'bad')
redis.call('PUBLISH', ARGV[5], ARGV[3])
return {1, tonumber(ARGV[3])}
