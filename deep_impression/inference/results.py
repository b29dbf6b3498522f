"""Prediction records as a table, CSV or JSON file that a run can resume.

A record is what :func:`~deep_impression.inference.predict.predict_videos`
returns for a video that was predicted: ``video``, the five traits and the
provenance fields (:data:`~deep_impression.inference.predict.PROVENANCE`).
:class:`ResultsWriter` writes them:

* CSV: the header and the rows already there are rewritten atomically when
  the run starts (a row cut off by a crash is dropped), then each new row is
  appended and flushed to disk as soon as its video finishes, so an
  interrupted run keeps every finished row;
* JSON: one list, written atomically (:mod:`deep_impression.fileio`) when
  the run ends, also when it is interrupted (Ctrl-C);
* table: for reading, written at the end; it is never resumed.

CSV and JSON files that already hold records let a run skip the videos
they name, as long as they were made with the same weights, backend, frame
rate and frame limit.
"""

import csv
import io
import json
import os
import sys
import tempfile

from deep_impression import fileio
from deep_impression.constants import FPS, TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression.inference.predict import (PROVENANCE, iter_predictions,
                                               provenance)

#: Columns of the CSV file and keys of each JSON record, in order.
FIELDS = ('video',) + TRAITS + PROVENANCE

#: Formats by file name ending, for ``--output`` without ``--format``.
SUFFIXES = {'.csv': 'csv', '.json': 'json'}

#: Provenance that must match for a run to add to an existing file (the
#: package version may differ: the computation is the same).
SETTINGS = ('weights_sha256', 'backend', 'fps', 'max_frames', 'decode',
            'fit')

#: How CSV and table files are encoded. A file name that is not valid
#: UTF-8 (``caf\xe9.mp4`` from a Latin-1 system) reaches Python as
#: surrogates (:func:`os.fsdecode`); it is written back as its own bytes,
#: so its row names the very file and a resumed run reads the same name.
ENCODING = dict(encoding='utf-8', errors='surrogateescape')


def format_for(path, fmt=None):
    """``fmt`` if given, else the format ``path``'s ending implies
    (``.csv``, ``.json``), else ``'table'``."""
    if fmt is not None:
        return fmt
    if path is None:
        return 'table'
    return SUFFIXES.get(os.path.splitext(path)[1].lower(), 'table')


