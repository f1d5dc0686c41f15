"""A logging filter that keeps callback tokens out of log lines naming a request path
(`/api/v1/callbacks/<token>`): Django logs the path of every 4xx and 5xx reply."""
import logging
import re

CALLBACK_PATH = re.compile(r"(/api/v1/callbacks/)[^/\s\"'?]+")
REDACTED = r"\1[redacted]"


class RedactCallbackTokens(logging.Filter):
    """Rewrite the record's message with the token of any callback path replaced; never drop it."""

    def filter(self, record):
        message = record.getMessage()
        redacted = CALLBACK_PATH.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
