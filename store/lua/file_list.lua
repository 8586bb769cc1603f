-- file_list.lua: the session's file records and the item's files (store/files.c overlays them).
-- KEYS[2..7] and ARGV[3..10] as session_lib's file_ctx; ARGV[11] '1' to require ACTIVE
-- (validate), 'S' to require ACTIVE and leave the item's files out (complete links only the
-- session's: its cost is then that of the session's files, however many the item has).
-- Activity when ACTIVE. A transfer whose lease lapsed reads as its lapsed state.
-- Answer: {'OK', n, session name, record, ... (n pairs), item name, item file, ...} |
-- {'NOT_FOUND'} | {'STATE_CHANGED', state}.
local c = file_ctx(2, 3, user, operator)
local own = ARGV[11] == 'S'
local refused, state = file_session_check(c, (own or ARGV[11] == '1') and 'active' or 'any', now,
                                          true)
if refused then return refused end
if state == 'ACTIVE' then file_touch(c, now) end
local s = redis.call('HGETALL', c.files)
local out = {'OK', #s / 2}
for i = 1, #s, 2 do
  out[#out + 1] = s[i]
  out[#out + 1] = file_view(c, s[i + 1], now)
end
if own then return out end
local it = redis.call('HGETALL', c.itemfiles)
for i = 1, #it do out[#out + 1] = it[i] end
return out
