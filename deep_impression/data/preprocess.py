"""Preprocessing: the ChaLearn release (or the synthetic one) to a clip store.

Each clip's audio is resampled to 16 kHz mono and its video to 456x256 at
25 frames/s (paper §3; the decoding is :mod:`deep_impression.media`'s), and
both go into the :mod:`deep_impression.data.store` format with a manifest line.

* Parallel over processes (``jobs``), with a progress bar. A worker that
  dies (killed, e.g. when memory runs out) takes only its clip with it: the
  clip is tried once more in a new worker, then recorded as failed, and the
  run goes on.
* Resumable: a clip whose manifest line says ``ok`` for the same source file
  (path and size) and whose files are there is skipped. Labels are read
  from the annotation files on every run; a done clip whose labels or split
  changed gets a new manifest line, not a new decoding. Files are written
  under temporary names and renamed; the manifest line comes last, so a
  killed run leaves nothing a later run or the datasets take as good.
* A clip that cannot be used (truncated file, not a video, no audio or video
  track, under 1 s of audio as ``predict`` refuses) is recorded with its
  reason and the run goes on. A damaged clip that decodes (decoder errors,
  a track far shorter than the container says) is stored with a warning,
  or recorded as failed with ``strict``
  (:func:`deep_impression.media.check_decoded`, the policy ``predict``
  follows too). Clips without labels and labels without clips are reported
  too (``report.json``).
* A full disk stops the run with one line; running it again continues.
* Only regular files are read (a FIFO, a device or a dangling link named
  like a clip is recorded as failed, never opened), and entries of zip
  archives within bounds on their size and compression ratio
  (:class:`~deep_impression.data.chalearn.ArchiveLimits`; a zip bomb's
  entry is failed before anything of it is written).
* A clip labelled in two splits' annotation files is left out and
  recorded as failed, naming both files.
* One run at a time per store: a second one ends in one line naming the
  first (:func:`deep_impression.fileio.folder_lock`).
"""

import collections
import errno
import json
import multiprocessing
import multiprocessing.connection
import os
import struct
import sys
import time

from deep_impression.data import chalearn, store
from deep_impression import fileio, media
from deep_impression.constants import (FPS, FRAME_CHUNK, FRAME_HEIGHT,
                                       FRAME_WIDTH, SAMPLE_RATE, TRAITS)
from deep_impression.errors import DeepImpressionError, MediaError
from deep_impression.progress import progress

#: Tries of a clip whose worker process died.
ATTEMPTS = 2
#: errno values that mean the output disk is full.
DISK_FULL = (errno.ENOSPC, getattr(errno, 'EDQUOT', errno.ENOSPC))

_worker_options = {}


def _set_worker_options(options):
    _worker_options.clear()
    _worker_options.update(options)


def mp4_truncation(path):
    """Why an ISO base media (mp4) file looks cut short, or None.

    Walks the top-level boxes (4-byte big-endian size, 4-byte type; size 1
    means a 64-bit size follows, 0 means "to the end of the file"): a box
    that claims more bytes than the file has, or a file that starts like an
    mp4 (``ftyp``) but has no ``moov`` box, was truncated. Files that are
    not mp4 at all give None (ffmpeg judges those).
    """
    size = os.path.getsize(path)
    boxes = []
    with open(path, 'rb') as f:
        position = 0
        while position + 8 <= size:
            f.seek(position)
            head = f.read(16)
            length, kind = struct.unpack('>I4s', head[:8])
            if length == 1 and len(head) >= 16:
                length = struct.unpack('>Q', head[8:16])[0]
            elif length == 0:
                length = size - position
            if length < 8:
                break
            boxes.append(kind)
            if position + length > size:
                if boxes[0] != b'ftyp':
                    return None
                return ('truncated file (its {!r} box needs {} bytes, '
                        'the file ends after {})'.format(
                            kind.decode('latin1'), position + length, size))
            position += length
    if boxes and boxes[0] == b'ftyp' and b'moov' not in boxes:
        return 'truncated file (no moov box)'
    return None