def cell(value):
    """A provenance value as CSV text: ``true``/``false``, ``25`` for 25.0
    frames/s, empty for ``None``. Read-back text compares equal to the
    value it was written from, so settings can be checked on resume."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return '{:g}'.format(value) if value.is_integer() else \
            '{:.6f}'.format(value).rstrip('0')
    return str(value)


def _json_record(record):
    out = {f: record.get(f) for f in FIELDS}
    out.update((t, round(float(record[t]), 6)) for t in TRAITS)
    return out


def format_table(records):
    """Records as an aligned text table: a row per video, a column per
    trait (four decimals)."""
    width = max([len('video')] + [len(r['video']) for r in records])
    lines = ['  '.join(['{:<{}}'.format('video', width)] +
                       ['{:>17}'.format(t) for t in TRAITS])]
    for r in records:
        lines.append('  '.join(['{:<{}}'.format(r['video'], width)] +
                               ['{:>17.4f}'.format(r[t]) for t in TRAITS]))
    return '\n'.join(lines) + '\n'


def format_records(records, fmt):
    """Records as the text of a whole table, JSON or CSV file."""
    if fmt == 'json':
        return json.dumps([_json_record(r) for r in records], indent=2) + '\n'
    if fmt == 'csv':
        return _csv_text([FIELDS] + [_csv_values(r) for r in records])
    return format_table(records)


def check_output(path):
    """Fail now, not after hours of work, if ``path`` cannot be written.

    Raises:
        DeepImpressionError: ``path`` is a folder, its folder does not
            exist, or no file can be created there.
    """
    if os.path.isdir(path):
        raise DeepImpressionError('{}: is a folder; --output takes a file '
                                  'name'.format(path))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DeepImpressionError('{}: no such folder {}'.format(path, folder))
    try:
        fd, probe = tempfile.mkstemp(prefix='.' + os.path.basename(path) +
                                     fileio.TEMPORARY_MARK, dir=folder)
    except OSError as e:
        raise DeepImpressionError('{}: cannot write there ({})'.format(
            path, e.strerror or e)) from None
    os.close(fd)
    os.remove(probe)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise DeepImpressionError('{}: not writable'.format(path))


def _parse_csv(text, path):
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = rows[0]
    if tuple(header[:1 + len(TRAITS)]) != FIELDS[:1 + len(TRAITS)]:
        raise DeepImpressionError(
            '{}: not a deep-impression CSV (its header is not video, {}); '
            'use --overwrite to replace it'.format(path, ', '.join(TRAITS)))
    records = []
    for row in rows[1:]:
        if len(row) != len(header):
            continue  # a row cut off by a crash: predict it again
        record = dict(zip(header, row))
        try:
            record.update((t, float(record[t])) for t in TRAITS)
        except ValueError:
            continue
        records.append(record)
    return records


def read_records(path, fmt):
    """Records already in a CSV or JSON results file (``[]`` if there is no
    such file). Rows cut off by a crash are left out.

    Raises:
        DeepImpressionError: the file is not a deep-impression results file
            of that format.
    """
    if not os.path.exists(path) or fmt not in ('csv', 'json'):
        return []
    with open(path, **ENCODING) as f:
        text = f.read()
    if fmt == 'csv':
        return _parse_csv(text, path)
    try:
        records = json.loads(text) if text.strip() else []
    except ValueError as e:
        raise DeepImpressionError('{}: not valid JSON ({}); use --overwrite '
                                  'to replace it'.format(path, e)) from None
    if not (isinstance(records, list) and
            all(isinstance(r, dict) and 'video' in r and
                all(isinstance(r.get(t), (int, float)) for t in TRAITS)
                for r in records)):
        raise DeepImpressionError(
            '{}: not a list of deep-impression records; use --overwrite to '
            'replace it'.format(path))
    return records


def check_settings(records, info, path):
    """Refuse to add to records made with other weights or settings.

    Args:
        records: records read back (values as text or JSON values).
        info: this run's provenance dict.
    """
    for record in records:
        for key in SETTINGS:
            if cell(record.get(key)) != cell(info[key]):
                raise DeepImpressionError(
                    '{}: holds results for {} made with {} {}, this run has '
                    '{}; use --overwrite or another --output'.format(
                        path, record['video'], key,
                        cell(record.get(key)) or 'unknown',
                        cell(info[key]) or 'none'))


class ResultsWriter(object):
    """Writes records to ``path`` (or standard output) as they come.

    Args:
        path: output file, or ``None`` for standard output.
        fmt: ``'csv'``, ``'json'`` or ``'table'``.
        overwrite: start afresh instead of keeping the records that a CSV
            or JSON ``path`` already holds.

    Raises:
        DeepImpressionError: ``path`` cannot be written or is not a results
            file of that format.
    """

    def __init__(self, path, fmt, overwrite=False):
        self.path, self.fmt = path, fmt
        self.records = []
        self._csv = None
        if path is not None:
            check_output(path)
            if not overwrite:
                self.records = read_records(path, fmt)

    @property
    def done(self):
        """Videos already in the file (normalised paths)."""
        return {os.path.normpath(r['video']) for r in self.records}

    def start(self, info):
        """Check the file's settings against this run's provenance and, for
        CSV, rewrite what it holds and open it for appending."""
        if self.path is not None:
            check_settings(self.records, info, self.path)
        if self.fmt != 'csv':
            return
        if self.path is None:
            self._csv = sys.stdout
            _write_stdout(format_records([], 'csv'))
            return
        _write_file(self.path, format_records(self.records, 'csv'))
        self._csv = open(self.path, 'a', **ENCODING)

    def add(self, record):
        """One predicted video; a CSV row is on disk when this returns."""
        self.records.append(record)
        if self._csv is None:
            return
        try:
            text = _csv_text([_csv_values(record)])
            if self._csv is sys.stdout:
                _write_stdout(text)
            else:
                self._csv.write(text)
            self._csv.flush()
            if self._csv is not sys.stdout:
                os.fsync(self._csv.fileno())
        except OSError as e:
            raise DeepImpressionError('{}: cannot write ({}); the rows '
                                      'before this one are kept'.format(
                                          self.path, e.strerror or e)) \
                from None

    def close(self):
        """Finish the file: close the CSV, or write the JSON or table
        (atomically) with every record so far."""
        if self._csv is not None:
            if self._csv is not sys.stdout:
                self._csv.close()
            self._csv = None
            return
        text = format_records(self.records, self.fmt)
        if self.path is None:
            _write_stdout(text)
        elif self.records or not os.path.exists(self.path):
            _write_file(self.path, text)


def _write_file(path, text):
    with fileio.atomic_open(path, 'w', **ENCODING) as f:
        f.write(text)


def _write_stdout(text):
    """Write to standard output; a file name that is not valid in its
    encoding is written as its own bytes (see :data:`ENCODING`)."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode(
            sys.stdout.encoding or 'utf-8', 'surrogateescape'))
        sys.stdout.buffer.flush()


def _csv_values(record):
    """One record's CSV cells; a record read back from a file keeps its
    text."""
    values = []
    for f in FIELDS:
        value = record.get(f)
        if not isinstance(value, str):
            value = ('{:.6f}'.format(value) if f in TRAITS else cell(value))
        values.append(value)
    return values


def _csv_text(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator='\n').writerows(rows)
    return out.getvalue()


def resume_predictions(writer, videos, model, backend=None, fps=FPS,
                       max_frames=None, decode='package', fit='stretch',
                       strict=False, show_progress=None):
    """Predict the videos that ``writer``'s file does not hold yet.

    The batch of ``deep-impression predict --output`` and of the web app's
    folder tab: the file's settings are checked against this run's
    provenance (:meth:`ResultsWriter.start`), the videos it already holds
    are skipped, and each video predicted is added to it as it finishes
    (:func:`~deep_impression.inference.predict.iter_predictions`). The
    caller closes ``writer``.

    Args:
        writer: a :class:`ResultsWriter`, not started.
        videos: video files (as :func:`~deep_impression.media.find_videos`
            gives them).
        model: as :func:`~deep_impression.inference.predict.predict_videos`,
            and so are ``backend``, ``fps``, ``max_frames``, ``decode``,
            ``fit``, ``strict`` and ``show_progress``.

    Returns:
        ``(todo, records)``: the videos still to predict, and an iterator
        over their records (a failed video's record has ``error`` and is
        not written).
    """
    writer.start(provenance(model, backend, fps, max_frames, decode=decode,
                            fit=fit))
    done = writer.done
    todo = [v for v in videos if v not in done]

    def records():
        for record in iter_predictions(todo, model, backend, fps, max_frames,
                                       show_progress=show_progress,
                                       decode=decode, fit=fit,
                                       strict=strict):
            if not record['error']:
                writer.add(record)
            yield record
    return todo, records()
