"""The staff's web page at `/`: `views` (the blueprint, `/dashboard/config.json` and development's
`POST /dev/token`), `static/` (plain ES modules and the stylesheet, no build step) and `templates/`."""