def process_clip(task, options=None):
    """Preprocess one clip into the store; never raises for a bad clip.

    Args:
        task: dict with ``clip_id``, ``source``, ``source_bytes``, ``split``,
            ``labels`` (dict).
        options: dict with ``out_dir``, ``width``, ``height``, ``fps``,
            ``quality``, ``frame_transform``, ``strict`` (default: the
            worker's).

    Returns:
        the clip's manifest record (dict), with ``status`` ``'ok'`` or
        ``'failed'``, a ``reason`` and ``warnings`` (list of lines); a
        full disk is marked with ``errno``.
    """
    options = _worker_options if options is None else options
    out_dir = options['out_dir']
    record = failed_record(task)
    warnings = record['warnings']
    check = dict(strict=options.get('strict', False), warn=warnings.append)
    started = time.time()
    path, temporary = None, False
    try:
        path, temporary = chalearn.materialize(
            task['source'], os.path.join(out_dir, 'tmp'),
            options.get('archive_limits', chalearn.ARCHIVE_LIMITS))
        record['source_sha1'] = chalearn.sha1_of(path)
        _check_media(path, task['source'])
        audio = media.decode_audio(path, sample_rate=SAMPLE_RATE, **check)
        if audio.size == 0:
            raise MediaError('{}: empty audio track'.format(task['source']))
        media.check_clip_audio(task['source'], audio)
        jpegs, dropped, size = _encode_frames(path, task['source'], options,
                                              check)
        frames_bytes = store.write_frames(
            store.frames_path(out_dir, task['clip_id']), jpegs, *size)
        audio_bytes = store.write_audio(
            store.audio_path(out_dir, task['clip_id']), audio)
        record.update(status='ok', num_frames=len(jpegs),
                      frames_dropped=dropped, num_samples=int(audio.size),
                      width=size[0], height=size[1],
                      bytes=frames_bytes + audio_bytes)
    except DeepImpressionError as e:
        record['reason'] = str(e)
    except OSError as e:
        record['reason'] = '{}: {}'.format(task['source'], e)
        record['errno'] = e.errno
    except Exception as e:  # never let one clip stop the run
        record['reason'] = '{}: {}: {}'.format(task['source'],
                                               type(e).__name__, e)
    finally:
        if temporary and path and os.path.exists(path):
            os.remove(path)
    # The messages name the file as the worker saw it (a temporary copy
    # for a clip inside an archive); the record names its source.
    record['warnings'] = [w.replace(path, task['source']) if path else w
                          for w in warnings]
    record['seconds'] = round(time.time() - started, 3)
    return record


def _check_media(path, source):
    """Refuse an empty or truncated file, or one without a video or an
    audio track, naming ``source``."""
    if os.path.getsize(path) == 0:
        raise MediaError('{}: empty file'.format(source))
    truncated = mp4_truncation(path)
    if truncated:
        raise MediaError('{}: {}'.format(source, truncated))
    try:
        info = media.probe(path)
    except MediaError as e:
        raise MediaError('{}: not a video ffmpeg can read ({})'.format(
            source, str(e).split('(', 1)[-1].rstrip(')'))) from None
    if not info.has_video:
        raise MediaError('{}: no video track'.format(source))
    if not info.has_audio:
        raise MediaError('{}: no audio track'.format(source))


def _encode_frames(path, source, options, check):
    """The clip's frames at the store's size and rate, through the frame
    transform, as JPEG bytes.

    Returns:
        ``(jpegs, frames dropped by the transform, (width, height))``.
    """
    transform = options.get('frame_transform')
    jpegs, dropped, size = [], 0, None
    for chunk in media.iter_frames(path, width=options['width'],
                                   height=options['height'],
                                   fps=options['fps'], chunk=FRAME_CHUNK,
                                   **check):
        if transform is not None:
            chunk, n_dropped = transform(chunk)
            dropped += int(n_dropped)
        for frame in chunk:
            if size is None:
                size = (frame.shape[1], frame.shape[0])
            elif (frame.shape[1], frame.shape[0]) != size:
                raise DeepImpressionError(
                    '{}: frame transform gave frames of different sizes '
                    '({}x{} and {}x{})'.format(source, size[0], size[1],
                                               frame.shape[1],
                                               frame.shape[0]))
            jpegs.append(store.encode_frame(frame, options['quality']))
    if not jpegs:
        raise DeepImpressionError(
            '{}: no frames kept by the frame transform ({} dropped)'.format(
                source, dropped))
    return jpegs, dropped, size


