-- Numbers, stores and publishes one room event, atomically (sockit chat
-- cluster; docs/protocol.md, Cluster).
-- KEYS[1] sockit:epoch   KEYS[2] sockit:{room}:offset   KEYS[3] sockit:{room}:log
-- ARGV[1] an epoch to use if there is none   ARGV[2] stream cap (0: none)
-- ARGV[3] the room's channel   ARGV[4] origin node   ARGV[5] origin member
-- ARGV[6] the event body (JSON)
-- Returns the event's offset.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
local offset = redis.call('INCR', KEYS[2])
local function add(o)
  local args = {KEYS[3]}
  if tonumber(ARGV[2]) > 0 then
    table.insert(args, 'MAXLEN')
    table.insert(args, '~')
    table.insert(args, ARGV[2])
  end
  for _, v in ipairs({o .. '-0', 'o', o, 'epoch', epoch, 'node', ARGV[4], 'member', ARGV[5], 'ev', ARGV[6]}) do
    table.insert(args, v)
  end
  return redis.pcall('XADD', unpack(args))
end
local added = add(offset)
if type(added) == 'table' and added.err then
  -- The counter is behind the stream (someone reset it): continue after
  -- the stream's newest entry.
  local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  local newest = 0
  if top[1] then
    newest = tonumber(string.match(top[1][1], '^(%d+)')) or 0
  end
  offset = newest + 1
  redis.call('SET', KEYS[2], offset)
  added = add(offset)
  if type(added) == 'table' and added.err then
    return redis.error_reply(added.err)
  end
end
redis.call('PUBLISH', ARGV[3], offset .. ' ' .. epoch .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6])
return offset
