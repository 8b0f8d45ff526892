"""DRF's JSON parser, with one more refusal: JSON nested deeper than Python can read is a 400.

`[[[[...]]]]` 50,000 levels deep fits in a small body, and Python's json module
gives up on it with a RecursionError, which DRF does not expect (a 500). DRF's
parser already refuses NaN and Infinity (STRICT_JSON); too deep is just as bad input.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