def failed_record(task, reason=None):
    """A manifest record for ``task`` that failed (``reason`` a line)."""
    record = dict(task)
    record.update(status='failed', reason=reason, num_frames=0,
                  num_samples=0, frames_dropped=0, warnings=[])
    return record


def _worker(conn, options):
    _set_worker_options(options)
    while True:
        task = conn.recv()
        if task is None:
            return
        conn.send(process_clip(task))


def _give(busy, conn, process, task, tries):
    tries[task['clip_id']] += 1
    busy[conn] = (process, task)
    try:
        conn.send(task)
    except OSError:  # the worker is gone: wait() reports it
        pass


def _run_parallel(todo, options, jobs):
    """Yield the records of ``todo`` as ``jobs`` worker processes finish.

    Each worker holds one clip at a time, so a worker that dies (SIGKILL,
    out of memory) is known to have taken that clip: it is given to a new
    worker once more (:data:`ATTEMPTS`), then recorded as failed.
    """
    pending = collections.deque(todo)
    tries = collections.Counter()
    busy = {}   # connection -> (process, task)
    try:
        while pending or busy:
            while pending and len(busy) < jobs:
                conn, child = multiprocessing.Pipe()
                process = multiprocessing.Process(
                    target=_worker, args=(child, options), daemon=True)
                process.start()
                child.close()
                _give(busy, conn, process, pending.popleft(), tries)
            for conn in multiprocessing.connection.wait(list(busy)):
                process, task = busy.pop(conn)
                try:
                    yield conn.recv()
                except EOFError:
                    process.join()
                    conn.close()
                    if tries[task['clip_id']] < ATTEMPTS:
                        pending.append(task)
                    else:
                        yield failed_record(task, '{}: its worker process '
                                            'died {} times (exit status {}; '
                                            'killed, e.g. out of memory?)'
                                            .format(task['source'], ATTEMPTS,
                                                    process.exitcode))
                    continue
                if pending:
                    _give(busy, conn, process, pending.popleft(), tries)
                else:
                    conn.send(None)
                    process.join()
                    conn.close()
    finally:
        for process, _ in busy.values():
            process.terminate()
            process.join()


def _load_labels(found, limits):
    """The labels of the annotation files.

    Returns:
        ``({clip file name: (split, labels dict)}, annotated splits,
        {clip file name: reason line})``; the last holds the clips labelled
        in more than one split, left out of the first.
    """
    by_split, files = {}, {}
    for source in found['annotations']:
        split = chalearn.annotation_split(source)
        if split is None:
            continue
        table = chalearn.read_annotations(source, limits)
        merged = by_split.setdefault(split, {})
        for key, values in table.items():
            merged.setdefault(key, {}).update(values)
            for name in values:
                files.setdefault((split, name), source)
    labels, where = {}, collections.defaultdict(list)
    for split in chalearn.SPLITS:
        table = by_split.get(split)
        if not table:
            continue
        names = set.intersection(*(set(table[t]) for t in TRAITS))
        for name in names:
            values = {k: table[k][name] for k in chalearn.ANNOTATION_KEYS
                      if k in table and name in table[k]}
            labels[name] = (split, values)
            where[name].append((split, values))
    conflicts = {name: _label_conflict(name, found_in, files)
                 for name, found_in in where.items() if len(found_in) > 1}
    for name in conflicts:
        del labels[name]
    return labels, sorted(by_split), conflicts


def _label_conflict(name, found_in, files):
    """The line for a clip labelled in several splits: ``found_in`` is a
    list of ``(split, labels dict)``; ``files``, ``{(split, name):
    annotation file}``."""
    same = all(values == found_in[0][1] for _, values in found_in)
    return ('{}: labelled in {} with {} values; left out of the store, as a '
            'clip belongs to one split (correct the annotation files)'.format(
                name, ' and in '.join('{} ({})'.format(files[split, name],
                                                       split)
                                      for split, _ in found_in),
                'the same' if same else 'different'))


