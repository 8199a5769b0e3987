"""The app API: `/api/v2/easemob/*` and `POST /api/v2/auth/login` (seed document 003; seed-wrappers.md §2).

It serves an app's own accounts ("app users", `services/app_users.py`): each maps to the IM
user whose username is the app user's id, with the IM password `im_pwd_hash`. Callers
authenticate with an HS256 JWT (`Authorization: Bearer …` or `?token=…`); without a valid one
the answer is 401 `{"message":"Unauthenticated."}`. Inputs are read as Laravel reads them: the
query string merged with a JSON body (the body wins).

Answers follow the original: 201 with `[]` or `{"message":[…]}`, 204 for deletes, 422
`{"message":"提交的信息验证错误","errors":{field:[…]}}` for validation failures with the
original's Chinese messages, 500 `{"message":[error_description]}` when Easemob refuses, 202
`{"message":["消息发送失败"],"im_group_id":…}` when an operation succeeded but its group notice
could not be sent. Easemob is reached through `EasemobApi` (this node or a remote Easemob);
app users and group faces are always kept on this node. The fixes of the original's flaws
are listed in docs/DECISIONS.md ("Seed APIs").

`face.py` is how the API meets the HTTP pipeline (its refusals, the JWT, the inputs),
`fields.py` its validation of input fields, `accounts.py` and `groups.py` its handlers, and
`routes.py` its route table.
"""
