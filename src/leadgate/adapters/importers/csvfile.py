"""Reading a CSV file as exported by CRMs and spreadsheets, with the line each row starts on.

Survives what real exports do: a UTF-8 byte order mark (Excel), CRLF or bare CR line
endings, a trailing comma on every line (an extra column without a header), cells with
quoted line breaks, and blank lines.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

from leadgate.services.errors import InvalidInput

_BOM = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class Record:
    """One row: the line of the file it starts on (the header is line 1) and its cells."""

    line: int
    cells: list[str]


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A file's header (stripped names; "" for a column without one) and its rows."""

    name: str
    header: tuple[str, ...]
    header_line: int
    records: list[Record]


def decode(data: bytes, *, name: str, encoding: str = "utf-8") -> str:
    """Given a file's bytes, return its text, or say which byte is wrong."""
    try:
        codec = codecs.lookup(encoding)
        codecs.getincrementaldecoder(encoding)  # only text encodings have one that decodes
    except (LookupError, ValueError, TypeError):
        raise InvalidInput(f"unknown encoding {encoding!r} (e.g. utf-8, cp1252, latin-1)") from None
    skipped = 0
    if data.startswith(_BOM) and codec.name in ("utf-8", "utf-8-sig"):
        data, skipped = data[len(_BOM) :], len(_BOM)
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InvalidInput(f"{encoding!r} is not a text encoding (e.g. utf-8, cp1252)") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{name}: not {encoding} text (byte {skipped + exc.start} is "
            f"0x{data[exc.start]:02x}); "
            "give the file's encoding, e.g. --encoding cp1252"
        ) from None
    except (UnicodeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not {encoding} text ({exc})") from None
    if "\x00" in text:
        # A CSV never holds NUL; a spreadsheet (.xlsx) or other binary file does.
        raise InvalidInput(f"{name}: not a CSV text file (it holds NUL bytes); export it as CSV")
    return text


def read_csv(data: bytes, *, name: str, encoding: str = "utf-8") -> CsvTable:
    """Given a CSV file's bytes, return its header and non-blank rows.

    Raises InvalidInput for a file that has no header, repeats a column name, or breaks
    the CSV syntax (an unclosed quote), naming the line.
    """
    text = decode(data, name=name, encoding=encoding)
    # newline="" hands line breaks to the csv module, which keeps those inside quotes.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: tuple[str, ...] | None = None
    header_line = 0
    records: list[Record] = []
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines and lines of bare commas
            if header is None:
                header, header_line = tuple(cell.strip() for cell in cells), line
            else:
                records.append(Record(line, cells))
    except csv.Error as exc:
        raise InvalidInput(f"{name}:{last_line + 1}: not valid CSV: {exc}") from None
    if header is None:
        raise InvalidInput(f"{name}: the file is empty (expected a header row, then one row each)")
    _check_header(header, name, header_line)
    return CsvTable(name, header, header_line, records)


def _check_header(header: tuple[str, ...], name: str, line: int) -> None:
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if not column:
            continue
        key = column.casefold()
        if key in seen:
            raise InvalidInput(
                f"{name}:{line}: columns {seen[key]} and {position} are both named {column!r}"
            )
        seen[key] = position