def _commit(manifest, records, record):
    # One write per line, flushed and synced: the line is the clip's commit.
    manifest.write(json.dumps(record, sort_keys=True) + '\n')
    manifest.flush()
    os.fsync(manifest.fileno())
    records[record['clip_id']] = record


def _write_records(out_dir, records, relabelled, results, bar):
    """Append ``relabelled`` and then each record of ``results`` to the
    manifest as it comes, then rewrite the manifest compactly; a full disk
    is one :class:`DeepImpressionError`."""
    done = 0
    try:
        with open(os.path.join(out_dir, store.MANIFEST), 'a',
                  encoding='utf-8') as manifest:
            for record in relabelled:
                _commit(manifest, records, record)
            for record in results:
                if record.get('errno') in DISK_FULL:
                    raise _disk_full(out_dir, os.strerror(record['errno']),
                                     done)
                _commit(manifest, records, record)
                done += 1
                bar.update(1)
        _compact_manifest(out_dir, records)
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        raise _disk_full(out_dir, e.strerror, done) from None


def _compact_manifest(out_dir, records):
    fileio.write_text(os.path.join(out_dir, store.MANIFEST), ''.join(
        json.dumps(records[clip_id], sort_keys=True) + '\n'
        for clip_id in sorted(records)))


def _clean_temporaries(out_dir):
    for folder in (os.path.join(out_dir, store.CLIP_DIR),
                   os.path.join(out_dir, 'tmp')):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if fileio.is_temporary(name) or folder.endswith('tmp'):
                os.remove(os.path.join(folder, name))


def _relabel(record, task):
    """``record`` with the split and labels the annotation files give now
    (None when they are unchanged)."""
    if (record.get('split'), record.get('labels')) == \
            (task['split'], task['labels']):
        return None
    record = dict(record)
    record.update(split=task['split'], labels=task['labels'])
    return record


def check_quality(quality):
    """``quality`` if it is a JPEG quality (1-100), else one line."""
    if isinstance(quality, bool) or not isinstance(quality, int) or \
            not 1 <= quality <= 100:
        raise DeepImpressionError(
            'quality: a JPEG quality from 1 to 100, got {!r}'.format(quality))
    return quality


def _disk_full(out_dir, e, done):
    return DeepImpressionError(
        '{}: disk full ({}) after {} clips; free some space and run the same '
        'command again to continue'.format(out_dir, e, done))


def _is_done(record, task, out_dir):
    return (record is not None and record.get('status') == 'ok'
            and record.get('source') == task['source']
            and record.get('source_bytes') == task['source_bytes']
            and os.path.exists(store.frames_path(out_dir, task['clip_id']))
            and os.path.exists(store.audio_path(out_dir, task['clip_id'])))


