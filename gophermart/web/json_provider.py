"""JSON responses that write Decimals as plain number literals, never strings or floats."""

import simplejson
from flask.json.provider import DefaultJSONProvider


class DecimalJSONProvider(DefaultJSONProvider):
    def dumps(self, obj, **kwargs):
        kwargs.setdefault("use_decimal", True)
        kwargs.setdefault("ensure_ascii", False)
        kwargs.setdefault("separators", (",", ":"))
        kwargs.setdefault("default", self.default)
        return simplejson.dumps(obj, **kwargs)
