-- prelude.lua: prepended to every script except login.lua (store/redis.c joins the two texts
-- into one before SCRIPT LOAD). Authenticates and authorizes the caller in the same atomic step
-- as the operation. KEYS[1] = login key, ARGV[1] = login idle ms, ARGV[2] = "<required
-- privilege mask>/<operator privilege mask>/<alternative mask>" (decimal; a login holding the
-- alternative privileges, when not 0, qualifies too). A login from the instance's cache
-- comes as ARGV[1] = "u:<user>" and ARGV[2] with its privilege mask appended ("/<privs>").
-- Leaves `now` (Redis TIME, ms), `user` (the login's user) and `operator` (it holds an
-- operator privilege) to the body.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local user, privs
if string.sub(ARGV[1], 1, 2) == 'u:' then
  -- Authorized from the calling instance's login cache (store/logincache.c): who calls and
  -- what it holds come with the call ("u:<user>", privileges as the 4th number of ARGV[2]);
  -- the instance renews the login itself. The login must still exist: a login deleted by
  -- hand (an operator revoking it) is refused by every change at once.
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'UNAUTHENTICATED'} end
  user = string.sub(ARGV[1], 3)
  privs = tonumber(string.match(ARGV[2], '^%d+/%d+/%d+/(%d+)$')) or 0
else
  local login = redis.call('HMGET', KEYS[1], 'user', 'privs', 'last')
  user = login[1]
  if not user then return {'UNAUTHENTICATED'} end
  -- Use renews the idle timer and last_accessed_time at most once per `step` (1 s, less for
  -- tiny idle timeouts): two writes fewer on almost every request under load. The timer is
  -- set to idle + step, so a login never expires earlier than its idle timeout after its
  -- last use.
  local idle = tonumber(ARGV[1])
  local step = math.min(1000, math.floor(idle / 10))
  if now - (tonumber(login[3]) or 0) >= step then
    redis.call('PEXPIRE', KEYS[1], idle + step)
    redis.call('HSET', KEYS[1], 'last', now)
  end
  privs = tonumber(login[2]) or 0
end
local need, opmask, alt = string.match(ARGV[2], '^(%d+)/(%d+)/(%d+)')
need, alt = tonumber(need), tonumber(alt)
if bit.band(privs, need) ~= need and (alt == 0 or bit.band(privs, alt) ~= alt) then
  return {'UNAUTHORIZED'}
end
-- An operator (Sessions.TerminateSession) may read, cancel, fail and delete any update session
-- (session_lib's session_access); everyone else only their own.
local operator = bit.band(privs, tonumber(opmask)) ~= 0
