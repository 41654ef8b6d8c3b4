"""The operator's and leasing office's dashboard: server-rendered pages served by the app
(Jinja2 templates, one small plain script for live updates over the WebSocket), signed in
with the same API keys and scoped exactly like the API."""
