-- The cluster's epoch (made if missing, as append.lua would) and the
-- newest offset of each room asked about (0 for a room never written).
-- KEYS[1] sockit:epoch   KEYS[2..] sockit:{room}:offset
-- ARGV[1] an epoch to use if there is none
-- Returns {epoch, offset, offset, ...} as strings.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local out = {epoch}
for i = 2, #KEYS do
  out[i] = redis.call('GET', KEYS[i]) or '0'
end
return out