def preprocess(raw_dir, out_dir, jobs=1, frame_transform=None,
               quality=store.JPEG_QUALITY, width=FRAME_WIDTH,
               height=FRAME_HEIGHT, fps=FPS, show_progress=None,
               strict=False, archive_limits=chalearn.ARCHIVE_LIMITS):
    """Make (or complete) a clip store from a ChaLearn-format release.

    Args:
        raw_dir: folder with the clips (any depth, also inside .zip archives)
            and the annotation pickles.
        out_dir: store directory (created; an existing one is completed).
        jobs: worker processes.
        frame_transform: optional callable applied to each decoded chunk of
            frames: ``(k, H, W, 3) uint8 -> (frames_kept (m, h, w, 3) uint8,
            n_dropped)``, e.g. keeping only face crops. It must be a
            module-level function or a picklable object when ``jobs > 1``
            is used with a non-fork start method. Its name is recorded.
        quality: JPEG quality of the stored frames.
        width, height, fps: frame size (pixels) and rate of the store
            (456x256 at 25 frames/s as in the paper).
        show_progress: force the progress bar on/off (default: when
            standard error is a terminal).
        strict: a damaged clip that decodes is failed instead of stored
            with a warning.
        archive_limits: bounds on each zip entry
            (:class:`~deep_impression.data.chalearn.ArchiveLimits`).

    Returns:
        dict summary: ``processed``, ``skipped``, ``relabelled``, ``ok``,
        ``failed`` (list of ``(clip id, reason)``, clips labelled in two
        splits included), ``warnings`` (list of ``(clip id, line)``),
        ``unlabelled`` (clip ids), ``labels_without_clips`` (clip file
        names), ``duplicates``, ``bad_archives``.

    Raises:
        DeepImpressionError: ``raw_dir`` missing or without clips, an
            unreadable annotation file, a store made with other
            parameters or in use by another run, an output folder that
            cannot be written, a quality outside 1-100, or a full disk.
    """
    check_quality(quality)
    raw_dir, out_dir = os.path.abspath(raw_dir), os.fspath(out_dir)
    found = chalearn.scan(raw_dir, archive_limits)
    if not found['clips']:
        raise DeepImpressionError('{}: no .mp4 clips found (looked at any '
                                  'depth and inside .zip archives)'.format(
                                      raw_dir))
    labels = _load_labels(found, archive_limits)
    options = dict(
        out_dir=out_dir, width=width, height=height, fps=fps,
        quality=quality, frame_transform=frame_transform, strict=strict,
        archive_limits=archive_limits)
    # One run per store: another's start-up cleanup would delete this
    # one's temporary files, and both would append to the manifest.
    with fileio.folder_lock(out_dir, 'preprocess'):
        summary = _fill_store(raw_dir, found, labels, options, jobs,
                              show_progress)
        fileio.write_json(os.path.join(out_dir, store.REPORT), summary,
                          sort_keys=True)
    return summary


def _fill_store(raw_dir, found, labels, options, jobs, show_progress):
    """The part of :func:`preprocess` that writes the store (``labels``:
    the three things :func:`_load_labels` returns); returns the
    summary."""
    out_dir = options['out_dir']
    labels, annotated_splits, conflicts = labels
    _open_store_dir(out_dir, dict(
        format='deep-impression clip store', version=1,
        frame_size=[options['width'], options['height']],
        fps=options['fps'], sample_rate=SAMPLE_RATE,
        jpeg_quality=options['quality'], frame_transform=_transform_name(
            options['frame_transform']), traits=list(TRAITS)))
    records = store.read_manifest(out_dir)
    tasks, duplicates, unlabelled, seen, refused = _tasks(
        found, labels, annotated_splits, records, conflicts)
    todo, relabelled = [], []
    for t in tasks:
        if not _is_done(records.get(t['clip_id']), t, out_dir):
            todo.append(t)
            continue
        record = _relabel(records[t['clip_id']], t)
        if record is not None:
            relabelled.append(record)
    _run(todo, records, relabelled, out_dir, jobs, show_progress, options)

    current = {t['clip_id'] for t in tasks} | set(refused)
    found_names = {chalearn.clip_name(c) for c in seen}
    return dict(
        raw_dir=raw_dir, clips_found=len(found['clips']),
        processed=len(todo), skipped=len(tasks) - len(todo),
        relabelled=len(relabelled),
        warnings=sorted((k, w) for k, r in records.items() if k in current
                        and r.get('status') == 'ok'
                        for w in r.get('warnings') or ()),
        ok=sum(1 for k in current if records[k].get('status') == 'ok'),
        failed=sorted((k, r['reason']) for k, r in records.items()
                      if k in current and r.get('status') != 'ok'),
        unlabelled=sorted(unlabelled),
        labels_without_clips=sorted(n for n in set(labels) | set(conflicts)
                                    if n not in found_names),
        duplicates=duplicates, bad_archives=found['bad_archives'],
        annotation_files=found['annotations'])


def _transform_name(frame_transform):
    """``module.qualname`` of a frame transform (None for none)."""
    if frame_transform is None:
        return None
    name = getattr(frame_transform, '__qualname__',
                   type(frame_transform).__qualname__)
    return '{}.{}'.format(getattr(frame_transform, '__module__', ''), name)


