-- item_find.lua: items by name (case-insensitive), library, type (case-insensitive) and cached
-- state; '' = any. KEYS[2] library index. ARGV[3] name, ARGV[4] library id, ARGV[5] type,
-- ARGV[6] cached ('1', '0' or ''), ARGV[7] key prefix.
-- The answer is in library order (P libs), then item order (the library's item set). The
-- candidates come from an index where there is one, so the cost is that of the matches, not of
-- the store: with a name, the library's name hash (P lib:<id>:names) when a library is given,
-- else the global name index (P iname:<lower name>, item ids in any library); with a type and
-- no name nor library, the global type index (P itype:<lower type>). The global indexes are
-- used once built (P names:built = 'done'; names_build.lua builds them for a store of before
-- them; till then such a find scans). Else the library's items (or every library's) are
-- scanned: such a find answers what it scans (the library's, or all, items of a cached state),
-- and the API has no cursor.
local p = ARGV[7]
local name, typ = string.lower(ARGV[3]), string.lower(ARGV[5])

local function matches(id)
  local f = redis.call('HMGET', p .. '{' .. id .. '}:item', 'name', 'type', 'cached')
  return f[1] and (name == '' or string.lower(f[1]) == name)
      and (typ == '' or string.lower(f[2] or '') == typ)
      and (ARGV[6] == '' or f[3] == ARGV[6])
end

-- ZRANGE's order: score, then the member's bytes (string '<' follows the locale).
local function before(sa, a, sb, b)
  if sa ~= sb then return sa < sb end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local out = {'OK'}
local built = redis.call('GET', p .. 'names:built') == 'done'
local ids -- the candidates an index gives, or nil: scan
if name ~= '' and ARGV[4] ~= '' then
  local id = redis.call('HGET', p .. 'lib:' .. ARGV[4] .. ':names', name)
  ids = id and {id} or {}
elseif name ~= '' and built then
  ids = redis.call('SMEMBERS', p .. 'iname:' .. name)
elseif typ ~= '' and ARGV[4] == '' and built then
  ids = redis.call('SMEMBERS', p .. 'itype:' .. typ)
end
if ids then
  local hits = {}
  for _, id in ipairs(ids) do
    local lib = redis.call('HGET', p .. '{' .. id .. '}:item', 'library_id')
    local ls = lib and (ARGV[4] ~= '' and 0 or redis.call('ZSCORE', KEYS[2], lib))
    local is = ls and redis.call('ZSCORE', p .. 'lib:' .. lib .. ':items', id)
    if is and matches(id) then
      hits[#hits + 1] = {id = id, lib = lib, ls = tonumber(ls), is = tonumber(is)}
    end
  end
  table.sort(hits, function(a, b)
    if a.lib ~= b.lib then return before(a.ls, a.lib, b.ls, b.lib) end
    return before(a.is, a.id, b.is, b.id)
  end)
  for _, h in ipairs(hits) do out[#out + 1] = h.id end
  return out
end
local libs = ARGV[4] ~= '' and {ARGV[4]} or redis.call('ZRANGE', KEYS[2], 0, -1)
for _, lib in ipairs(libs) do
  for _, id in ipairs(redis.call('ZRANGE', p .. 'lib:' .. lib .. ':items', 0, -1)) do
    if matches(id) then out[#out + 1] = id end
  end
end
return out
