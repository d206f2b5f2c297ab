"""Logging set-up: one JSON object per line, carrying the id of the request being served."""

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

from common.pii import PiiPolicy

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else passed through `extra=` is logged as a field.
# uvicorn adds a terminal-coloured copy of its message, which a JSON line does not need.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(
            {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class MaskingFormatter(logging.Formatter):
    """Another formatter's line with personal data masked (common.pii) and API keys cut to
    their public id, so no log line carries a phone number, an e-mail or a secret."""

    def __init__(self, inner: logging.Formatter, policy: PiiPolicy) -> None:
        super().__init__()
        self.inner = inner
        self.policy = policy

    def format(self, record: logging.LogRecord) -> str:
        line = _API_KEY_SECRET.sub(r"\1…", self.inner.format(record))
        return self.policy.mask("logs", line) or line


_API_KEY_SECRET = re.compile(r"(mdg_[A-Za-z0-9]+_)[A-Za-z0-9_-]+")


def configure_logging(
    level: str = "INFO", as_json: bool = True, pii: PiiPolicy | None = None
) -> None:
    """Route madoguchi's and uvicorn's logs to stderr in one format, masked by `pii`."""
    handler = logging.StreamHandler(sys.stderr)
    inner = (
        JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    handler.setFormatter(MaskingFormatter(inner, pii or PiiPolicy()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware logs every request with its id; uvicorn's access line would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
