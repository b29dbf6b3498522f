"""Reading OpenFace 2.x output (``FeatureExtraction`` CSV files).

OpenFace writes one row per video frame. Its header pads names with a space
after each comma (``frame, face_id, timestamp, confidence, success, ...``);
this reader strips them. The columns used here:

* ``timestamp`` (seconds), ``success`` (1 when a face was tracked),
  ``confidence``;
* ``x_0 ... x_67``, ``y_0 ... y_67``: 2-D landmarks in pixels of the video
  OpenFace read;
* ``AU01_r ... AU45_r``: action-unit intensities (0-5) of the 17 AUs in
  :data:`AUS`.
"""

import collections
import csv
import os

import numpy

from deep_impression.errors import DeepImpressionError

#: The 17 action units whose intensity OpenFace 2.x estimates, as in Ventura
#: et al. (2017) §4.5 and Table 2. (The paper's list in the text also names
#: AU28, lip suck, for which OpenFace gives only presence, ``AU28_c``.)
AUS = ('AU01', 'AU02', 'AU04', 'AU05', 'AU06', 'AU07', 'AU09', 'AU10',
       'AU12', 'AU14', 'AU15', 'AU17', 'AU20', 'AU23', 'AU25', 'AU26',
       'AU45')

#: FACS names of :data:`AUS` (paper §4.5).
AU_NAMES = {
    'AU01': 'inner brow raiser', 'AU02': 'outer brow raiser',
    'AU04': 'brow lowerer', 'AU05': 'upper lid raiser',
    'AU06': 'cheek raiser', 'AU07': 'lid tightener',
    'AU09': 'nose wrinkler', 'AU10': 'upper lip raiser',
    'AU12': 'lip corner puller', 'AU14': 'dimpler',
    'AU15': 'lip corner depressor', 'AU17': 'chin raiser',
    'AU20': 'lip stretcher', 'AU23': 'lip tightener', 'AU25': 'lips part',
    'AU26': 'jaw drop', 'AU45': 'blink',
}

#: Landmarks in OpenFace's 68-point layout.
N_LANDMARKS = 68


class OpenFaceError(DeepImpressionError):
    """An OpenFace output file that cannot be used."""


OpenFaceTrack = collections.namedtuple('OpenFaceTrack', [
    'path', 'timestamp', 'success', 'confidence', 'landmarks', 'au'])
OpenFaceTrack.__doc__ = """One OpenFace CSV file.

``timestamp`` ``(n,)`` seconds; ``success`` ``(n,)`` bool; ``confidence``
``(n,)``; ``landmarks`` ``(n, 68, 2)`` (x, y) pixels or None when the file
has none; ``au`` ``(n, 17)`` intensities in :data:`AUS` order or None.
"""


def au_columns():
    return [au + '_r' for au in AUS]


def landmark_columns():
    return (['x_{}'.format(i) for i in range(N_LANDMARKS)] +
            ['y_{}'.format(i) for i in range(N_LANDMARKS)])