def _open_store_dir(out_dir, params):
    """Create the store folder, or check that an existing store was made
    with the same ``params``; remove a killed run's temporaries."""
    fileio.ensure_dir(out_dir)
    os.makedirs(os.path.join(out_dir, store.CLIP_DIR), exist_ok=True)
    info_path = os.path.join(out_dir, store.STORE_INFO)
    if os.path.exists(info_path):
        with open(info_path) as f:
            old = json.load(f)
        changed = [k for k in params if old.get(k) != params[k]]
        if changed:
            raise DeepImpressionError(
                '{}: this store was made with other settings ({}); use '
                'another output folder'.format(out_dir, ', '.join(
                    '{}={}'.format(k, old.get(k)) for k in changed)))
    else:
        fileio.write_json(info_path, params, sort_keys=True)
    _clean_temporaries(out_dir)


def _tasks(found, labels, annotated_splits, records, conflicts):
    """One task per labelled clip of the scan; unlabelled clips, and clips
    labelled in two splits (``conflicts``: ``{clip file name: line}``), get
    a manifest record (in ``records``) saying so.

    Returns:
        ``(tasks, duplicates, unlabelled clip ids, {clip id: source},
        ids of the clips labelled in two splits)``.
    """
    tasks, duplicates, unlabelled, seen, refused = [], [], [], {}, []
    for source, size in found['clips']:
        name = os.path.basename(source.split(chalearn.ARCHIVE_SEP)[-1])
        clip_id = chalearn.clip_id(name)
        if clip_id in seen:
            duplicates.append((clip_id, source, seen[clip_id]))
            continue
        seen[clip_id] = source
        if name in conflicts:
            refused.append(clip_id)
            records[clip_id] = failed_record(dict(
                clip_id=clip_id, source=source, source_bytes=size,
                split=None, labels=None), conflicts[name])
            continue
        if name not in labels:
            unlabelled.append(clip_id)
            records[clip_id] = dict(
                clip_id=clip_id, source=source, source_bytes=size,
                split=chalearn.path_split(source), labels=None,
                status='unlabelled', reason='{}: no labels in {}'.format(
                    source, ', '.join(chalearn.ANNOTATION_FILES[s]
                                      for s in annotated_splits) or
                    'any annotation file (none found)'))
            continue
        split, values = labels[name]
        tasks.append(dict(clip_id=clip_id, source=source, source_bytes=size,
                          split=split, labels=values))
    return tasks, duplicates, unlabelled, seen, refused


def _run(todo, records, relabelled, out_dir, jobs, show_progress, options):
    """Process the clips of ``todo`` (in ``jobs`` worker processes) with a
    progress bar, writing each record to the manifest as it comes."""
    bar = progress(total=len(todo), desc='preprocess', unit='clip',
                   disable=None if show_progress is None
                   else not show_progress)
    if jobs > 1 and len(todo) > 1:
        results = _run_parallel(todo, options, min(jobs, len(todo)))
    else:
        results = (process_clip(t, options) for t in todo)
    try:
        _write_records(out_dir, records, relabelled, results, bar)
    finally:
        results.close()
        bar.close()
    _clean_temporaries(out_dir)


def print_summary(summary, file=None):
    """Human-readable lines about a :func:`preprocess` run (standard error
    unless ``file`` is given)."""
    file = sys.stderr if file is None else file
    print('{ok} clips in the store ({processed} processed now, {skipped} '
          'already done, {relabelled} with new labels), {n} failed'.format(
              n=len(summary['failed']), **summary), file=file)
    for what, items in (('failed', summary['failed']),
                        ('stored with a warning', summary['warnings']),
                        ('without labels', summary['unlabelled']),
                        ('labels without a clip',
                         summary['labels_without_clips']),
                        ('duplicate clips', summary['duplicates']),
                        ('unreadable archives', summary['bad_archives'])):
        if not items:
            continue
        print('{} {}:'.format(len(items), what), file=file)
        for item in items[:10]:
            if isinstance(item, (list, tuple)):
                item = ': '.join(str(x) for x in item)
            print('  {}'.format(item), file=file)
        if len(items) > 10:
            print('  ... ({} more in report.json)'.format(len(items) - 10),
                  file=file)
