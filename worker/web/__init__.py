"""`planworker web`: the page where a lead, from a signed link, sees the actions routed to
them and reports progress (docs/web.md).

`links` signs and reads the links and `access` says which actions a recipient may update
(both pure); `views` reads the database and records; `app` is the Starlette application.
"""
