"""The OpenAPI document: `tables` (statuses, headers, tags: the fixed parts), `document` (`@operation`, which
routes wear, and `build`, which walks the app's routes into the document). `casting.api.docs` serves it."""