def _read_rows(path):
    """Non-blank rows of a CSV file: ``(header, data rows)``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise OpenFaceError('{}: no such OpenFace CSV file'.format(path))
    if os.path.isdir(path):
        raise OpenFaceError('{}: is a directory, not an OpenFace CSV file'
                            .format(path))
    try:
        with open(path, newline='', encoding='utf-8') as f:
            rows = list(csv.reader(f, skipinitialspace=True))
    except (UnicodeDecodeError, csv.Error) as e:
        raise OpenFaceError('{}: not a CSV text file ({})'.format(path, e)) \
            from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise OpenFaceError('{}: empty file, not an OpenFace CSV'.format(path))
    return [name.strip() for name in rows[0]], rows[1:]


def _check_columns(path, index, needed):
    missing = [name for name in needed if name not in index]
    if missing:
        raise OpenFaceError(
            '{}: not an OpenFace 2.x CSV: missing column(s) {}{}'.format(
                path, ', '.join(missing[:5]),
                ' and {} more'.format(len(missing) - 5)
                if len(missing) > 5 else ''))


def _numbers(path, header, rows, wanted):
    """``(len(rows), len(wanted))`` float64 values of the named columns,
    refusing a short row or a value that is not a finite number."""
    index = {name: i for i, name in enumerate(header)}
    cols = [index[c] for c in wanted]
    data = numpy.empty((len(rows), len(wanted)), numpy.float64)
    for r, row in enumerate(rows):
        if len(row) != len(header):
            raise OpenFaceError('{}, line {}: {} fields, the header has {}'
                                .format(path, r + 2, len(row), len(header)))
        for j, c in enumerate(cols):
            try:
                data[r, j] = float(row[c])
            except ValueError:
                raise OpenFaceError('{}, line {}, column {}: not a number: '
                                    '{!r}'.format(path, r + 2, wanted[j],
                                                  row[c])) from None
    bad = ~numpy.isfinite(data)
    if bad.any():
        r, j = numpy.argwhere(bad)[0]
        raise OpenFaceError('{}, line {}, column {}: not a finite number'
                            .format(path, r + 2, wanted[j]))
    return data


def read_csv(path, require_aus=False, require_landmarks=False):
    """Read one OpenFace 2.x CSV file.

    Args:
        path: the CSV file.
        require_aus: refuse a file without the 17 ``AUxx_r`` columns.
        require_landmarks: refuse a file without ``x_0 ... y_67``.

    Returns:
        :class:`OpenFaceTrack`.

    Raises:
        OpenFaceError: missing, empty or malformed file (naming the file,
            and the line and column of the first bad value).
    """
    path = os.fspath(path)
    header, rows = _read_rows(path)
    index = set(header)
    _check_columns(path, index, ['timestamp']
                   + (au_columns() if require_aus else [])
                   + (landmark_columns() if require_landmarks else []))
    if not rows:
        raise OpenFaceError('{}: header only, no frame rows'.format(path))
    has_aus = all(c in index for c in au_columns())
    has_landmarks = all(c in index for c in landmark_columns())
    wanted = (['timestamp'] + [c for c in ('success', 'confidence')
                               if c in index]
              + (au_columns() if has_aus else [])
              + (landmark_columns() if has_landmarks else []))
    data = _numbers(path, header, rows, wanted)
    col = {name: data[:, j] for j, name in enumerate(wanted)}
    n = len(data)
    success = (col['success'] > 0.5 if 'success' in col
               else numpy.ones(n, bool))
    confidence = col.get('confidence', numpy.ones(n))
    au = (numpy.stack([col[c] for c in au_columns()], axis=1)
          if has_aus else None)
    landmarks = None
    if has_landmarks:
        landmarks = numpy.stack([
            numpy.stack([col['{}_{}'.format(axis, i)]
                         for i in range(N_LANDMARKS)], axis=1)
            for axis in 'xy'], axis=2)
    return OpenFaceTrack(path, col['timestamp'], success, confidence,
                         landmarks, au)


def nearest_rows(track, times, max_gap=0.1):
    """Row of ``track`` nearest to each time (seconds), among tracked rows.

    Returns:
        ``(len(times),)`` int array; -1 where no successfully tracked row is
        within ``max_gap`` seconds.
    """
    times = numpy.asarray(times, numpy.float64)
    ok = numpy.flatnonzero(track.success)
    out = numpy.full(len(times), -1, dtype=int)
    if ok.size == 0:
        return out
    ts = track.timestamp[ok]
    order = numpy.argsort(ts)
    ts, ok = ts[order], ok[order]
    pos = numpy.clip(numpy.searchsorted(ts, times), 1, len(ts) - 1) \
        if len(ts) > 1 else numpy.zeros(len(times), int)
    if len(ts) > 1:
        left = pos - 1
        pick = numpy.where(numpy.abs(ts[left] - times) <=
                           numpy.abs(ts[pos] - times), left, pos)
    else:
        pick = pos
    close = numpy.abs(ts[pick] - times) <= max_gap
    out[close] = ok[pick[close]]
    return out


def find_csv(directory, clip_id):
    """The OpenFace CSV of a clip in ``directory``: ``<clip_id>.csv``, or
    with the clip id's video suffix dropped (``abc.003.mp4`` ->
    ``abc.003.csv``). None when there is none."""
    base = os.path.basename(clip_id)
    names = [base + '.csv']
    stem, ext = os.path.splitext(base)
    if ext.lower() in ('.mp4', '.avi', '.mov', '.mkv', '.webm'):
        names.append(stem + '.csv')
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None
