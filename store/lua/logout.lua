-- logout.lua: deletes the login the prelude just checked, and tells every instance's login
-- cache (store/logincache.c) to forget it: PUBLISH on ARGV[3] (P logouts) of ARGV[4] (the
-- login's hashed name), in the same atomic step: every instance forgets it within one message
-- delivery of the logout (an instance whose subscription is down uses no cache at all).
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'OK'}
