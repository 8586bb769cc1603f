-- login_check.lua: the prelude checked and touched the login (with no privilege required);
-- answers who it is and what it may do, for this instance's login cache (store/logincache.c),
-- which then authorizes requests in C. Answer: {'OK', user, privilege mask}.
return {'OK', user, tostring(privs)}
