-- names_build.lua: builds the global name and type indexes (P iname:<lower name>,
-- P itype:<lower type>: the item ids of that name, of that type; item_find.lua's) from the
-- libraries' name hashes, for the items of a store made before those indexes existed
-- (item_create.lua and item_remove keep them from then on). Run by every
-- instance's sweeper (store/sweeper.c), again at once while it answers MORE: each call indexes
-- about ARGV[1] names, so no call blocks Redis for long however large the store. Until the
-- build is done (KEYS[2] = 'done'), item_find.lua finds a name the old way, by a scan.
-- ZSCAN and HSCAN return every member that is there from the first call to the last, and only
-- members that are there at the call, so a deleted item is never indexed again and a new one
-- is indexed by its create. Several instances share the one cursor state (KEYS[3]).
-- KEYS[1] P libs, KEYS[2] P names:built, KEYS[3] P names:cursor (hash: zcur = the libs ZSCAN
-- cursor or 'end', lib = the library being read, hcur = its HSCAN cursor), KEYS[4] P names:todo
-- (list: libraries ZSCAN gave, to read). ARGV[1] names per call, ARGV[2] key prefix.
-- Answer: {'OK', 'DONE'} | {'OK', 'MORE'}.
if redis.call('GET', KEYS[2]) == 'done' then return {'OK', 'DONE'} end
local p, budget = ARGV[2], tonumber(ARGV[1])
local st = redis.call('HMGET', KEYS[3], 'zcur', 'lib', 'hcur')
local zcur, lib, hcur = st[1] or '0', st[2], st[3] or '0'
while budget > 0 do
  if lib then
    local r = redis.call('HSCAN', p .. 'lib:' .. lib .. ':names', hcur, 'COUNT', budget)
    for i = 1, #r[2], 2 do
      local id = r[2][i + 1]
      redis.call('SADD', p .. 'iname:' .. r[2][i], id)
      local typ = redis.call('HGET', p .. '{' .. id .. '}:item', 'type')
      if typ and typ ~= '' then redis.call('SADD', p .. 'itype:' .. string.lower(typ), id) end
    end
    budget = budget - math.max(1, #r[2] / 2)
    hcur = r[1]
    if hcur == '0' then lib = nil end
  elseif redis.call('LLEN', KEYS[4]) > 0 then
    lib, hcur = redis.call('LPOP', KEYS[4]), '0'
  elseif zcur ~= 'end' then
    local r = redis.call('ZSCAN', KEYS[1], zcur, 'COUNT', 32)
    for i = 1, #r[2], 2 do redis.call('RPUSH', KEYS[4], r[2][i]) end
    budget = budget - 1
    zcur = r[1] == '0' and 'end' or r[1]
  else
    redis.call('SET', KEYS[2], 'done')
    redis.call('DEL', KEYS[3], KEYS[4])
    return {'OK', 'DONE'}
  end
end
redis.call('HSET', KEYS[3], 'zcur', zcur, 'hcur', hcur)
if lib then redis.call('HSET', KEYS[3], 'lib', lib) else redis.call('HDEL', KEYS[3], 'lib') end
return {'OK', 'MORE'}
