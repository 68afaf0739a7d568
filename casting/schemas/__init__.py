"""The contract's validation table and answer shapes, as pydantic models (the OpenAPI document is generated
from them): `text` (the Unicode rules of every text field), `values` (integers, dates, instants, ids),
`bodies` (requests), `queries` (lists and history filters), `responses` (what answers carry), `examples`."""
