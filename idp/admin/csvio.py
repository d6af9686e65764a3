"""Reading an uploaded CSV file strictly: UTF-8 (with or without the BOM Excel writes), a header
naming known columns, every row the header's width. Problems with the file as a whole are
:class:`CsvProblem`; problems of single rows are reported per line by the importers."""
from __future__ import annotations

import csv
import io
import re

MAX_BYTES = 1024 * 1024 - 4096  # under the application's request limit (MAX_CONTENT_LENGTH)
MAX_ROWS = 5000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CsvProblem(ValueError):
    def __init__(self, code: str, detail: str = "", columns: list[str] | None = None):
        super().__init__(code)
        self.code, self.detail, self.columns = code, detail, columns or []


def read(raw: bytes, *, required: tuple, optional: tuple) -> tuple[list[tuple[int, dict]], list[dict]]:
    """(line number, row) for every non-empty row, and per-line problems of shape."""
    if len(raw) > MAX_BYTES:
        raise CsvProblem("csv.too_large", f"at most {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvProblem("csv.encoding", f"byte {exc.start} is not UTF-8") from None
    if not text.strip():
        raise CsvProblem("csv.empty")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise CsvProblem("csv.duplicate_columns", columns=duplicates)
        missing = [c for c in required if c not in header]
        if missing:
            raise CsvProblem("csv.missing_columns", columns=missing)
        unknown = [c for c in header if c not in required and c not in optional]
        if unknown:
            raise CsvProblem("csv.unknown_columns", columns=unknown)
        rows, problems = [], []
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                raise CsvProblem("csv.too_many_rows", f"at most {MAX_ROWS} rows")
            if len(fields) != len(header):
                problems.append({"line": line, "errors": {"row": "row.fields"}})
            elif any(_CONTROL.search(f) for f in fields):
                problems.append({"line": line, "errors": {"row": "row.characters"}})
            else:
                rows.append((line, {name: value.strip() for name, value in zip(header, fields)}))
    except csv.Error as exc:
        raise CsvProblem("csv.malformed", f"line {reader.line_num}: {exc}") from None
    if not rows and not problems:
        raise CsvProblem("csv.no_rows")
    return rows, problems
