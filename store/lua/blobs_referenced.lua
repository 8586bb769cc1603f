-- blobs_referenced.lua: the scan's question (store_blobs_referenced): for each path below
-- --storage-dir, does Redis still reference it? Runs without a login (session_lib joined in
-- front for session_keys). ARGV[1] = key prefix, ARGV[2] = number of paths, ARGV[3] = the paths
-- joined with '\n' (one argument, so a batch is not bounded by the C side's argument count).
--   staging/<item>/<uuid>/<blob>[.part]  kept while the session <item>:<uuid> is ACTIVE and one
--                                        of its files records <blob>
--   staging/<item>/<uuid>                kept while that session is ACTIVE
--   items/<item>/<blob>                  kept while the item exists and one of its published
--                                        files records <blob>, or the ACTIVE session named by
--                                        the item's lock records <blob> (complete links into
--                                        items/ before its script publishes: that link is not
--                                        an orphan, whatever the grace period)
--   items/<item>                         kept while the item exists
-- Anything else is kept: we never call garbage what we do not understand. A record that does
-- not decode keeps every blob of its session or item. Answer: {'OK', '1' | '0', ...}, one flag
-- per path, in order. Sessions and items are read once per call however many paths name them.
local prefix, count, joined = ARGV[1], tonumber(ARGV[2]) or 0, ARGV[3] or ''

local COMPONENT = '^[A-Za-z0-9_:%-][A-Za-z0-9._:%-]*$'

-- The blobs a files hash (name -> JSON record) names, as a set; true = keep everything.
local function blob_set(files)
  local set = {}
  for _, text in ipairs(redis.call('HVALS', files)) do
    local ok, f = pcall(cjson.decode, text)
    if not ok or type(f) ~= 'table' then return true end
    if type(f.blob) == 'string' and f.blob ~= '' then set[f.blob] = true end
  end
  return set
end

local function has(set, blob)
  return set == true or (set and set[blob] == true) or false
end

-- Per session id: false (not ACTIVE or gone) or the set of its files' blobs.
local sessions = {}
local function active_session_blobs(sid)
  local v = sessions[sid]
  if v == nil then
    local rec, _, _, files = session_keys(prefix, sid)
    v = false
    if rec and redis.call('HGET', rec, 'state') == 'ACTIVE' then v = blob_set(files) end
    sessions[sid] = v
  end
  return v
end

-- Per item id: false (no item) or {published = set, lock_sid = id of the locking session}.
local items = {}
local function item_info(item)
  local v = items[item]
  if v == nil then
    local base = prefix .. '{' .. item .. '}:'
    v = false
    if redis.call('EXISTS', base .. 'item') == 1 then
      v = {published = blob_set(base .. 'files'), lock_sid = redis.call('GET', base .. 'lock')}
    end
    items[item] = v
  end
  return v
end

local function referenced(path)
  local c = {}
  for part in string.gmatch(path, '[^/]+') do
    if #c == 4 or not string.match(part, COMPONENT) then return true end
    c[#c + 1] = part
  end
  if string.find(path, '//', 1, true) or string.sub(path, 1, 1) == '/' or
     string.sub(path, -1) == '/' then
    return true
  end
  if c[1] == 'staging' and (#c == 3 or #c == 4) then
    local blobs = active_session_blobs(c[2] .. ':' .. c[3])
    if #c == 3 or blobs == false then return blobs ~= false end
    local blob = string.gsub(c[4], '%.part$', '')
    return has(blobs, blob)
  elseif c[1] == 'items' and (#c == 2 or #c == 3) then
    local it = item_info(c[2])
    if #c == 2 or it == false then return it ~= false end
    if has(it.published, c[3]) then return true end
    return it.lock_sid ~= false and has(active_session_blobs(it.lock_sid), c[3])
  end
  return true
end

local out = {'OK'}
if count < 1 then return out end
for path in string.gmatch(joined .. '\n', '([^\n]*)\n') do
  if #out > count then break end
  out[#out + 1] = referenced(path) and '1' or '0'
end
while #out <= count do out[#out + 1] = '1' end
return out
