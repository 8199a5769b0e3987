-- Operations of today's Easemob REST API, added to the shared harness's rest.lua (whose builders
-- are local to it): bench/rest_core.sh inserts these lines before its `function request()`.
-- They use the harness's own helpers: post, get, apppath, user(i), peer(i).
builders.easemob.send_users = function(i)
  return post(apppath .. "/messages/users", string.format(
    '{"from":"%s","to":["%s"],"type":"txt","body":{"msg":"bench message %d"}}', peer(i), user(i), i))
end
builders.easemob.get_metadata = function(i)
  return get(apppath .. "/metadata/user/" .. user(i))
end
