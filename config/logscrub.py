"""Secrets given in query strings (?token=CRON_SECRET) never reach a log line.

Used by the console log handler (runserver's request lines included) and by
deploy/gunicorn.conf.py's access log; deploy/nginx-wattledger.conf scrubs its own with a map.
"""

import logging
import re

SECRET_PARAM = re.compile(r"(?i)([?&](?:token|secret|password|api_key)=)[^&\s\"]*")


def scrub_secrets(text: str) -> str:
    return SECRET_PARAM.sub(r"\1[scrubbed]", text)


class ScrubSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_secrets(message)
        if scrubbed != message:
            # Formatted here once: the arguments may hold the secret too.
            record.msg, record.args = scrubbed, ()
        return True
